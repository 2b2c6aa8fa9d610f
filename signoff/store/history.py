"""Reading the past: one approval's audit trail, and listings over a time window.

Approvals and audit events are indexed by month (`signoff.history`): a listing is one
Query per month it touches, each asking for what the page still lacks, with no filter,
so every item read is returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.codec import (
    AUDIT_PREFIX,
    META,
    approval_from_item,
    approval_pk,
    approvals_pk,
    event_from_item,
    event_key,
    events_pk,
    recorded_from_item,
    status_pk,
)
from signoff.history import KEY_CEILING, Page, approval_key, key_id, months
from signoff.model import Approval, AuditEvent, RecordedEvent, Status, iso
from signoff.schema import HISTORY_INDEX, STATUS_INDEX
from signoff.store.table import DynamoTable, deserialize, serialize


class DynamoHistory(DynamoTable):
    """The `HistoryReader` port on DynamoDB."""

    def audit(self, approval_id: str, since: datetime | None = None) -> list[AuditEvent]:
        """The approval's audit events in the order written (those at or after `since`)."""
        events: list[AuditEvent] = []
        low = f"{AUDIT_PREFIX}{iso(since)}" if since else AUDIT_PREFIX
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": serialize(
                {":pk": approval_pk(approval_id), ":low": low, ":high": f"{AUDIT_PREFIX}~"}
            ),
        }
        while True:
            response = self._call("query", **kwargs)
            events += [event_from_item(deserialize(raw)) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return events
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_history(
        self,
        status: Status | None,
        since: datetime,
        until: datetime,
        limit: int,
        after: str | None = None,
    ) -> Page[Approval]:
        """Approvals created in [since, until], newest first; one status or (None) all.

        One Query per month, newest month first.
        """
        buckets = months(since, until)
        if after is not None:
            buckets = [b for b in buckets if b <= after[:7]]
        found: list[Approval] = []
        for bucket in reversed(buckets):
            if status is None:
                index, key_name, key = HISTORY_INDEX, "hist_pk", approvals_pk(bucket)
            else:
                index, key_name, key = STATUS_INDEX, "status_pk", status_pk(status.value, bucket)
            start = None
            if after is not None and bucket == after[:7]:
                start = {
                    "pk": approval_pk(key_id(after)),
                    "sk": META,
                    key_name: key,
                    "hist_sk": after,
                }
            items = self._query_index(
                index, key_name, key, since, until, limit - len(found), start, newest_first=True
            )
            found += [approval_from_item(i) for i in items]
            if len(found) == limit:
                break
        return Page(
            items=tuple(found),
            after=approval_key(found[-1].created_at, found[-1].id) if len(found) == limit else None,
        )

    def audit_history(
        self, since: datetime, until: datetime, limit: int, after: str | None = None
    ) -> Page[RecordedEvent]:
        """Audit events of every approval in [since, until], oldest first, each with its
        approval's id: one Query per month, oldest month first."""
        buckets = months(since, until)
        if after is not None:
            buckets = [b for b in buckets if b >= after[:7]]
        found: list[RecordedEvent] = []
        last = None
        for bucket in buckets:
            start = event_key(after) if after is not None and bucket == after[:7] else None
            items = self._query_index(
                HISTORY_INDEX,
                "hist_pk",
                events_pk(bucket),
                since,
                until,
                limit - len(found),
                start,
                newest_first=False,
            )
            found += [recorded_from_item(item) for item in items]
            last = items[-1]["hist_sk"] if items else last
            if len(found) == limit:
                break
        return Page(items=tuple(found), after=last if len(found) == limit else None)

    def _query_index(
        self,
        index: str,
        key_name: str,
        key: str,
        since: datetime,
        until: datetime,
        limit: int,
        start: dict[str, Any] | None,
        *,
        newest_first: bool,
    ) -> list[dict[str, Any]]:
        """Up to `limit` items of one index partition with hist_sk in [since, until]."""
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#k = :k AND hist_sk BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": serialize(
                {":k": key, ":low": iso(since), ":high": iso(until) + KEY_CEILING}
            ),
            "ScanIndexForward": not newest_first,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = serialize(start)
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            # Limit caps the items DynamoDB reads, and with no filter each one read is returned.
            response = self._call("query", Limit=limit - len(items), **kwargs)
            items += [deserialize(raw) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items
