"""Each person's inbox: the pending requests their Home tab lists, one item per person,
request and role (asked for it, may still vote on it), so a Home tab costs what that
person's first requests cost — not the whole pending index, nor all of their own.

An inbox item is `pk = INBOX#<user>`, `sk = <approval id>#<role>`; while it holds it
carries `inbox_pk = <user>#<role>` and `inbox_sk = <deadline>#<id>`, which put it in the
sparse `inbox` index, soonest deadline first. The record's own transaction writes the
changes: a Put for each entry the request gains (kickoff, an escalation), an Update
removing the index keys for each entry it loses (the voter's own vote, the close). What
does not fit in that transaction (DynamoDB takes 100 items; a request may list up to 525
people) is written right after, in transactions of its own; readers check each request
they show (a consistent read), so an item left behind by a crash between the two shows
nothing that is not so, and kickoff's replayed step writes the items again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from signoff.errors import NotFoundError
from signoff.model import Approval, iso, utc
from signoff.schema import INBOX_INDEX, InboxRole, inbox_entries, pending_cursor
from signoff.store.table import DynamoTable, serialize

INBOX_PREFIX = "INBOX#"
TRANSACTION_LIMIT = 100  # items in one TransactWriteItems


class DynamoInbox(DynamoTable):
    """The per-person inbox over the one table (a part of `DynamoRecords`)."""

    def inbox(self, user: str, role: InboxRole, now: datetime, limit: int = 1000) -> list[Approval]:
        """The first `limit` pending requests in `user`'s inbox for `role`, soonest deadline
        first, each read as it stands (one that no longer lists `user` so is left out)."""
        found: list[Approval] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            page = self._inbox_query(
                user, role, now, Limit=min(100, limit - len(found)), start=start
            )
            for item in page.get("Items", []):
                approval = self._listed(item["approval_id"]["S"], user, role)
                if approval is not None:
                    found.append(approval)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return found

    def inbox_count(self, user: str, role: InboxRole, now: datetime) -> int:
        """How many requests `user`'s inbox holds for `role` (index keys only, no records)."""
        total, start = 0, None
        while True:
            page = self._inbox_query(user, role, now, Select="COUNT", start=start)
            total += int(page.get("Count", 0))
            start = page.get("LastEvaluatedKey")
            if not start:
                return total

    def _inbox_query(
        self, user: str, role: InboxRole, now: datetime, start: Any = None, **more: Any
    ) -> Any:
        return self._call(
            "query",
            IndexName=INBOX_INDEX,
            KeyConditionExpression="inbox_pk = :u AND inbox_sk > :now",
            ExpressionAttributeValues=serialize({":u": f"{user}#{role}", ":now": iso(utc(now))}),
            **({"ExclusiveStartKey": start} if start else {}),
            **more,
        )

    def _listed(self, approval_id: str, user: str, role: InboxRole) -> Approval | None:
        try:
            approval = self.get(approval_id)
        except NotFoundError:  # deleted by its TTL, its inbox item not yet
            return None
        return approval if (user, role) in inbox_entries(approval) else None

    def _inbox_changes(self, before: Approval | None, after: Approval) -> list[dict[str, Any]]:
        """Transaction items bringing the inbox from `before` (None: a new request) to `after`."""
        old, new = inbox_entries(before), inbox_entries(after)
        ttl = self._ttl(after.expires_at)
        changes: list[dict[str, Any]] = []
        for user, role in sorted(new - old):
            item: dict[str, Any] = {
                "pk": f"{INBOX_PREFIX}{user}",
                "sk": f"{after.id}#{role}",
                "approval_id": after.id,
                "inbox_pk": f"{user}#{role}",
                "inbox_sk": pending_cursor(after),
            }
            if ttl is not None:
                item["ttl"] = ttl
            changes.append({"Put": {"TableName": self._table, "Item": serialize(item)}})
        for user, role in sorted(old - new):
            key = {"pk": f"{INBOX_PREFIX}{user}", "sk": f"{after.id}#{role}"}
            changes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": serialize(key),
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
