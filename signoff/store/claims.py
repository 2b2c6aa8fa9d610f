"""Claims: who may do a side effect that must happen once (the Slack post, a reply, a DM).

SNS delivers at least once and the workflow replays, so the notifier claims each side
effect on the table before doing it: the post claim on the approval item itself (a
commit is an Update, so it survives a decision), every other one an item of its own under
the approval's partition (`ONCE#<key>`), and failed attempts counted (`TRIES#<key>`). The
rule that uses them is `signoff.claims.Once`.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from signoff.codec import approval_pk
from signoff.errors import ConflictError
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Notified,
    OnceClaim,
    PostClaim,
    SlackRef,
    iso,
    utc,
)
from signoff.schema import TTL_ATTRIBUTE
from signoff.store.table import DynamoTable, deserialize, failure, serialize

ONCE_PREFIX = "ONCE#"
TRIES_PREFIX = "TRIES#"  # failed attempts at one side effect, counted (count_failure)
# Once-claims outlive the approval's own retention by the longest timeout, so no claim is
# forgotten while its approval can still produce events.
_ONCE_RETENTION_EXTRA = timedelta(days=8)


class DynamoClaims(DynamoTable):
    """The `Claims` port on DynamoDB."""

    def claim_message(self, approval_id: str, now: datetime, lease: timedelta) -> PostClaim:
        """Claim the right to post the Slack message.

        A claim older than `lease` can be taken over, so a notifier that died between
        claim and post does not leave the request without a message forever.
        """
        now_epoch = int(utc(now).timestamp())
        try:
            response = self._call(
                "update_item",
                Key=self._key(approval_id),
                UpdateExpression="SET post_claim = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(message_ts) AND "
                    "(attribute_not_exists(post_claim) OR post_claim < :stale)"
                ),
                ExpressionAttributeValues=serialize(
                    {":now": now_epoch, ":stale": now_epoch - int(lease.total_seconds())}
                ),
                ReturnValues="UPDATED_OLD",
            )
        except ConflictError:
            return PostClaim.DENIED
        return (
            PostClaim.TAKEOVER
            if "post_claim" in response.get("Attributes", {})
            else PostClaim.FIRST
        )

    def release_claim(self, approval_id: str) -> None:
        with contextlib.suppress(ConflictError):  # no such approval: nothing to release
            self._call(
                "update_item",
                Key=self._key(approval_id),
                UpdateExpression="REMOVE post_claim",
                ConditionExpression="attribute_exists(pk)",
            )

    def set_message(
        self, approval_id: str, ref: SlackRef, now: datetime, expires_at: datetime | None = None
    ) -> Approval:
        """Keep the posted message's channel+ts and audit `notified`, in one transaction (a
        kill cannot keep one without the other); returns the approval as it now stands.

        TransactWriteItems returns no item, so the approval is read after it.
        """
        if expires_at is None:
            expires_at = self._deadline(approval_id)
        notified = AuditEvent(
            kind=AuditKind.NOTIFIED, at=now, actor="signoff", detail=Notified(message=ref).detail()
        )
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._key(approval_id),
                        "UpdateExpression": (
                            "SET message_channel = :c, message_ts = :ts, "
                            "version = version + :one REMOVE post_claim"
                        ),
                        "ConditionExpression": (
                            "attribute_exists(pk) AND attribute_not_exists(message_ts)"
                        ),
                        "ExpressionAttributeValues": serialize(
                            {":c": ref.channel, ":ts": ref.ts, ":one": 1}
                        ),
                    }
                },
                *self._audit_puts(approval_id, [notified], expires_at),
            ]
        )
        return self.get(approval_id)

    # -- once-only side effects (a thread reply, a DM): one item per key ------------------

    def claim_once(self, approval_id: str, key: str, now: datetime, lease: timedelta) -> OnceClaim:
        """Claim the right to do the one thing `key` names for this approval.

        One item under the approval's partition, written with a condition: the first
        caller gets FIRST; while the claim is live others get BUSY, once done DONE; a claim
        older than `lease` that was never finished (its holder died) can be taken over
        (TAKEOVER: the thing may or may not have happened). A released claim is FIRST again.
        """
        now_epoch = int(utc(now).timestamp())
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(approval_id, ONCE_PREFIX + key),
                UpdateExpression="SET claimed = :now, #ttl = :ttl",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND "
                    "(attribute_not_exists(claimed) OR claimed < :stale))"
                ),
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues=serialize(
                    {
                        ":now": now_epoch,
                        ":stale": now_epoch - int(lease.total_seconds()),
                        ":ttl": self._once_ttl(now),
                    }
                ),
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise failure(f"DynamoDB update_item failed: {exc}", exc) from exc
            held = exc.response.get("Item") or {}
            return OnceClaim.DONE if "done_at" in held else OnceClaim.BUSY
        except BotoCoreError as exc:
            raise failure(f"DynamoDB update_item failed: {exc}", exc) from exc
        return (
            OnceClaim.TAKEOVER if "claimed" in response.get("Attributes", {}) else OnceClaim.FIRST
        )

    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None:
        """Mark the claimed thing done: nobody claims `key` again, lease or not.

        With `event`, the mark and the audit event are one transaction, written once: a
        kill cannot leave one without the other, and finishing again writes no second event.
        """
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(approval_id, ONCE_PREFIX + key),
            "UpdateExpression": "SET done_at = :now, #ttl = if_not_exists(#ttl, :ttl)",
            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": serialize({":now": iso(now), ":ttl": self._once_ttl(now)}),
        }
        if event is None:
            self._call("update_item", **{k: v for k, v in update.items() if k != "TableName"})
            return
        update["ConditionExpression"] = "attribute_not_exists(done_at)"
        expires_at = self._deadline(approval_id)
        with contextlib.suppress(ConflictError):  # finished before, with its event
            self._transact(
                [{"Update": update}, *self._audit_puts(approval_id, [event], expires_at)]
            )

    def release_once(self, approval_id: str, key: str) -> None:
        """Give an unfinished claim back (the thing failed): the next caller gets FIRST.

        An update, not a delete: the notifier's role needs no DeleteItem."""
        with contextlib.suppress(ConflictError):
            self._call(
                "update_item",
                Key=self._key(approval_id, ONCE_PREFIX + key),
                UpdateExpression="REMOVE claimed",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(done_at)",
            )

    def finished_once(self, approval_id: str) -> frozenset[str]:
        """The keys of every once-only thing done (or given up for good) for the approval."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :once)",
            "ExpressionAttributeValues": serialize(
                {":pk": approval_pk(approval_id), ":once": ONCE_PREFIX}
            ),
            "ProjectionExpression": "sk, done_at",
            "ConsistentRead": True,
        }
        done: set[str] = set()
        while True:
            response = self._call("query", **kwargs)
            for raw in response.get("Items", []):
                item = deserialize(raw)
                if "done_at" in item:
                    done.add(str(item["sk"]).removeprefix(ONCE_PREFIX))
            if "LastEvaluatedKey" not in response:
                return frozenset(done)
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count_failure(self, approval_id: str, key: str, now: datetime) -> int:
        """Count one more failed attempt at `key`; returns how many there have been."""
        response = self._call(
            "update_item",
            Key=self._key(approval_id, TRIES_PREFIX + key),
            UpdateExpression="ADD tries :one SET #ttl = if_not_exists(#ttl, :ttl)",
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues=serialize({":one": 1, ":ttl": self._once_ttl(now)}),
            ReturnValues="UPDATED_NEW",
        )
        return int(deserialize(response["Attributes"])["tries"])

    def _once_ttl(self, now: datetime) -> int:
        return int((utc(now) + self._retention + _ONCE_RETENTION_EXTRA).timestamp())
