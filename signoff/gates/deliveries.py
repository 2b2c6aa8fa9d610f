"""Webhook deliveries seen, one item each in the approvals table (a redelivery is ignored).

`first` is one conditional write: of two deliveries with the same id racing, one wins.
A delivery whose start failed is handed back (`forget`), so a redelivery may start it:
an update, not a delete (the Slack function's role has no DeleteItem).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from signoff.errors import BackendError
from signoff.schema import TTL_ATTRIBUTE


def _key(delivery_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"DELIVERY#{delivery_id}"}, "sk": {"S": "META"}}


class DynamoDeliveries:
    def __init__(
        self,
        client: Any,
        table: str,
        retention: timedelta,
        clock: Callable[[], datetime],
        source: str = "github",
    ):
        self._client = client
        self._table = table
        self._retention = retention
        self._clock = clock
        self._source = source

    def first(self, delivery_id: str) -> bool:
        now = self._clock()
        # Ours, so that a retried put whose first answer was lost (it wrote the item) is
        # still recognised as the first.
        claim = secrets.token_hex(8)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_key(delivery_id),
                    "source": {"S": self._source},
                    "claim": {"S": claim},
                    "at": {"S": now.isoformat()},
                    TTL_ATTRIBUTE: {"N": str(int((now + self._retention).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(pk) OR handed_back = :yes",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                held = exc.response.get("Item", {}).get("claim", {}).get("S")
                return bool(held == claim)
            raise BackendError(f"DynamoDB put_item failed: {exc}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"DynamoDB put_item failed: {exc}") from exc
        return True

    def forget(self, delivery_id: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(delivery_id),
                UpdateExpression="SET handed_back = :yes",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"DynamoDB update_item failed: {exc}") from exc


class MemoryDeliveries:
    """The same, in memory (fast tests)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, delivery_id: str) -> bool:
        with self._lock:
            if delivery_id in self._seen:
                return False
            self._seen.add(delivery_id)
            return True

    def forget(self, delivery_id: str) -> None:
        with self._lock:
            self._seen.discard(delivery_id)

    @property
    def seen(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._seen)
