"""The workflow's wait (`await_outcome`) and its run, on a fake durable context in virtual
time: what it decides at each look, without the emulator or a real second of waiting."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration
from aws_durable_execution_sdk_python.exceptions import CallbackTimeoutError

from signoff.codec import request_to_payload
from signoff.errors import NotFoundError, ValidationError
from signoff.events import Topic
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, StartRequest, Status
from signoff.service import Approvals
from signoff.workflow import Plan, PollSchedule, WorkflowDeps, await_outcome, run_approval
from tests.factories import start_request

T = TypeVar("T")
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class State:
    durable_execution_arn: str = "arn:aws:lambda:us-east-1:1:function:w:live/durable-execution/x/y"


class FakeCallback:
    def __init__(self, context: FakeDurable, name: str, timeout: float) -> None:
        self.context = context
        self.name = name
        self.callback_id = f"cb-{name}"
        self.timeout = timeout

    def result(self) -> object:
        return self.context.sleep_on(self)


class FakeDurable:
    """A durable context on virtual time, and the doorbell its approvals ring.

    Steps run inline, their results round-tripped through JSON as checkpoints are; each
    operation's name is recorded in order (`operations`). A wait moves the clock on; a
    callback's `result()` moves it to its timeout (then CallbackTimeoutError), or to the
    moment something rings it. What a test schedules `at` a time runs when the clock passes
    it, and what it schedules `on` an operation runs just before that operation.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.logger = logging.getLogger("tests.workflow")
        self.state = State()
        self.operations: list[str] = []
        self.sleeps: dict[str, float] = {}  # each wait's or callback's timeout, in seconds
        self.awaited: list[str] = []  # callbacks the workflow suspended on
        self.ran_at: dict[str, datetime] = {}
        self.rung: set[str] = set()
        self._timeline: list[tuple[datetime, Callable[[], object]]] = []
        self._before: dict[str, Callable[[], object]] = {}

    def at(self, seconds: float, action: Callable[[], object]) -> None:
        self._timeline.append((T0 + timedelta(seconds=seconds), action))
        self._timeline.sort(key=lambda event: event[0])

    def on(self, operation: str, action: Callable[[], object]) -> None:
        self._before[operation] = action

    # -- the durable context ---------------------------------------------------------

    def step(self, func: Callable[[Any], T], name: str | None = None) -> T:
        self._operation(name)
        result: T = json.loads(json.dumps(func(None)))
        return result

    def wait(self, duration: Duration, name: str | None = None) -> None:
        self._operation(name)
        self.sleeps[str(name)] = duration.to_seconds()
        self._pass_until(self.clock.now + timedelta(seconds=duration.to_seconds()))

    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> FakeCallback:
        self._operation(name)
        assert config is not None and config.timeout.to_seconds() >= 1
        self.sleeps[str(name)] = config.timeout.to_seconds()
        return FakeCallback(self, str(name), config.timeout.to_seconds())

    # -- the doorbell ----------------------------------------------------------------

    def ring(self, callback_id: str) -> bool:
        self.rung.add(callback_id)
        return True

    # -- virtual time ----------------------------------------------------------------

    def sleep_on(self, callback: FakeCallback) -> object:
        self.awaited.append(callback.name)
        timeout = self.clock.now + timedelta(seconds=callback.timeout)
        if self._pass_until(timeout, wake=callback.callback_id):
            return {"rung": True}
        raise CallbackTimeoutError(f"{callback.name} timed out")

    def _pass_until(self, until: datetime, wake: str | None = None) -> bool:
        while self._timeline and self._timeline[0][0] <= until:
            when, action = self._timeline.pop(0)
            self.clock.now = when
            action()
            if wake in self.rung:
                return True
        self.clock.now = until
        return False

    def _operation(self, name: str | None) -> None:
        assert name and name not in self.operations, f"operation {name!r} run twice"
        # AWS stops an execution at 3,000 operations; a loop that never sleeps fails here.
        assert len(self.operations) < 3000, "3,000 operations"
        if name in self._before:
            self._before.pop(name)()
        self.operations.append(name)
        self.ran_at[name] = self.clock.now


@dataclass
class Published:
    topics: list[Topic] = field(default_factory=list)

    def publish(self, kind: Topic, approval_id: str) -> str:
        self.topics.append(kind)
        return f"m-{len(self.topics)}"


@dataclass
class Groups:
    known: dict[str, tuple[str, ...]]

    def members(self, group_id: str) -> tuple[str, ...]:
        if group_id not in self.known:
            raise ValidationError(f"the user group {group_id} cannot be resolved")
        return self.known[group_id]


@dataclass
class Run:
    clock: Clock
    context: FakeDurable
    approvals: Approvals
    published: Published
    deps: WorkflowDeps

    def open(self, request: StartRequest) -> Plan:
        approval = self.approvals.open(request)
        return Plan.of(request, approval.created_at.timestamp(), approval.expires_at.timestamp())

    def wait(self, request: StartRequest) -> str:
        plan = self.open(request)
        return await_outcome(self.context, self.deps, request.id, plan.expires, plan)

    def at(self, seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)


def make_run(*, doorbell: bool = True, schedule: PollSchedule | None = None) -> Run:
    clock = Clock()
    context = FakeDurable(clock)
    approvals = Approvals(InMemoryApprovalStore(), clock=clock, doorbell=context)
    published = Published()
    deps = WorkflowDeps(
        approvals=approvals,
        publisher=published,
        schedule=schedule or PollSchedule(initial=60, maximum=600, backoff=2.0),
        doorbell=doorbell,
        groups=Groups({"S0DBA": ("U0DBA1", "U0DBA2")}),
    )
    return Run(clock, context, approvals, published, deps)


def rounds(*numbers: int) -> list[str]:
    return [f"{op}-{n}" for n in numbers for op in ("look", "doorbell", "arm")]


# -- the deadline ------------------------------------------------------------------------


def test_a_request_nobody_decides_expires_at_its_deadline_to_the_second() -> None:
    run = make_run()
    status = run.wait(start_request("apr-w1", timeout=timedelta(minutes=30)))
    assert status == "expired"
    approval = run.approvals.get("apr-w1")
    assert approval.decided_at == approval.expires_at == run.at(1800)
    # The poll doubles up to its maximum and its last sleep ends at the deadline, not after.
    assert [run.context.sleeps[f"doorbell-{n}"] for n in range(6)] == [60, 120, 240, 480, 600, 300]
    assert run.context.operations == [*rounds(0, 1, 2, 3, 4, 5), "look-6"]
    assert run.context.ran_at["look-6"] == run.at(1800)
    assert run.published.topics == []


def test_with_the_doorbell_off_it_polls_with_waits_to_the_same_deadline() -> None:
    run = make_run(doorbell=False)
    assert run.wait(start_request("apr-w2", timeout=timedelta(minutes=30))) == "expired"
    assert run.context.operations == [op for n in range(6) for op in (f"look-{n}", f"poll-{n}")] + [
        "look-6"
    ]
    assert [run.context.sleeps[f"poll-{n}"] for n in range(6)] == [60, 120, 240, 480, 600, 300]
    assert run.context.awaited == []


# -- a decision rings; without the doorbell it waits for the poll ---------------------------


def test_a_decision_rings_the_doorbell_and_the_wait_ends_at_once() -> None:
    run = make_run()
    run.context.at(100, lambda: run.approvals.decide("apr-w3", "U0A", Decision.APPROVE))
    assert run.wait(start_request("apr-w3")) == "approved"
    assert run.context.rung == {"cb-doorbell-1"}  # armed at 60 s, rung at 100 s
    assert run.context.operations == [*rounds(0, 1), "look-2"]
    assert run.context.ran_at["look-2"] == run.at(100)


def test_with_the_doorbell_off_a_decision_is_seen_at_the_next_poll() -> None:
    run = make_run(doorbell=False)
    run.context.at(100, lambda: run.approvals.decide("apr-w4", "U0A", Decision.APPROVE))
    assert run.wait(start_request("apr-w4")) == "approved"
    assert run.context.ran_at["look-2"] == run.at(180)  # the poll of 60 s, then 120 s


# -- votes between the look and the arming ------------------------------------------------


def test_a_decision_before_the_arming_ends_the_wait_without_sleeping() -> None:
    run = make_run()
    run.context.on("arm-0", lambda: run.approvals.decide("apr-w5", "U0A", Decision.APPROVE))
    assert run.wait(start_request("apr-w5")) == "approved"
    assert run.context.operations == rounds(0)
    assert run.context.awaited == []


def test_a_vote_before_the_arming_is_shown_before_the_wait_sleeps() -> None:
    run = make_run()
    request = start_request("apr-w6", approvers=("U0A", "U0B"), min_approvals=2)
    run.context.on("arm-0", lambda: run.approvals.decide("apr-w6", "U0A", Decision.APPROVE))
    run.context.at(30, lambda: run.approvals.decide("apr-w6", "U0B", Decision.APPROVE))
    assert run.wait(request) == "approved"
    # It looked again at once rather than sleeping on doorbell-0, and published the vote.
    assert run.context.operations == [
        *rounds(0), "look-1", "publish-progress-1", "doorbell-1", "arm-1", "look-2",
    ]  # fmt: skip
    assert run.context.awaited == ["doorbell-1"]
    assert run.published.topics == [Topic.VOTED]
    assert run.context.ran_at["look-2"] == run.at(30)


def test_a_vote_short_of_the_quorum_rings_and_is_published_once() -> None:
    run = make_run()
    request = start_request("apr-w7", approvers=("U0A", "U0B"), min_approvals=2)
    run.context.at(10, lambda: run.approvals.decide("apr-w7", "U0A", Decision.APPROVE))
    run.context.at(400, lambda: run.approvals.decide("apr-w7", "U0B", Decision.APPROVE))
    assert run.wait(request) == "approved"
    assert run.context.ran_at["publish-progress-1"] == run.at(10)
    assert run.published.topics == [Topic.VOTED]


# -- reminders and the escalation ----------------------------------------------------------

WATCHED = {
    "approvers": ("U0A",),
    "remind_every": timedelta(minutes=10),
    "escalate_after": timedelta(minutes=25),
    "escalate_to": "S0DBA",
    "timeout": timedelta(hours=1),
}


def test_reminders_and_the_escalation_run_when_due_and_never_late() -> None:
    run = make_run(schedule=PollSchedule(initial=4 * 3600, maximum=4 * 3600))
    assert run.wait(start_request("apr-w8", **WATCHED)) == "expired"
    ran = run.context.ran_at
    assert [ran[f"remind-{n}"] for n in range(1, 6)] == [run.at(600 * n) for n in range(1, 6)]
    assert ran["publish-reminded-1"] == run.at(600)
    assert ran["escalate"] == ran["publish-escalated"] == run.at(1500)
    assert run.published.topics == [Topic.REMINDED] * 2 + [Topic.ESCALATED] + [Topic.REMINDED] * 3
    assert "remind-6" not in ran  # none at the deadline itself: it expires instead
    assert set(run.approvals.get("apr-w8").policy.approvers) == {"U0A", "U0DBA1", "U0DBA2"}


def test_only_the_latest_reminder_due_is_sent_after_a_gap() -> None:
    run = make_run(schedule=PollSchedule(initial=4 * 3600, maximum=4 * 3600))
    request = start_request("apr-w9", **{**WATCHED, "escalate_to": "", "escalate_after": None})
    plan = run.open(request)
    run.clock.now = T0 + timedelta(minutes=35)  # nothing ran for 35 minutes
    assert await_outcome(run.context, run.deps, "apr-w9", plan.expires, plan) == "expired"
    reminders = [op for op in run.context.operations if op.startswith("remind-")]
    assert reminders == ["remind-3", "remind-4", "remind-5"]


def test_an_escalation_group_that_cannot_be_resolved_is_recorded_and_the_wait_goes_on() -> None:
    run = make_run(schedule=PollSchedule(initial=4 * 3600, maximum=4 * 3600))
    request = start_request("apr-w10", **{**WATCHED, "escalate_to": "S0GONE"})
    assert run.wait(request) == "expired"
    assert "publish-escalated" in run.context.operations  # the thread is told it failed
    events = [e for e in run.approvals.audit("apr-w10") if e.kind == "escalation_failed"]
    assert [e.detail["group"] for e in events] == ["S0GONE"]
    assert "cannot be resolved" in events[0].detail["why"]
    assert run.approvals.get("apr-w10").policy.approvers == ("U0A",)


# -- the whole run -----------------------------------------------------------------------


def test_a_run_records_announces_waits_and_publishes_the_outcome() -> None:
    run = make_run()
    run.context.at(5, lambda: run.approvals.decide("apr-w11", "U0A", Decision.APPROVE))
    event = request_to_payload(start_request("apr-w11"))
    assert run_approval(event, run.context, run.deps) == {"id": "apr-w11", "status": "approved"}
    assert run.context.operations == [
        "resolve-request", "create-record", "publish-requested", *rounds(0), "look-1",
        "publish-outcome",
    ]  # fmt: skip
    assert run.published.topics == [Topic.REQUESTED, Topic.DECIDED]
    assert run.approvals.get("apr-w11").execution_id == State().durable_execution_arn


def test_a_kickoff_the_policies_refuse_writes_nothing() -> None:
    run = make_run()
    event = request_to_payload(start_request("apr-w12", approver_groups=("S0NOPE",), approvers=()))
    result = run_approval(event, run.context, run.deps)
    assert result["status"] == "refused" and "S0NOPE" in result["error"]
    assert run.context.operations == ["resolve-request"]
    with pytest.raises(NotFoundError):
        run.approvals.get("apr-w12")


def test_a_ring_with_nothing_decided_is_one_more_look() -> None:
    """A ring is a hint: the workflow reads the record, so a ring with nothing decided
    is one more look and the wait goes on."""
    run = make_run()
    run.context.at(90, lambda: run.context.ring("cb-doorbell-1"))
    run.context.at(200, lambda: run.approvals.cancel("apr-w13", "U0REQ"))
    assert run.wait(start_request("apr-w13")) == "cancelled"
    assert run.context.ran_at["look-2"] == run.at(90)
    assert run.approvals.get("apr-w13").status is Status.CANCELLED
