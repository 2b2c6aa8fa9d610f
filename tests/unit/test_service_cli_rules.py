"""The rules a CLI (or any other caller) starts, waits and decides by, on the in-memory store
with a fake clock and a fake sleep: nothing really waits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from signoff.errors import NotFoundError, RefusedError, ValidationError
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, StartRequest, Status
from signoff.service import (
    Approvals,
    CliAction,
    CliDecisions,
    CliDecisionsOffError,
    Started,
)
from tests.factories import start_request

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeTime:
    """A clock, and a sleep that moves it on (running what a test scheduled for then)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self.slept: list[float] = []
        self.on_sleep: list[Callable[[], object]] = []  # the next sleeps' side effects

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        if len(self.slept) == 10_000:  # a wait that never ends fails rather than hangs
            raise AssertionError("still sleeping after 10,000 sleeps")
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_sleep:
            self.on_sleep.pop(0)()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def approvals(time: FakeTime) -> Approvals:
    return Approvals(InMemoryApprovalStore(), clock=time)


@dataclass
class Workflows:
    """The starter port as the CLI's target is one: `start` asks for a workflow, which
    writes the record (`record_after` polls later), or refuses the kickoff."""

    approvals: Approvals
    time: FakeTime
    record_after: int | None = 0  # None: it never writes the record
    refusal: str | None = None
    started: list[str] = field(default_factory=list)
    asked: int = 0  # how often kickoff_refusal was asked

    def start(self, request: StartRequest) -> object:
        self.started.append(request.id)
        if self.record_after == 0:
            self.approvals.open(request)
        elif self.record_after is not None:
            write = lambda: self.approvals.open(request)  # noqa: E731
            self.time.on_sleep = [lambda: None] * (self.record_after - 1) + [write]
        return {"id": request.id}

    def kickoff_refusal(self, approval_id: str) -> str | None:
        self.asked += 1
        return self.refusal


# -- start or match an id --------------------------------------------------------------


def test_a_start_waits_for_the_workflow_to_write_the_record(
    approvals: Approvals, time: FakeTime
) -> None:
    workflows = Workflows(approvals, time, record_after=4)
    kickoff = approvals.start_or_match(start_request("apr-new"), workflows, sleep=time.sleep)
    assert kickoff.outcome is Started.STARTED and kickoff.differences == ()
    assert kickoff.approval.status is Status.PENDING
    assert workflows.started == ["apr-new"]
    assert time.slept == [0.2] * 4
    assert workflows.asked == 1  # every third look asks whether the kickoff was refused


def test_the_same_request_again_starts_nothing(approvals: Approvals, time: FakeTime) -> None:
    approvals.open(start_request("apr-same"))
    workflows = Workflows(approvals, time)
    again = approvals.start_or_match(start_request("apr-same", channel=""), workflows)
    assert again.outcome is Started.MATCHED  # an empty channel matches the record's
    assert workflows.started == []


def test_a_different_request_under_a_used_id_is_refused_with_the_differences(
    approvals: Approvals, time: FakeTime
) -> None:
    approvals.open(start_request("apr-used", title="A"))
    approvals.decide("apr-used", "U0A", Decision.APPROVE)
    workflows = Workflows(approvals, time)
    other = start_request("apr-used", title="DROP production", approvers=("U0B",))
    kickoff = approvals.start_or_match(other, workflows)
    assert kickoff.outcome is Started.REFUSED
    assert kickoff.differences == (
        "title was 'A', now 'DROP production'",
        "approvers was 'U0A', now 'U0B'",
    )
    assert workflows.started == []  # refused before anything started
    assert kickoff.approval.status is Status.APPROVED


def test_a_record_a_racing_start_made_from_another_request_is_refused(
    approvals: Approvals, time: FakeTime
) -> None:
    mine = start_request("apr-race", title="A")

    @dataclass
    class Racing(Workflows):
        def start(self, request: StartRequest) -> object:
            self.approvals.open(replace(request, title="someone else's"))  # first to write
            return super().start(request)

    racing = Racing(approvals, time)
    kickoff = approvals.start_or_match(mine, racing, new_id=True)
    assert kickoff.outcome is Started.REFUSED
    assert kickoff.differences == ("""title was "someone else's", now 'A'""",)
    assert racing.started == ["apr-race"]


def test_a_kickoff_the_workflow_refused_is_a_usage_error(
    approvals: Approvals, time: FakeTime
) -> None:
    workflows = Workflows(approvals, time, record_after=None, refusal="no policy named 'p'")
    with pytest.raises(ValidationError, match=r"^refused at kickoff: no policy named 'p'$"):
        approvals.start_or_match(start_request("apr-nope"), workflows, sleep=time.sleep)
    assert time.slept == [0.2, 0.2]  # asked at the third look


def test_a_record_that_never_comes_is_not_found_after_30_seconds(
    approvals: Approvals, time: FakeTime
) -> None:
    workflows = Workflows(approvals, time, record_after=None)
    with pytest.raises(NotFoundError, match="has not recorded apr-lost after 30s"):
        approvals.start_or_match(start_request("apr-lost"), workflows, sleep=time.sleep)
    assert timedelta(seconds=30) < time.now - T0 <= timedelta(seconds=30.2)


# -- waiting for the outcome -----------------------------------------------------------


def test_a_wait_yields_each_read_until_the_outcome(approvals: Approvals, time: FakeTime) -> None:
    approvals.open(start_request("apr-w"))  # 30 minutes
    decide = lambda: approvals.decide("apr-w", "U0A", Decision.APPROVE)  # noqa: E731
    time.on_sleep = [lambda: None, lambda: None, decide]
    reads = list(approvals.wait_for_outcome("apr-w", sleep=time.sleep, interval=5))
    assert [r.approval.status for r in reads] == [Status.PENDING] * 3 + [Status.APPROVED]
    assert [r.left.total_seconds() for r in reads] == [1800, 1795, 1790, 1785]
    assert time.slept == [5, 5, 5]


def test_a_request_its_workflow_abandoned_expires_120_seconds_after_its_deadline(
    approvals: Approvals, time: FakeTime
) -> None:
    approval = approvals.open(start_request("apr-orphan"))
    time.now = approval.expires_at + timedelta(seconds=60)  # the workflow is gone
    reads = list(approvals.wait_for_outcome("apr-orphan", sleep=time.sleep))
    assert all(r.approval.status is Status.PENDING for r in reads[:-1])
    expired = reads[-1].approval
    assert expired.status is Status.EXPIRED
    # Not a second sooner: until then the workflow may still expire it itself.
    assert expired.decided_at == approval.expires_at + timedelta(seconds=120)
    assert len(time.slept) == 60
    assert [e.kind for e in approvals.audit("apr-orphan")] == ["created", "expired"]


def test_a_wait_on_a_closed_request_reads_once_and_never_sleeps(
    approvals: Approvals, time: FakeTime
) -> None:
    approvals.open(start_request("apr-done"))
    approvals.cancel("apr-done", "U0REQ")
    reads = list(approvals.wait_for_outcome("apr-done", sleep=time.sleep))
    assert [r.approval.status for r in reads] == [Status.CANCELLED]
    assert time.slept == []


# -- decisions from the CLI ------------------------------------------------------------

CALLER = "arn:aws:sts::123456789012:assumed-role/deployer/alice"


@dataclass
class Caller:
    asked: int = 0

    def __call__(self) -> str:
        self.asked += 1
        return CALLER


@pytest.fixture
def opened(approvals: Approvals) -> Approvals:
    approvals.open(start_request("apr-cli"))  # U0REQ asks, U0A decides
    return approvals


def stack(allowed: str | None, caller: Caller) -> CliDecisions:
    return CliDecisions(name="signoff-prod", allowed=allowed, caller=caller)


def test_the_local_stack_takes_cli_decisions_as_they_are(opened: Approvals) -> None:
    assert opened.for_cli(CliAction.DECIDE, "apr-cli", "U0A", None) is opened


@pytest.mark.parametrize("allowed", ["true", " True\n"])
def test_a_stack_that_allows_them_audits_the_caller_beside_the_claimed_user(
    opened: Approvals, allowed: str
) -> None:
    caller = Caller()
    approvals = opened.for_cli(CliAction.DECIDE, "apr-cli", "U0A", stack(allowed, caller))
    with pytest.raises(RefusedError):
        approvals.decide("apr-cli", "U0X", Decision.APPROVE)
    approvals.decide("apr-cli", "U0A", Decision.APPROVE)
    events = opened.audit("apr-cli")
    assert [e.kind for e in events] == ["created", "vote_refused", "voted", "decided"]
    assert [e.detail.get("caller") for e in events] == [None, CALLER, CALLER, CALLER]
    assert caller.asked == 1


@pytest.mark.parametrize("action", list(CliAction))
def test_a_stack_that_does_not_say_takes_nothing_from_the_cli(
    opened: Approvals, action: CliAction
) -> None:
    caller = Caller()
    with pytest.raises(CliDecisionsOffError) as refused:
        opened.for_cli(action, "apr-cli", "U0REQ", stack(None, caller))
    assert str(refused.value) == (
        "stack signoff-prod does not say whether it takes decisions from the CLI (no "
        "AllowCliDecisions output: it was deployed from an older template.yaml); redeploy "
        "it, or decide in Slack"
    )
    assert caller.asked == 0


def test_with_cli_decisions_off_a_decision_is_refused_and_nothing_written(
    opened: Approvals,
) -> None:
    caller = Caller()
    with pytest.raises(CliDecisionsOffError) as refused:
        opened.for_cli(CliAction.DECIDE, "apr-cli", "U0A", stack("false", caller))
    assert str(refused.value) == (
        "stack signoff-prod takes no decisions from the CLI (AllowCliDecisions is false): "
        "approve or reject in Slack, or redeploy with AllowCliDecisions=true"
    )
    assert caller.asked == 0  # STS is not even asked
    assert [e.kind for e in opened.audit("apr-cli")] == ["created"]


def test_with_cli_decisions_off_only_the_requester_may_cancel(opened: Approvals) -> None:
    caller = Caller()
    with pytest.raises(CliDecisionsOffError, match=r"only its requester \(U0REQ\) may cancel"):
        opened.for_cli(CliAction.CANCEL, "apr-cli", "U0A", stack("false", caller))
    approvals = opened.for_cli(CliAction.CANCEL, "apr-cli", "U0REQ", stack("false", caller))
    approvals.cancel("apr-cli", "U0REQ", "wrong ticket")
    cancelled = opened.audit("apr-cli")[-1]
    assert cancelled.kind == "cancelled"
    assert cancelled.detail == {"reason": "wrong ticket", "caller": CALLER}
