"""Use cases over the store: the same rules for a Slack click, the CLI and the workflow."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from signoff.doorbell import Doorbell, NoDoorbell
from signoff.errors import (
    AlreadyRecordedError,
    BackendError,
    ConfigError,
    ConflictError,
    RefusedError,
    UnansweredError,
    ValidationError,
)
from signoff.history import DEFAULT_SINCE, Page, Window
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Decision,
    RecordedEvent,
    Refused,
    Reminded,
    StartRequest,
    Status,
    checked_id,
    iso,
    person_problem,
    utc,
)
from signoff.observability import (
    CLICKS_REFUSED,
    WRITE_CONFLICTS,
    NoTelemetry,
    Telemetry,
    refusal_code,
)
from signoff.schema import pending_cursor

Clock = Callable[[], datetime]
# A change computed from the approval as read: the new approval and its audit events, or
# None when there is nothing to write.
Change = Callable[[Approval, datetime], "tuple[Approval, list[AuditEvent]] | None"]

MAX_ATTEMPTS = 8

# Said (and audited) when someone other than the requester cancels and the deployment's
# policy document, which names the admins, cannot be read.
POLICIES_UNREADABLE = (
    "the deployment's policy document cannot be read, so nobody but the requester can "
    "cancel until an operator fixes it"
)


def system_clock() -> datetime:
    return datetime.now(UTC)


class ApprovalRecords(Protocol):
    """The approvals themselves; every change is one conditional write."""

    def create(self, approval: Approval, event: AuditEvent) -> bool: ...
    def get(self, approval_id: str) -> Approval: ...
    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]: ...
    def commit(
        self,
        before: Approval,
        after: Approval,
        events: Iterable[AuditEvent],
        *,
        now: datetime,
        voter: str | None = None,
    ) -> None: ...
    def arm_doorbell(self, approval_id: str, callback_id: str) -> Approval: ...
    def record(
        self, approval_id: str, event: AuditEvent, expires_at: datetime | None = None
    ) -> None: ...


class HistoryReader(Protocol):
    """The past: one approval's audit trail, and listings over a time window."""

    def audit(self, approval_id: str, since: datetime | None = None) -> list[AuditEvent]: ...
    def list_history(
        self,
        status: Status | None,
        since: datetime,
        until: datetime,
        limit: int,
        after: str | None = None,
    ) -> Page[Approval]: ...
    def audit_history(
        self, since: datetime, until: datetime, limit: int, after: str | None = None
    ) -> Page[RecordedEvent]: ...


class ApprovalStore(ApprovalRecords, HistoryReader, Protocol):
    """What the use cases read and write (the notifier's claims are `signoff.claims`)."""


class PendingIndex(Protocol):
    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]: ...


@dataclass(frozen=True, kw_only=True)
class Pending:
    """The pending index as one person sees it (their Home tab)."""

    index: PendingIndex
    clock: Clock

    def pending_for(self, user: str, limit: int = 1000) -> tuple[list[Approval], list[Approval]]:
        """What waits for `user`'s vote, and what `user` asked for that is still pending.

        Read page by page from the pending index (at most `limit` pending requests).
        """
        now = self.clock()
        waiting: list[Approval] = []
        asked: list[Approval] = []
        after = ""
        while limit > 0:
            page = self.index.list_pending(min(100, limit), after)
            for approval in page:
                if approval.requester == user:
                    asked.append(approval)
                if approval.vote_refusal(user, now) is None:
                    waiting.append(approval)
            if len(page) < min(100, limit):
                break
            limit -= len(page)
            after = pending_cursor(page[-1])
        return waiting, asked


@dataclass(frozen=True, kw_only=True)
class Listing:
    """One page of a listing, and the token that reads the next (None: this was the last)."""

    approvals: list[Approval]
    next_page: str | None


AUDIT_PAGE = 500


class Approvals:
    def __init__(
        self,
        store: ApprovalStore,
        clock: Clock = system_clock,
        default_channel: str = "approvals",
        doorbell: Doorbell | None = None,
        admins: Callable[[], Collection[str]] = tuple,
        telemetry: Telemetry | None = None,
        audit_detail: Mapping[str, str] | None = None,
    ):
        """`audit_detail` is added to every audit event written here: who really made the
        call when the actor is only claimed (the CLI's AWS identity beside `--as`)."""
        self.store = store
        self.clock = clock
        self.default_channel = default_channel
        self.doorbell = doorbell or NoDoorbell()
        # The deployment's admins (its policy document), read only when someone other
        # than the requester cancels.
        self.admins = admins
        self.telemetry = telemetry or NoTelemetry()
        self.audit_detail = dict(audit_detail or {})

    def open(self, request: StartRequest, execution_id: str = "") -> Approval:
        """Create the record once; a second call returns the stored one unchanged."""
        approval, event = Approval.open(request, self.clock(), self.default_channel)
        if execution_id:
            approval = replace(approval, execution_id=execution_id)
        self.store.create(approval, event)
        return self.store.get(request.id)

    def get(self, approval_id: str) -> Approval:
        """One approval by an id a person typed: what is not an id is refused unread."""
        return self.store.get(checked_id(approval_id))

    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]:
        return self.store.list_pending(limit, after)

    def pending_for(self, user: str, limit: int = 1000) -> tuple[list[Approval], list[Approval]]:
        """What waits for `user`'s vote, and what `user` asked for (see `Pending`)."""
        return Pending(index=self.store, clock=self.clock).pending_for(user, limit)

    def listing(
        self,
        status: Status | None,
        since: timedelta | None = None,
        limit: int = 100,
        page: str | None = None,
    ) -> Listing:
        """Approvals of one status (None: every status), created in the last `since`, newest
        first; pending without `since` is the pending list, soonest deadline first. `page`
        (a token an earlier page returned) continues that listing, over the same window."""
        wanted = status.value if status else "all"
        after = None
        if page is not None:
            window, after = Window.from_token(page)
            if window.status != wanted:
                raise ValidationError(
                    f"that page token continues a listing of --status {window.status}, "
                    f"not --status {wanted}"
                )
        elif status is Status.PENDING and since is None:
            window = Window(status=wanted)
        else:
            now = utc(self.clock())
            window = Window(status=wanted, since=now - (since or DEFAULT_SINCE), until=now)
        if window.since is None or window.until is None:
            pending = self.store.list_pending(limit, after or "")
            last = pending_cursor(pending[-1]) if pending else ""
            return Listing(
                approvals=pending,
                next_page=window.token(last) if len(pending) == limit else None,
            )
        found = self.store.list_history(status, window.since, window.until, limit, after)
        return Listing(
            approvals=list(found.items),
            next_page=window.token(found.after) if found.after is not None else None,
        )

    def audit_trail(self, approval_id: str, since: timedelta | None = None) -> list[RecordedEvent]:
        """One approval's audit events (in the last `since`); NotFoundError for an unknown id."""
        checked_id(approval_id)
        events = self.store.audit(approval_id, utc(self.clock()) - since if since else None)
        if not events:
            self.store.get(approval_id)  # raises NotFoundError when there is no such approval
        return [RecordedEvent(approval_id=approval_id, event=event) for event in events]

    def audit_events(self, since: timedelta) -> Iterator[RecordedEvent]:
        """Every approval's audit events in the last `since`, oldest first, page by page."""
        until = utc(self.clock())
        after = None
        while True:
            page = self.store.audit_history(until - since, until, AUDIT_PAGE, after)
            yield from page.items
            if page.after is None:
                return
            after = page.after

    def check_vote(self, approval_id: str, user: str) -> Approval:
        """Raise RefusedError (and audit it) if `user` may not vote now."""
        approval = self.store.get(checked_id(approval_id))
        refusal = approval.vote_refusal(user, self.clock())
        if refusal:
            self._refused(approval, user, AuditKind.VOTE_REFUSED, refusal)
            raise RefusedError(refusal)
        return approval

    def decide(self, approval_id: str, user: str, decision: Decision, reason: str = "") -> Approval:
        """One vote through one conditional write; RefusedError says why not."""

        def vote(before: Approval, now: datetime) -> tuple[Approval, list[AuditEvent]]:
            if any(v.user == user and v.decision is decision for v in before.votes):
                # A retried click (Slack redelivers) or a repeated command: it already stands.
                raise AlreadyRecordedError(f"your {decision.value} is already recorded")
            return before.vote(user, decision, now, reason)

        return self._change(approval_id, vote, refused=(user, AuditKind.VOTE_REFUSED), voter=user)

    def cancel(self, approval_id: str, user: str, reason: str = "") -> Approval:
        """The requester or an admin calls the request off; anyone else is refused (audited)."""

        def cancel(before: Approval, now: datetime) -> tuple[Approval, list[AuditEvent]]:
            if user == before.requester or before.status.is_closed:
                return before.cancel(user, now, reason)
            try:
                admins = self.admins()
            except ConfigError as exc:  # a broken document: refused and audited, not a crash
                raise RefusedError(POLICIES_UNREADABLE) from exc
            return before.cancel(user, now, reason, admins)

        return self._change(approval_id, cancel, refused=(user, AuditKind.CANCEL_REFUSED))

    def expire_if_due(self, approval_id: str) -> Approval:
        """Expire a pending approval past its deadline; otherwise return it as it is."""
        return self._change(
            approval_id, lambda before, now: before.expire(now) if before.is_due(now) else None
        )

    def expire_if_abandoned(self, approval_id: str, grace: timedelta) -> Approval:
        """Expire a request still pending `grace` after its deadline (its workflow is gone).

        The workflow expires at the deadline; a waiter that finds it has not, long after,
        makes the same conditional write: still one outcome, whoever writes it.
        """
        return self._change(
            approval_id,
            lambda before, now: before.expire(now) if before.is_due(now - grace) else None,
        )

    def arm_doorbell(self, approval_id: str, callback_id: str) -> Approval:
        """The workflow's part: keep its callback id on the record, and expire the request if
        it is due; returns the approval as it stands after both."""
        armed = self.store.arm_doorbell(approval_id, callback_id)
        return self.expire_if_due(approval_id) if armed.is_due(self.clock()) else armed

    # -- the workflow's reminders and escalation ----------------------------------------

    def remind(self, approval_id: str, number: int) -> Approval:
        """Audit reminder `number` (who it will mention) if the request is still pending;
        the notifier reads it from the audit trail and replies in the thread once."""
        approval = self.store.get(approval_id)
        if approval.status is Status.PENDING:
            reminded = Reminded(number=number, waiting_for=approval.waiting_for())
            self.store.record(
                approval_id,
                AuditEvent(
                    kind=AuditKind.REMINDED,
                    at=utc(self.clock()),
                    actor="signoff",
                    detail=reminded.detail(),
                ),
                approval.expires_at,
            )
        return approval

    def escalate(self, approval_id: str, members: Collection[str], problem: str = "") -> Approval:
        """Add the escalation group's members as approvers, once, with the version guard
        (`problem`: the group could not be resolved; that is recorded instead)."""

        def escalate(before: Approval, now: datetime) -> tuple[Approval, list[AuditEvent]] | None:
            if before.status is not Status.PENDING or before.policy.escalated:
                return None  # decided meanwhile, or done by an earlier attempt
            return before.escalate(tuple(members), now, problem)

        return self._change(approval_id, escalate)

    # -- internals --------------------------------------------------------------------

    def _change(
        self,
        approval_id: str,
        change: Change,
        *,
        refused: tuple[str, AuditKind] | None = None,
        voter: str | None = None,
    ) -> Approval:
        """Read, apply the rules, commit conditionally; on a lost race read and apply again.

        A refusal by the rules is audited (as `refused`: who, and the kind of event) and
        raised. After the last lost race the rules see one more fresh read, so a request
        decided meanwhile is refused rather than "try again": ConflictError means the rules
        still accept the change and only the races kept it out, which a retry can change.
        What is not an approval id, or a voter that is not a person, is refused before any read.
        """
        checked_id(approval_id)
        if refused and (problem := person_problem("the user", refused[0])):
            raise ValidationError(problem)
        for attempt in range(MAX_ATTEMPTS + 1):
            before = self.store.get(approval_id)
            now = self.clock()
            try:
                changed = change(before, now)
            except RefusedError as exc:
                if refused:
                    self._refused(before, *refused, str(exc))
                raise
            if changed is None:
                return before
            if attempt == MAX_ATTEMPTS:
                break
            after, events = changed
            events = [self._detailed(e) for e in events]
            try:
                self.store.commit(before, after, events, now=now, voter=voter)
            except ConflictError:
                self.telemetry.count(WRITE_CONFLICTS)
                continue  # someone else wrote first: re-read and apply the rules again
            except UnansweredError:
                # Sent, unanswered: if the record is what this write made, it was made.
                if not self._landed(after):
                    raise
            # A vote short of the quorum rings too: the workflow wakes to have the
            # message show the progress, then waits on.
            if after.doorbell and (after.status.is_closed or voter is not None):
                self.doorbell.ring(after.doorbell)
            return after
        raise ConflictError("the approval kept changing; try again")

    def _refused(self, approval: Approval, user: str, kind: AuditKind, why: str) -> None:
        """Audit a refusal before it is told: the person hears it exactly when it is audited.

        A write whose answer is lost (UnansweredError) was sent and, as far as anyone can
        know, made: the refusal is told. A write that failed (throttled, refused, never
        sent) is written once more — the store keeps an event once, so a first write that
        did land is not doubled — and only when neither write can have been made does
        this raise (BackendError: the person is told to try again, nothing audited).
        """
        event = self._detailed(
            AuditEvent(
                kind=kind, at=utc(self.clock()), actor=user, detail=Refused(why=why).detail()
            )
        )
        for attempt in (1, 2):
            try:
                self.store.record(approval.id, event, approval.expires_at)
                break
            except UnansweredError:
                break  # sent: it stands, or lands behind the answer that never came
            except BackendError:
                if attempt == 2:
                    raise
        if kind is AuditKind.VOTE_REFUSED:
            self.telemetry.count(CLICKS_REFUSED, Reason=refusal_code(why))

    def _landed(self, after: Approval) -> bool:
        """Whether the stored approval is `after` (a commit whose answer was lost): the
        same version, made by the same change (another writer from the same read would
        have made another one)."""
        try:
            stored = self.store.get(after.id)
        except BackendError:
            return False
        return _made(stored) == _made(after)

    def _detailed(self, event: AuditEvent) -> AuditEvent:
        if not self.audit_detail:
            return event
        return replace(event, detail={**event.detail, **self.audit_detail})


def _made(approval: Approval) -> tuple[object, ...]:
    """What a commit wrote that tells it from another commit of the same version."""
    return (
        approval.version,
        approval.status,
        approval.decided_by,
        approval.reason,
        approval.policy,
        tuple((v.user, v.decision, iso(v.at), v.reason) for v in approval.votes),
    )
