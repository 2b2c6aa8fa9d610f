"""Each person's inbox: the pending requests their Home tab lists, one item per person and
request, so a Home tab costs what that person's requests cost (not the whole pending index).

An inbox item is `pk = INBOX#<user>`, `sk = <approval id>`; while the request is pending it
carries `inbox_pk = <user>` and `inbox_sk = <deadline>#<id>`, which put it in the sparse
`inbox` index (soonest deadline first). The record's own transaction writes the changes:
a Put for each person the request newly lists (kickoff, an escalation), an Update removing
the index keys for each person once it closes. What does not fit in that transaction
(DynamoDB takes 100 items; a request may list up to 525 people) is written right after, in
transactions of its own; the readers check each request they are shown (a consistent read),
so an item left behind by a crash between the two shows nothing that is not pending, and
kickoff's replayed step writes the items again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from signoff.errors import NotFoundError
from signoff.model import Approval, Status, iso, utc
from signoff.schema import INBOX_INDEX, inbox_people, pending_cursor
from signoff.store.table import DynamoTable, serialize

INBOX_PREFIX = "INBOX#"
TRANSACTION_LIMIT = 100  # items in one TransactWriteItems


class DynamoInbox(DynamoTable):
    """The per-person inbox over the one table (a part of `DynamoRecords`)."""

    def inbox(self, user: str, now: datetime, limit: int = 1000) -> list[Approval]:
        """The pending requests that list `user`, soonest deadline first, as they stand.

        One Query of `user`'s own index partition (deadlines still ahead) and a consistent
        read of each request found: what `user` has, not what everyone has.
        """
        found: list[Approval] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            page = self._call(
                "query",
                IndexName=INBOX_INDEX,
                KeyConditionExpression="inbox_pk = :u AND inbox_sk > :now",
                ExpressionAttributeValues=serialize({":u": user, ":now": iso(utc(now))}),
                Limit=min(100, limit - len(found)),
                **({"ExclusiveStartKey": start} if start else {}),
            )
            for item in page.get("Items", []):
                approval = self._still_pending(item["approval_id"]["S"])
                if approval is not None and user in inbox_people(approval):
                    found.append(approval)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return found

    def _still_pending(self, approval_id: str) -> Approval | None:
        try:
            approval = self.get(approval_id)
        except NotFoundError:  # deleted by its TTL, its inbox item not yet
            return None
        return approval if approval.status is Status.PENDING else None

    def _inbox_changes(self, before: Approval | None, after: Approval) -> list[dict[str, Any]]:
        """Transaction items bringing the inbox from `before` (None: a new request) to `after`."""
        old, new = inbox_people(before), inbox_people(after)
        ttl = self._ttl(after.expires_at)
        changes: list[dict[str, Any]] = []
        for user in sorted(new - old):
            item: dict[str, Any] = {
                "pk": f"{INBOX_PREFIX}{user}",
                "sk": after.id,
                "approval_id": after.id,
                "inbox_pk": user,
                "inbox_sk": pending_cursor(after),
            }
            if ttl is not None:
                item["ttl"] = ttl
            changes.append({"Put": {"TableName": self._table, "Item": serialize(item)}})
        for user in sorted(old - new):
            changes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": serialize({"pk": f"{INBOX_PREFIX}{user}", "sk": after.id}),
                        # Out of the index, not deleted: the functions may update, not delete.
                        "UpdateExpression": "REMOVE inbox_pk, inbox_sk",
                    }
                }
            )
        return changes

    def _with_inbox(
        self, record: list[dict[str, Any]], before: Approval | None, after: Approval
    ) -> Iterator[list[dict[str, Any]]]:
        """The record's transaction with as many inbox changes as fit, then the rest in
        transactions of their own (written after the first succeeds)."""
        changes = self._inbox_changes(before, after)
        room = TRANSACTION_LIMIT - len(record)
        yield record + changes[:room]
        rest = changes[room:]
        for start in range(0, len(rest), TRANSACTION_LIMIT):
            yield rest[start : start + TRANSACTION_LIMIT]
