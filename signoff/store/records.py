"""The approvals themselves: create, read, commit a change, arm the doorbell, record an event.

The approval item is the single commit point. Every change is one TransactWriteItems: an
Update of the approval guarded by `version = :read_version AND status = pending` (plus the
deadline, "is an approver" and "has not voted yet" for a vote) and a Put of each of its
audit events. Two writers computed from the same version cannot both win.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from signoff.codec import (
    OPTIONAL_ATTRIBUTES,
    PENDING_KEY,
    approval_from_item,
    approval_to_item,
    event_to_item,
)
from signoff.errors import ConflictError, NotFoundError
from signoff.model import Approval, AuditEvent, Status, iso
from signoff.schema import PENDING_INDEX
from signoff.store.table import DynamoTable, deserialize, serialize


class DynamoRecords(DynamoTable):
    """The `ApprovalRecords` port on DynamoDB."""

    def create(self, approval: Approval, event: AuditEvent) -> bool:
        """Put the new approval once. False when it already exists (a replayed step)."""
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(approval_to_item(approval, self._retention)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *self._audit_puts(approval.id, [event], approval.expires_at),
                ]
            )
        except ConflictError:
            return False
        return True

    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]:
        """Pending approvals, soonest deadline first, read from the sparse index.

        `after` is a `pending_cursor` of the last approval of the previous page.
        """
        condition = "pending_pk = :p" + (" AND pending_sk > :after" if after else "")
        values = {":p": {"S": PENDING_KEY}, **({":after": {"S": after}} if after else {})}
        response = self._call(
            "query",
            IndexName=PENDING_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            Limit=limit,
        )
        return [approval_from_item(deserialize(i)) for i in response.get("Items", [])]

    def commit(
        self,
        before: Approval,
        after: Approval,
        events: Iterable[AuditEvent],
        *,
        now: datetime,
        voter: str | None = None,
    ) -> None:
        """Write `after` iff the stored approval is still `before` and still pending.

        For a vote, the condition also holds the deadline, "is an approver" and "has not
        voted", so the rules stand inside the write itself, not only in the read before it.
        An approval short of the quorum is committed the same way: the version guard makes
        each count of votes the one it was computed from.
        Raises ConflictError when another writer got there first.
        """
        # The doorbell as read, too: if the workflow armed a new one since, the writer
        # re-reads and rings the one the workflow is waiting on.
        condition = "version = :v AND #s = :pending AND " + (
            "doorbell = :bell" if before.doorbell else "attribute_not_exists(doorbell)"
        )
        values: dict[str, Any] = {":v": before.version, ":pending": Status.PENDING.value}
        if before.doorbell:
            values[":bell"] = before.doorbell
        names = {"#s": "status"}
        if voter is not None:
            # The deadline as `model.past_deadline` compares it: `iso` text keeps whole
            # milliseconds (truncated) at a fixed width, so it orders as `millis` does. Every
            # item ever written has `expires_at`, so no item needs rewriting for this.
            condition += (
                " AND expires_at > :now AND attribute_not_exists(votes.#voter)"
                " AND contains(approvers, :voter)"
            )
            values[":now"] = iso(now)
            values[":voter"] = voter
            names["#voter"] = voter
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._key(after.id),
                        "UpdateExpression": _update(after, self._retention, names, values),
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": serialize(values),
                    }
                },
                *self._audit_puts(after.id, list(events), after.expires_at),
            ]
        )

    def arm_doorbell(self, approval_id: str, callback_id: str) -> Approval:
        """Keep the workflow's callback id on the record; returns the approval as it stands."""
        try:
            response = self._call(
                "update_item",
                Key=self._key(approval_id),
                UpdateExpression="SET doorbell = :bell",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=serialize({":bell": callback_id}),
                ReturnValues="ALL_NEW",
            )
        except ConflictError:
            raise NotFoundError(f"no approval with id '{approval_id}'") from None
        return approval_from_item(deserialize(response["Attributes"]))

    def record(
        self, approval_id: str, event: AuditEvent, expires_at: datetime | None = None
    ) -> None:
        """Append one audit event that changes nothing else (a refused vote, a notice).

        The same event (its `ref`) written again is kept once. `expires_at` is the
        approval's deadline (its TTL follows from it); a caller that has not read the
        approval leaves it out and the store reads it (no approval: no expiry).
        """
        if expires_at is None:
            expires_at = self._deadline(approval_id)
        item = event_to_item(approval_id, event, 0, self._ttl(expires_at))
        # Conditional, so that writing the event again after a lost answer (botocore's
        # retry, or the caller's) keeps one item and says so.
        with contextlib.suppress(ConflictError):  # it was written by an earlier attempt
            self._call(
                "put_item", Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
            )


def _update(
    after: Approval, retention: timedelta, names: dict[str, str], values: dict[str, Any]
) -> str:
    """The UpdateExpression writing `after` whole (its names and values added to the
    maps): an update, not a Put of the whole item, so attributes the domain does not own
    (the notifier's post claim) survive the commit."""
    item = approval_to_item(after, retention)
    sets = []
    for n, (name, value) in enumerate(sorted(item.items())):
        if name in ("pk", "sk", "status"):
            continue
        names[f"#a{n}"] = name
        values[f":a{n}"] = value
        sets.append(f"#a{n} = :a{n}")
    values[":status"] = item["status"]
    sets.append("#s = :status")
    removes = [name for name in OPTIONAL_ATTRIBUTES if name not in item]
    for n, name in enumerate(removes):
        names[f"#r{n}"] = name
    expression = "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(f"#r{n}" for n in range(len(removes)))
    return expression
