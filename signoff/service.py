"""Use cases over the store: the same rules for a Slack click, the CLI and the workflow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from signoff.errors import AlreadyRecordedError, ConflictError, RefusedError
from signoff.model import Approval, AuditEvent, AuditKind, Decision, StartRequest, utc

Clock = Callable[[], datetime]

MAX_ATTEMPTS = 8


def system_clock() -> datetime:
    return datetime.now(UTC)


class ApprovalStore(Protocol):
    def create(self, approval: Approval, event: AuditEvent) -> bool: ...
    def get(self, approval_id: str) -> Approval: ...
    def list_pending(self, limit: int = 100) -> list[Approval]: ...
    def audit(self, approval_id: str) -> list[dict[str, Any]]: ...
    def commit(
        self,
        before: Approval,
        after: Approval,
        events: Any,
        *,
        now: datetime,
        voter: str | None = None,
    ) -> None: ...
    def record(self, approval_id: str, event: AuditEvent) -> None: ...


class Approvals:
    def __init__(
        self, store: ApprovalStore, clock: Clock = system_clock, default_channel: str = "approvals"
    ):
        self.store = store
        self.clock = clock
        self.default_channel = default_channel

    def open(self, request: StartRequest, execution_id: str = "") -> Approval:
        """Create the record once; a second call returns the stored one unchanged."""
        approval, event = Approval.open(request, self.clock(), self.default_channel)
        if execution_id:
            approval = replace(approval, execution_id=execution_id)
        self.store.create(approval, event)
        return self.store.get(request.id)

    def get(self, approval_id: str) -> Approval:
        return self.store.get(approval_id)

    def list_pending(self, limit: int = 100) -> list[Approval]:
        return self.store.list_pending(limit)

    def audit(self, approval_id: str) -> list[dict[str, Any]]:
        return self.store.audit(approval_id)

    def check_vote(self, approval_id: str, user: str) -> Approval:
        """Raise RefusedError (and audit it) if `user` may not vote now."""
        approval = self.store.get(approval_id)
        refusal = approval.vote_refusal(user, self.clock())
        if refusal:
            self._refused(approval_id, user, refusal)
            raise RefusedError(refusal)
        return approval

    def decide(self, approval_id: str, user: str, decision: Decision, reason: str = "") -> Approval:
        """One vote through one conditional write; RefusedError says why not."""
        for _ in range(MAX_ATTEMPTS):
            before = self.store.get(approval_id)
            now = self.clock()
            if any(v.user == user and v.decision is decision for v in before.votes):
                # A retried click (Slack redelivers) or a repeated command: it already stands.
                raise AlreadyRecordedError(f"your {decision.value} is already recorded")
            try:
                after, events = before.vote(user, decision, now, reason)
            except RefusedError as exc:
                self._refused(approval_id, user, str(exc))
                raise
            try:
                self.store.commit(before, after, events, now=now, voter=user)
            except ConflictError:
                continue  # someone else wrote first: re-read and apply the rules again
            return after
        raise ConflictError("the approval kept changing; try again")

    def cancel(self, approval_id: str, user: str, reason: str = "") -> Approval:
        for _ in range(MAX_ATTEMPTS):
            before = self.store.get(approval_id)
            now = self.clock()
            after, events = before.cancel(user, now, reason)
            try:
                self.store.commit(before, after, events, now=now)
            except ConflictError:
                continue
            return after
        raise ConflictError("the approval kept changing; try again")

    def expire_if_due(self, approval_id: str) -> Approval:
        """Expire a pending approval past its deadline; otherwise return it as it is."""
        for _ in range(MAX_ATTEMPTS):
            before = self.store.get(approval_id)
            now = self.clock()
            if not before.is_due(now):
                return before
            after, events = before.expire(now)
            try:
                self.store.commit(before, after, events, now=now)
            except ConflictError:
                continue  # a vote landed first; the next read shows it
            return after
        raise ConflictError("the approval kept changing; try again")

    def _refused(self, approval_id: str, user: str, why: str) -> None:
        event = AuditEvent(AuditKind.VOTE_REFUSED, utc(self.clock()), user, {"why": why})
        self.store.record(approval_id, event)
