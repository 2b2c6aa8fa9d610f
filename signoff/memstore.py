"""The store's ports in memory, with the DynamoDB store's semantics, for fast tests.

The same three parts as `signoff.store` (approvals, history, claims) over one shared
state, under one lock. They pass the same contract tests as DynamoDB (tests/contract):
the same conditions on every write. Races are still proven on DynamoDB Local — this store
shows the rules, not the database's isolation.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from signoff.errors import ConflictError, NotFoundError
from signoff.history import Page, approval_key
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Notified,
    OnceClaim,
    PostClaim,
    RecordedEvent,
    SlackRef,
    Status,
    iso,
    past_deadline,
    utc,
)
from signoff.schema import pending_cursor

CHANGED = "the approval changed while it was being written"


class _Memory:
    """The state every part reads and writes: the in-memory table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._approvals: dict[str, Approval] = {}
        self._claims: dict[str, int] = {}
        # (id, key) → (claimed at, or None once released; done)
        self._once: dict[tuple[str, str], tuple[int | None, bool]] = {}
        self._tries: dict[tuple[str, str], int] = {}
        # id → (at as `iso` writes it, order written, event)
        self._audit: dict[str, list[tuple[str, int, AuditEvent]]] = {}
        self._seq = itertools.count()
        self._refs: set[tuple[str, str]] = set()  # (approval id, event ref) written

    def get(self, approval_id: str) -> Approval:
        with self._lock:
            return self._get(approval_id)

    def _get(self, approval_id: str) -> Approval:
        try:
            return self._approvals[approval_id]
        except KeyError:
            raise NotFoundError(f"no approval with id '{approval_id}'") from None

    def _append(self, approval_id: str, events: list[AuditEvent]) -> None:
        entries = self._audit.setdefault(approval_id, [])
        for event in events:
            if (approval_id, event.ref) in self._refs:
                continue  # written before (an answer was lost): kept once, as DynamoDB does
            self._refs.add((approval_id, event.ref))
            # The detail copied: a caller's dict changed later does not change the trail.
            kept = replace(event, detail=dict(event.detail))
            entries.append((iso(event.at), next(self._seq), kept))


class InMemoryRecords(_Memory):
    """The `ApprovalRecords` port in memory."""

    def create(self, approval: Approval, event: AuditEvent) -> bool:
        with self._lock:
            if approval.id in self._approvals:
                return False
            self._approvals[approval.id] = approval
            self._append(approval.id, [event])
            return True

    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]:
        with self._lock:
            pending = [
                a
                for a in self._approvals.values()
                if a.status is Status.PENDING and pending_cursor(a) > after
            ]
        pending.sort(key=pending_cursor)
        return pending[:limit]

    def commit(
        self,
        before: Approval,
        after: Approval,
        events: Iterable[AuditEvent],
        *,
        now: datetime,
        voter: str | None = None,
    ) -> None:
        with self._lock:
            stored = self._approvals.get(before.id)
            if (
                stored is None
                or stored.version != before.version
                or stored.status is not Status.PENDING
                or stored.doorbell != before.doorbell
            ):
                raise ConflictError(CHANGED)
            if voter is not None and (
                past_deadline(stored.expires_at, now)
                or any(v.user == voter for v in stored.votes)
                or voter not in stored.policy.approvers
            ):
                raise ConflictError(CHANGED)
            self._approvals[after.id] = replace(after, doorbell=stored.doorbell)
            self._append(after.id, list(events))

    def arm_doorbell(self, approval_id: str, callback_id: str) -> Approval:
        with self._lock:
            approval = replace(self._get(approval_id), doorbell=callback_id)
            self._approvals[approval_id] = approval
            return approval

    def record(
        self, approval_id: str, event: AuditEvent, expires_at: datetime | None = None
    ) -> None:
        with self._lock:
            self._append(approval_id, [event])


class InMemoryHistory(_Memory):
    """The `HistoryReader` port in memory."""

    def audit(self, approval_id: str, since: datetime | None = None) -> list[AuditEvent]:
        with self._lock:
            entries = sorted(self._audit.get(approval_id, []), key=lambda e: (e[0], e[1]))
        return [event for at, _, event in entries if since is None or at >= iso(since)]

    def list_history(
        self,
        status: Status | None,
        since: datetime,
        until: datetime,
        limit: int,
        after: str | None = None,
    ) -> Page[Approval]:
        low, high = iso(since), iso(until) + "#~"
        with self._lock:
            keyed = sorted(
                (
                    (approval_key(a.created_at, a.id), a)
                    for a in self._approvals.values()
                    if status is None or a.status is status
                ),
                reverse=True,
            )
        found = [
            (key, a) for key, a in keyed if low <= key <= high and (after is None or key < after)
        ][:limit]
        return Page(
            items=tuple(a for _, a in found),
            after=found[-1][0] if len(found) == limit else None,
        )

    def audit_history(
        self, since: datetime, until: datetime, limit: int, after: str | None = None
    ) -> Page[RecordedEvent]:
        low, high = iso(since), iso(until) + "#~"
        with self._lock:
            keyed = sorted(
                (
                    f"{at}#{approval_id}#{seq:08d}",
                    RecordedEvent(approval_id=approval_id, event=event),
                )
                for approval_id, entries in self._audit.items()
                for at, seq, event in entries
            )
        found = [
            (key, recorded)
            for key, recorded in keyed
            if low <= key <= high and (after is None or key > after)
        ][:limit]
        return Page(
            items=tuple(e for _, e in found),
            after=found[-1][0] if len(found) == limit else None,
        )


class InMemoryClaims(_Memory):
    """The `Claims` port in memory."""

    def claim_message(self, approval_id: str, now: datetime, lease: timedelta) -> PostClaim:
        now_epoch = int(utc(now).timestamp())
        with self._lock:
            approval = self._approvals.get(approval_id)
            if approval is None or approval.message is not None:
                return PostClaim.DENIED
            claimed = self._claims.get(approval_id)
            if claimed is not None and claimed >= now_epoch - int(lease.total_seconds()):
                return PostClaim.DENIED
            self._claims[approval_id] = now_epoch
            return PostClaim.FIRST if claimed is None else PostClaim.TAKEOVER

    def release_claim(self, approval_id: str) -> None:
        with self._lock:
            self._claims.pop(approval_id, None)

    def set_message(
        self, approval_id: str, ref: SlackRef, now: datetime, expires_at: datetime | None = None
    ) -> Approval:
        with self._lock:
            approval = self._approvals.get(approval_id)
            if approval is None or approval.message is not None:
                raise ConflictError(CHANGED)
            approval = replace(approval, message=ref, version=approval.version + 1)
            self._approvals[approval_id] = approval
            self._claims.pop(approval_id, None)
            notified = AuditEvent(
                kind=AuditKind.NOTIFIED,
                at=now,
                actor="signoff",
                detail=Notified(message=ref).detail(),
            )
            self._append(approval_id, [notified])
            return approval

    def claim_once(self, approval_id: str, key: str, now: datetime, lease: timedelta) -> OnceClaim:
        now_epoch = int(utc(now).timestamp())
        with self._lock:
            found = self._once.get((approval_id, key))
            if found is not None:
                claimed, done = found
                if done:
                    return OnceClaim.DONE
                if claimed is not None and claimed >= now_epoch - int(lease.total_seconds()):
                    return OnceClaim.BUSY
            self._once[(approval_id, key)] = (now_epoch, False)
            taken_over = found is not None and found[0] is not None
            return OnceClaim.TAKEOVER if taken_over else OnceClaim.FIRST

    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None:
        with self._lock:
            claimed, done = self._once.get((approval_id, key), (None, False))
            if done and event is not None:
                return  # finished before, with its event
            self._once[(approval_id, key)] = (claimed, True)
            if event is not None:
                self._append(approval_id, [event])

    def release_once(self, approval_id: str, key: str) -> None:
        with self._lock:
            found = self._once.get((approval_id, key))
            if found is not None and not found[1]:
                self._once[(approval_id, key)] = (None, False)

    def finished_once(self, approval_id: str) -> frozenset[str]:
        with self._lock:
            return frozenset(
                k for (a, k), (_, done) in self._once.items() if a == approval_id and done
            )

    def count_failure(self, approval_id: str, key: str, now: datetime) -> int:
        with self._lock:
            self._tries[(approval_id, key)] = self._tries.get((approval_id, key), 0) + 1
            return self._tries[(approval_id, key)]


class InMemoryApprovalStore(InMemoryRecords, InMemoryHistory, InMemoryClaims):
    """Every port over one in-memory table."""
