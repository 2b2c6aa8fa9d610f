"""What every part of the DynamoDB store shares: the client, the table, error mapping."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from signoff.codec import META, approval_from_item, approval_pk, event_to_item, expiry
from signoff.errors import BackendError, ConflictError, NotFoundError, UnansweredError
from signoff.model import Approval, AuditEvent, parse_iso

_ser = TypeSerializer()
_de = TypeDeserializer()
CHANGED = "the approval changed while it was being written"


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


class DynamoTable:
    """One DynamoDB table, through a boto3 DynamoDB *client*. `retention`: how long an
    approval's items are kept after its deadline (their TTL)."""

    def __init__(self, client: Any, table: str, retention: timedelta = timedelta(days=90)):
        self._client = client
        self._table = table
        self._retention = retention

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConflictError(CHANGED) from exc
            raise failure(f"DynamoDB {operation} failed: {exc}", exc) from exc
        except BotoCoreError as exc:
            raise failure(f"DynamoDB {operation} failed: {exc}", exc) from exc

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            error = exc.response["Error"]
            if error["Code"] == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    raise ConflictError(CHANGED) from exc
            raise failure(f"DynamoDB transaction failed: {exc}", exc) from exc
        except BotoCoreError as exc:
            raise failure(f"DynamoDB transaction failed: {exc}", exc) from exc

    def get(self, approval_id: str) -> Approval:
        """The approval as it stands (a consistent read); NotFoundError when there is none."""
        response = self._call("get_item", Key=self._key(approval_id), ConsistentRead=True)
        if "Item" not in response:
            raise NotFoundError(f"no approval with id '{approval_id}'")
        return approval_from_item(deserialize(response["Item"]))

    def _key(self, approval_id: str, sk: str = META) -> dict[str, Any]:
        return serialize({"pk": approval_pk(approval_id), "sk": sk})

    def _ttl(self, expires_at: datetime | None) -> int | None:
        """The TTL of an approval's items (None: no approval to follow, kept until deleted)."""
        return None if expires_at is None else expiry(expires_at, self._retention)

    def _audit_puts(
        self, approval_id: str, events: list[AuditEvent], expires_at: datetime | None
    ) -> list[dict[str, Any]]:
        """Transaction items writing `events`, each once (a second write of the same event
        finds it written and fails the condition)."""
        ttl = self._ttl(expires_at)
        return [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": serialize(event_to_item(approval_id, event, seq, ttl)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for seq, event in enumerate(events)
        ]

    def _deadline(self, approval_id: str) -> datetime | None:
        """The approval's deadline (what its items' TTL follows from), or None."""
        response = self._call(
            "get_item", Key=self._key(approval_id), ProjectionExpression="expires_at"
        )
        if "Item" not in response:
            return None
        return parse_iso(deserialize(response["Item"])["expires_at"])


def failure(message: str, exc: Exception) -> BackendError:
    """A failed call: UnansweredError when it was sent and may have been carried out (the
    answer timed out or was cut off, or DynamoDB answered 5xx), else BackendError (refused,
    throttled, or never sent)."""
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError | ResponseStreamingError):
        return UnansweredError(message)
    if (
        isinstance(exc, ClientError)
        and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    ):
        return UnansweredError(message)
    return BackendError(message)
