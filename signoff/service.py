"""Use cases over the store: the same rules for a Slack click, the CLI and the workflow."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from signoff.doorbell import Doorbell, NoDoorbell
from signoff.errors import (
    AlreadyRecordedError,
    BackendError,
    ConfigError,
    ConflictError,
    NotFoundError,
    RefusedError,
    UnansweredError,
    ValidationError,
)
from signoff.frozen import frozen
from signoff.history import DEFAULT_SINCE, Page, Window
from signoff.model import (
    MAX_TIMEOUT,
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
from signoff.observability import CLICKS_REFUSED, WRITE_CONFLICTS, NoTelemetry, Telemetry
from signoff.refusals import Refusal, RefusalCode
from signoff.reuse import lookback, may_reuse, reusable, reuse
from signoff.schema import InboxRole, pending_cursor

Clock = Callable[[], datetime]
# A change computed from the approval as read: the new approval and its audit events, or
# None when there is nothing to write.
Change = Callable[[Approval, datetime], "tuple[Approval, list[AuditEvent]] | None"]

MAX_ATTEMPTS = 8
# How many approved requests a kickoff reads looking for one to reuse, at most.
REUSE_PAGE = 100
REUSE_PAGES = 10


def system_clock() -> datetime:
    return datetime.now(UTC)


class ApprovalRecords(Protocol):
    """The approvals themselves; every change is one conditional write."""

    def create(self, approval: Approval, event: AuditEvent) -> bool: ...
    def get(self, approval_id: str) -> Approval: ...
    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]: ...
    def inbox(
        self, user: str, role: InboxRole, now: datetime, limit: int = 1000
    ) -> list[Approval]: ...
    def inbox_count(self, user: str, role: InboxRole, now: datetime) -> int: ...
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
    def inbox(self, user: str, role: InboxRole, now: datetime, limit: int = 1000) -> list[Approval]:
        """The first pending requests in `user`'s inbox for `role` (their own entries)."""
        ...

    def inbox_count(self, user: str, role: InboxRole, now: datetime) -> int: ...


@frozen(kw_only=True)
class Listing:
    """One page of a listing, and the token that reads the next (None: this was the last)."""

    approvals: list[Approval]
    next_page: str | None


@frozen(kw_only=True)
class Pending:
    """The pending index page by page, and as one person sees it (their Home tab)."""

    index: PendingIndex
    clock: Clock

    def page(self, size: int, after: str = "") -> Listing:
        """`size` pending approvals, soonest deadline first, from `after` (the `next_page`
        of the page before; "" for the first); `next_page` is None on the last page."""
        if size < 1:
            raise ValueError(f"a page holds at least one approval, not {size}")
        found = self.index.list_pending(size + 1, after)  # one more: is there a next page?
        page = found[:size]
        return Listing(
            approvals=page, next_page=pending_cursor(page[-1]) if len(found) > size else None
        )

    def pending_for(self, user: str, limit: int = 1000) -> tuple[list[Approval], list[Approval]]:
        """What waits for `user`'s vote, and what `user` asked for that is still pending
        (at most `limit` of each), from `user`'s own inbox entries: what that person has
        costs what it costs, however many others are pending."""
        now = self.clock()
        waiting = [
            a
            for a in self.index.inbox(user, InboxRole.WAITING, now, limit)
            if a.vote_refusal(user, now) is None
        ]
        return waiting, self.index.inbox(user, InboxRole.ASKED, now, limit)

    def home(self, user: str, shown: int) -> Home:
        """`user`'s Home tab: the first `shown` of each list and how many each holds."""
        waiting, asked = self.pending_for(user, shown)
        now = self.clock()
        return Home(
            waiting=waiting,
            asked=asked,
            waiting_total=self.index.inbox_count(user, InboxRole.WAITING, now),
            asked_total=self.index.inbox_count(user, InboxRole.ASKED, now),
        )


@frozen(kw_only=True)
class Home:
    """What one person's Home tab shows: the first of each list, and each list's size."""

    waiting: list[Approval]
    asked: list[Approval]
    waiting_total: int
    asked_total: int


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
        source = self.reusable(request) if may_reuse(request) else None
        if source is not None:
            return self._change(request.id, lambda before, now: reuse(before, source, now))
        return self.store.get(request.id)

    def reusable(self, request: StartRequest) -> Approval | None:
        """The approval `request` may reuse (its policy's `reuse_for`): the latest approved
        under the same policy for the same bindings within the window; None otherwise."""
        if request.reuse_for is None:
            return None
        now = utc(self.clock())
        since = now - lookback(request.reuse_for, MAX_TIMEOUT)
        after = None
        for _ in range(REUSE_PAGES):
            page = self.store.list_history(Status.APPROVED, since, now, REUSE_PAGE, after)
            found = [a for a in page.items if reusable(a, request, now)]
            if found:
                return max(found, key=lambda a: a.decided_at or a.created_at)
            if page.after is None:
                return None
            after = page.after
        return None  # past what a kickoff reads: asked anew, never wrongly released

    def get(self, approval_id: str) -> Approval:
        """One approval by an id a person typed: what is not an id is refused unread."""
        return self.store.get(checked_id(approval_id))

    def pending_for(self, user: str, limit: int = 1000) -> tuple[list[Approval], list[Approval]]:
        """What waits for `user`'s vote, and what `user` asked for (see `Pending`)."""
        return Pending(index=self.store, clock=self.clock).pending_for(user, limit)

    def home(self, user: str, shown: int) -> Home:
        """`user`'s Home tab (see `Pending.home`)."""
        return Pending(index=self.store, clock=self.clock).home(user, shown)

    def audit(self, approval_id: str) -> list[AuditEvent]:
        """One approval's audit events, by an id a person typed."""
        return self.store.audit(checked_id(approval_id))

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
            return self._cancelled(before, user, now, reason)

        return self._change(approval_id, cancel, refused=(user, AuditKind.CANCEL_REFUSED))

    def check_cancel(self, approval_id: str, user: str) -> Approval:
        """Raise RefusedError (and audit it) if `user` may not cancel now: asked before the
        reason dialog opens, so nobody types a reason for a cancel they cannot make."""
        approval = self.store.get(checked_id(approval_id))
        try:
            self._cancelled(approval, user, self.clock(), "")
        except RefusedError as exc:
            self._refused(approval, user, AuditKind.CANCEL_REFUSED, exc.refusal)
            raise
        return approval

    def _cancelled(
        self, before: Approval, user: str, now: datetime, reason: str
    ) -> tuple[Approval, list[AuditEvent]]:
        if user == before.requester or before.status.is_closed:
            return before.cancel(user, now, reason)
        try:
            admins = self.admins()
        except ConfigError as exc:  # a broken document: refused and audited, not a crash
            raise RefusedError(RefusalCode.POLICIES_UNREADABLE) from exc
        return before.cancel(user, now, reason, admins)

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
                    self._refused(before, *refused, exc.refusal)
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

    def _refused(self, approval: Approval, user: str, kind: AuditKind, refusal: Refusal) -> None:
        """Audit a refusal before it is told: the person hears it exactly when it is audited.

        A write that failed or went unanswered is written once more: the store keeps an
        event once, so an answer (written, or written before) proves the event is there.
        An unanswered write may not have been made (DynamoDB answered a 5xx, or refused it
        after the click's timeout), so a second write is asked before it is taken as made.
        When neither was answered but one went unanswered, it may stand: the refusal is
        told. Only when neither write can have been made does this raise (BackendError:
        the person is told to try again, nothing audited).
        """
        why = Refused(why=refusal.text, code=refusal.code.value)
        event = self._detailed(
            AuditEvent(kind=kind, at=utc(self.clock()), actor=user, detail=why.detail())
        )
        unanswered = False  # a write went unanswered: it may stand
        for attempt in (1, 2):
            try:
                self.store.record(approval.id, event, approval.expires_at)
                break  # answered: written now, or found written before
            except UnansweredError:
                unanswered = True
            except BackendError:
                if attempt == 2 and not unanswered:
                    raise
        if kind is AuditKind.VOTE_REFUSED:
            self.telemetry.count(CLICKS_REFUSED, Reason=refusal.code.value)

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

    # -- pages of the pending list ------------------------------------------------------

    def pending_page(self, size: int, after: str = "") -> Listing:
        """One page of the pending list (see `Pending.page`)."""
        return Pending(index=self.store, clock=self.clock).page(size, after)

    # -- the CLI's rules: start or match an --id, wait for the outcome, decide from the CLI

    def start_or_match(
        self,
        request: StartRequest,
        starter: Starter,
        *,
        new_id: bool = False,
        sleep: Sleep = time.sleep,
    ) -> Kickoff:
        """Start `request`'s workflow unless its id has a record already, then compare.

        The same request again starts nothing (MATCHED). A record made from a different
        request, earlier or by a start racing this one, is REFUSED with the differences.
        `new_id`: the id was just made up, so it has no record to read first.
        """
        existing = None if new_id else self._recorded(request.id)
        if existing is None:
            starter.start(request)
            approval, outcome = self._await_record(request.id, starter, sleep), Started.STARTED
        else:
            approval, outcome = existing, Started.MATCHED
        # Compared after a start too: a record made at the same moment may be someone else's.
        # The caller does not know the deployment's default channel: an empty channel matches
        # the one the record was given.
        differences = approval.differences(request, default_channel=approval.channel)
        if differences:
            return Kickoff(
                outcome=Started.REFUSED, approval=approval, differences=tuple(differences)
            )
        return Kickoff(outcome=outcome, approval=approval)

    def wait_for_outcome(
        self, approval_id: str, *, sleep: Sleep = time.sleep, interval: float = 1.0
    ) -> Iterator[Progress]:
        """Read the approval every `interval` seconds until it is closed, yielding each read
        (the last one is the outcome).

        The workflow expires a request at its deadline. One still pending EXPIRY_GRACE after
        it (its workflow failed or was deleted) is expired here, with the same conditional
        write: still one outcome, whoever writes it, and a waiter is never stranded.
        """
        approval = self.get(approval_id)
        while True:
            yield Progress(approval=approval, left=approval.expires_at - self.clock())
            if approval.status.is_closed:
                return
            sleep(interval)
            # One read: the approval as it stands, expired if its workflow abandoned it.
            approval = self.expire_if_abandoned(approval_id, EXPIRY_GRACE)

    def for_cli(
        self, action: CliAction, approval_id: str, user: str, stack: CliDecisions | None
    ) -> Approvals:
        """What a decision or cancel from the CLI goes through (`user`: its `--as`).

        On a deployed stack (`stack`), refused where its AllowCliDecisions says no (all but
        the requester's own cancel; not audited: the request is not touched), and otherwise
        audited with the caller's identity beside `--as`, which is only a claim. Locally
        (None): these approvals.
        """
        if stack is None:
            return self
        where = {"stack": stack.name, "output": CLI_DECISIONS}
        if stack.allowed is None:
            raise CliDecisionsOffError(Refusal(RefusalCode.CLI_DECISIONS_UNSTATED, where))
        if stack.allowed.strip().lower() != "true":
            off = {**where, "allowed": stack.allowed}
            if action is CliAction.DECIDE:
                raise CliDecisionsOffError(Refusal(RefusalCode.CLI_DECISIONS_OFF, off))
            requester = self.get(approval_id).requester
            if user != requester:
                only = {**off, "requester": requester, "approval_id": approval_id}
                raise CliDecisionsOffError(Refusal(RefusalCode.CLI_CANCEL_REQUESTER_ONLY, only))
        return Approvals(
            self.store,
            clock=self.clock,
            default_channel=self.default_channel,
            doorbell=self.doorbell,
            admins=self.admins,
            telemetry=self.telemetry,
            audit_detail={**self.audit_detail, "caller": stack.caller()},
        )

    def _recorded(self, approval_id: str) -> Approval | None:
        try:
            return self.get(approval_id)
        except NotFoundError:
            return None

    def _await_record(self, approval_id: str, starter: Starter, sleep: Sleep) -> Approval:
        """The workflow writes the record once kickoff is resolved; wait until it is there.

        A kickoff the policies refuse writes nothing: the workflow says why (ValidationError).
        """
        give_up = self.clock() + RECORD_TIMEOUT
        attempts = 0
        while True:
            try:
                return self.get(approval_id)
            except NotFoundError as exc:
                attempts += 1
                if attempts % 3 == 0 and (refusal := starter.kickoff_refusal(approval_id)):
                    raise ValidationError(f"refused at kickoff: {refusal}") from None
                if self.clock() > give_up:
                    raise NotFoundError(
                        f"the workflow has not recorded {approval_id} after "
                        f"{RECORD_TIMEOUT.total_seconds():.0f}s; check that it started "
                        f"(`signoff show {approval_id}` later)"
                    ) from exc
                sleep(RECORD_POLL)


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


# -- what the CLI's rules take and return ------------------------------------------------

Sleep = Callable[[float], None]

# The workflow expires a request at its deadline. If it has not done so this long after
# (the workflow failed or was deleted), a waiter makes the same conditional write.
EXPIRY_GRACE = timedelta(seconds=120)
# How long a start waits for its workflow to write the record, and how often it looks.
RECORD_TIMEOUT = timedelta(seconds=30)
RECORD_POLL = 0.2
# The deployment's setting (template.yaml's parameter, a stack output) that lets the CLI
# decide.
CLI_DECISIONS = "AllowCliDecisions"


class Starter(Protocol):
    """What starts a request's workflow (the CLI's target)."""

    def start(self, request: StartRequest) -> object: ...
    def kickoff_refusal(self, approval_id: str) -> str | None:
        """Why the workflow refused this kickoff (and wrote nothing), if it did."""
        ...


class Started(StrEnum):
    STARTED = "started"  # the workflow was started and has written the record
    MATCHED = "matched"  # the id's record is this same request: nothing was started
    REFUSED = "refused"  # the id's record is a different request (see the differences)


@frozen(kw_only=True)
class Kickoff:
    """What `start_or_match` did, and the approval as it stands."""

    outcome: Started
    approval: Approval
    differences: tuple[str, ...] = ()


@frozen(kw_only=True)
class Progress:
    """One read of an approval being waited for."""

    approval: Approval
    left: timedelta  # until its deadline, at this read (negative once past it)


class CliAction(StrEnum):
    DECIDE = "decide"
    CANCEL = "cancel"


@frozen(kw_only=True)
class CliDecisions:
    """What a deployed stack says about decisions from the CLI, and who is calling."""

    name: str  # the stack, as its refusals name it
    allowed: str | None  # its AllowCliDecisions as written; None: it does not say
    caller: Callable[[], str]  # the caller's identity (asked only when the CLI may act)


class CliDecisionsOffError(RefusedError):
    """The deployment takes no decisions from the CLI (its AllowCliDecisions is not true)."""
