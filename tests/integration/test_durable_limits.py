"""The longest and largest approval that validation accepts, run by the durable emulator on
skipped time and counted against AWS's durable limits (signoff/limits.py), which the
emulator does not enforce.

The policy: the shortest `remind_every` the document may hold, an escalation, the largest
quorum the card's text budget allows from a group of 500 (64-character ids). The request:
the rest of that budget in the character that costs most once checkpointed. Nobody decides.

The week is counted on the fake durable context of tests/unit/test_workflow_wait.py
(virtual time, no replay: a second, where the emulator's ~520 invocations each replaying
the history so far took two minutes), with the doorbell off and on; twelve hours of the
same approval run in the emulator first and on the fake context, which must run the same
operations with the same checkpoints. The workflow runs over the in-memory store (it passes
the store's contract tests; the count does not depend on the store). The same request then
runs for 90 minutes through the real handler on DynamoDB Local (which refuses an item over
400 KB, as DynamoDB does), moto's SNS and the Slack stand-in's group of 500.

With the doorbell off the workflow sleeps with `context.wait`, whose time the emulator
skips; a callback's timeout (the doorbell's) runs on the wall clock, so the emulator runs
with the doorbell off, and the fake context, whose callbacks time out in virtual time, with
both.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution, serdes
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

import workflow_fn.app
from signoff import limits, wiring
from signoff.codec import request_to_payload
from signoff.config import Settings
from signoff.events import Topic
from signoff.memstore import InMemoryApprovalStore
from signoff.model import (
    MAX_APPROVERS,
    MAX_MEMBERS,
    MAX_TIMEOUT,
    StartRequest,
    Status,
    format_duration,
)
from signoff.policy import PolicyBook, resolve
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from signoff.workflow import PollSchedule, WorkflowDeps, run_approval
from tests import card_shapes
from tests.card_shapes import largest_quorum
from tests.conftest import StandInServer
from tests.unit.test_workflow_wait import Clock, FakeDurable

T = TypeVar("T")

pytestmark = pytest.mark.integration

# Outside the Basic Multilingual Plane: one character to Slack, a \\u escape pair (12
# bytes) in the JSON the durable SDK checkpoints. No character costs more.
WIDE = "\U0001f600"
ESCALATE_AFTER = timedelta(hours=1)
SHORTEST = limits.shortest_reminder(ESCALATE_AFTER, MAX_APPROVERS)
ONCALL = 5
HALF_DAY = timedelta(hours=12)
# A checkpointed time is a float of seconds since the epoch, printed as short as it reads
# back: "1795784400.0" (12 characters) to 17 significant digits (18). Sizes are counted
# with every such float at its widest, so a time that happens to be round costs no less.
FLOAT = re.compile(r'(?<="t":"f","v":)-?[0-9.eE+-]+')
WIDEST_FLOAT = 18


def widest(checkpoint: str) -> int:
    """Bytes of a checkpoint with each float it holds printed at its widest."""
    return len(FLOAT.sub("9" * WIDEST_FLOAT, checkpoint).encode())


def people(prefix: str, count: int) -> tuple[str, ...]:
    """User ids as long as validation allows (64 characters)."""
    return tuple(f"{prefix}{n:063d}" for n in range(count))


def shape(approval_id: str, timeout: timedelta) -> dict[str, Any]:
    """The request as the workflow resolves it: the policy's group of 500 and escalation."""
    return {
        "id": approval_id,
        "requester": "U" + "R" * 63,
        "approvers": (),
        "approver_groups": ("S0BIG",),
        "members": people("U", MAX_MEMBERS),
        "escalate_after": ESCALATE_AFTER,
        "escalate_to": "S0ONCALL",
        "policy": "longest",
        "channel": "c" * 80,
        "timeout": timeout,
    }


# The largest quorum the card's text budget allows (signoff/cardtext.py: every vote may
# carry a reason of 500 characters, and the card holds them all).
QUORUM = largest_quorum(WIDE, **shape("apr-" + "l" * 60, MAX_TIMEOUT))


def longest_policy() -> str:
    """The policy document: the validation it passes is the deployment's."""
    assert SHORTEST is not None
    return (
        "policies:\n"
        "  longest:\n"
        "    approver_groups: [S0BIG]\n"
        f"    min_approvals: {QUORUM}\n"
        f"    remind_every: {format_duration(SHORTEST)}\n"
        f"    escalate_after: {format_duration(ESCALATE_AFTER)}\n"
        "    escalate_to: S0ONCALL\n"
    )


def largest_request(approval_id: str, timeout: timedelta = MAX_TIMEOUT) -> StartRequest:
    """Every text in WIDE characters, as much as the card's budget leaves at QUORUM, as the
    CLI sends it (the policy's rules and members are filled in by the workflow)."""
    resolved = card_shapes.largest_request(
        WIDE, **shape(approval_id, timeout), min_approvals=QUORUM
    )
    return replace(
        resolved,
        approver_groups=(),
        members=(),
        min_approvals=1,
        escalate_after=None,
        escalate_to="",
    )


class Groups:
    def members(self, group_id: str) -> tuple[str, ...]:
        return people("U", MAX_MEMBERS) if group_id == "S0BIG" else people("W", ONCALL)


class Published:
    def __init__(self) -> None:
        self.kinds: Counter[Topic] = Counter()

    def publish(self, kind: Topic, approval_id: str) -> str:
        self.kinds[kind] += 1
        return f"m-{sum(self.kinds.values())}"


def payload_bytes(operation: Any) -> int:
    result = getattr(operation, "result", None)
    return widest(result) if isinstance(result, str) else 0


class Recording(FakeDurable):
    """The fake durable context, keeping each step's checkpoint as the SDK writes it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.checkpoints: dict[str, str] = {}

    def step(self, func: Callable[[Any], T], name: str | None = None) -> T:
        result = super().step(func, name)
        self.checkpoints[str(name)] = serdes.serialize(None, result, str(name), "arn")
        return result


def on_fake_context(request: StartRequest, *, doorbell: bool) -> tuple[Recording, Published]:
    """The workflow run whole on the fake durable context, in virtual time (linear: no replay)."""
    clock = Clock()
    clock.now += timedelta(microseconds=123457)  # times as long as the emulator's
    context = Recording(clock)
    published = Published()
    book = PolicyBook.parse(longest_policy(), source="policies.yaml")
    deps = WorkflowDeps(
        approvals=Approvals(InMemoryApprovalStore(), clock=clock, doorbell=context),
        publisher=published,
        # AWS's safety poll: the template sets none of SIGNOFF_POLL_*.
        schedule=PollSchedule(
            Settings.poll_initial_seconds, Settings.poll_max_seconds, Settings.poll_backoff
        ),
        doorbell=doorbell,
        kickoff=lambda request: resolve(request, book, Groups()),
        groups=Groups(),
    )
    outcome = run_approval(request_to_payload(request), cast(DurableContext, context), deps)
    assert outcome == {"id": request.id, "status": "expired"}
    approval = deps.approvals.get(request.id)
    assert approval.status is Status.EXPIRED and approval.policy.escalated
    assert len(approval.policy.approvers) == MAX_MEMBERS + ONCALL
    assert isinstance(approval.decided_at, datetime)
    assert approval.decided_at - approval.created_at >= request.timeout
    return context, published


def test_the_fake_durable_context_counts_what_the_emulator_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twelve hours of the longest approval in the emulator (~40 invocations, each replaying
    the history so far) and on the fake context: the same operations, the same checkpoints.
    The week is then counted on the fake context (next test), where it takes no replay."""
    # The SDK's checkpoint thread looks for its stop signal every 0.1 s, a pause at the end
    # of each invocation; a few milliseconds keep the test short.
    monkeypatch.setattr("aws_durable_execution_sdk_python.state._STOP_SIGNAL_POLL_SECONDS", 0.005)
    store = InMemoryApprovalStore()
    clock: list[Any] = [None]
    published = Published()
    book = PolicyBook.parse(longest_policy(), source="policies.yaml")
    deps = WorkflowDeps(
        approvals=Approvals(store, clock=lambda: clock[0]()),
        publisher=published,
        schedule=PollSchedule(
            Settings.poll_initial_seconds, Settings.poll_max_seconds, Settings.poll_backoff
        ),
        doorbell=False,  # see the module's docstring
        kickoff=lambda request: resolve(request, book, Groups()),
        groups=Groups(),
    )

    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        return run_approval(event, context, deps)

    request = largest_request("apr-" + "l" * 60, timeout=HALF_DAY)
    with DurableFunctionTestRunner(handler=handler, skip_time=True) as runner:
        clock[0] = lambda: runner._clock.now()  # the emulator's: it jumps when a wait is skipped
        arn = runner.run_async(
            input=json.dumps(request_to_payload(request)),
            execution_name=request.id,
            execution_timeout=8 * 86400,  # template.yaml's ExecutionTimeout
        )
        result = runner.wait_for_result(arn, timeout=600)  # real seconds
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result) == {"id": request.id, "status": "expired"}
    approval = store.get(request.id)
    assert approval.status is Status.EXPIRED and approval.policy.escalated

    fake, fake_published = on_fake_context(request, doorbell=False)
    assert sorted(str(op.name) for op in result.operations) == sorted(fake.operations)
    assert fake_published.kinds == published.kinds
    assert SHORTEST is not None
    assert published.kinds[Topic.REMINDED] == -(-HALF_DAY // SHORTEST) - 1
    emulated = {str(op.name): payload_bytes(op) for op in result.operations}
    faked = {name: widest(checkpoint) for name, checkpoint in fake.checkpoints.items()}
    assert faked.keys() <= emulated.keys()
    assert {n: emulated[n] for n in faked} == faked
    assert faked["resolve-request"] == emulated["resolve-request"] == max(emulated.values())


def test_the_longest_approval_stays_within_the_durable_limits() -> None:
    """The whole week on the fake context (the previous test shows it counts as the emulator
    does), with the doorbell off and on: what it spends, against the estimate and AWS's
    limits."""
    request = largest_request("apr-" + "l" * 60)
    assert request.timeout == MAX_TIMEOUT
    counted: dict[bool, int] = {}
    for doorbell in (False, True):
        context, published = on_fake_context(request, doorbell=doorbell)
        # It ran the whole week: every reminder, the escalation, the expiry at the deadline.
        assert SHORTEST is not None
        reminders = -(-MAX_TIMEOUT // SHORTEST) - 1  # every interval before the deadline
        assert published.kinds == Counter(
            {Topic.REQUESTED: 1, Topic.REMINDED: reminders, Topic.ESCALATED: 1, Topic.DECIDED: 1}
        )
        counted[doorbell] = len(context.operations) + 1  # and the execution itself
        for name in context.operations:  # OperationUpdate.Name: 1-256 printable ASCII
            assert name and len(name) <= 256 and name.isascii() and name.isprintable(), name
        if not doorbell:
            checkpoints = context.checkpoints
            waits = sum(1 for name in context.operations if name.startswith("poll-"))

    assert SHORTEST is not None
    planned = limits.operations(MAX_TIMEOUT, SHORTEST, ESCALATE_AFTER, votes=MAX_APPROVERS - 1)
    print(
        f"\n{format_duration(MAX_TIMEOUT)}, remind_every {format_duration(SHORTEST)}, "
        f"escalation after {format_duration(ESCALATE_AFTER)}, nobody deciding: "
        f"{counted[False]} operations with the doorbell off ({waits} waits), "
        f"{counted[True]} with it on; planned for with 24 votes: {planned} "
        f"(budget {limits.OPERATIONS_BUDGET}, AWS {limits.MAX_OPERATIONS})"
    )
    # The estimate is an upper bound of what ran, and a close one; the plan, with every
    # vote the quorum leaves room for, stays within the budget.
    for doorbell in (False, True):
        estimate = limits.operations(MAX_TIMEOUT, SHORTEST, ESCALATE_AFTER, doorbell=doorbell)
        assert counted[doorbell] <= estimate <= counted[doorbell] * 1.05, (doorbell, estimate)
    assert counted[True] < planned <= limits.OPERATIONS_BUDGET < limits.MAX_OPERATIONS

    # Payloads: the largest checkpoint (resolve-request: the 500 members found), and every
    # checkpoint summed with the input.
    sizes = {name: widest(checkpoint) for name, checkpoint in checkpoints.items()}
    largest = max(sizes, key=sizes.__getitem__)
    stored = sum(sizes.values()) + len(json.dumps(request_to_payload(request)).encode())
    print(f"largest checkpoint: {largest}, {sizes[largest]:,} bytes; all: {stored:,} bytes")
    assert largest == "resolve-request"
    assert sizes[largest] <= limits.MAX_CHECKPOINT_BYTES // 2
    assert stored <= limits.MAX_STORAGE_BYTES // 10


def with_longest_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(longest_policy())
    monkeypatch.setenv("SIGNOFF_POLICIES_FILE", str(path))
    # context.wait's time is skipped by the emulator, a callback's timeout is not.
    monkeypatch.setenv("SIGNOFF_DOORBELL", "off")
    # AWS's safety poll (the template sets none), not the fixture's one second.
    monkeypatch.setenv("SIGNOFF_POLL_INITIAL_SECONDS", "60")
    monkeypatch.setenv("SIGNOFF_POLL_MAX_SECONDS", "14400")
    wiring.reset()


def test_the_largest_request_checkpoints_and_stores_within_awss_limits(
    lambda_env,
    store: DynamoApprovalStore,
    slack: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    slack.standin.define_group("S0BIG", list(people("U", MAX_MEMBERS)))
    slack.standin.define_group("S0ONCALL", list(people("W", ONCALL)))
    with_longest_policy(monkeypatch, tmp_path)
    # 90 minutes: four reminders, the escalation (five more approvers on the record) and
    # the expiry, on skipped time.
    request = largest_request("apr-" + "x" * 60, timeout=timedelta(minutes=90))
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=True) as runner:
        monkeypatch.setattr(wiring.workflow_deps_from_env().approvals, "clock", runner._clock.now)
        arn = runner.run_async(
            input=json.dumps(request_to_payload(request)),
            execution_name=request.id,
            execution_timeout=3 * 3600,
        )
        result: Any = runner.wait_for_result(arn, timeout=240)  # real seconds
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["status"] == "expired"

    # The record, written whole to DynamoDB Local and read back: every approver, every text.
    approval = store.get(request.id)
    assert approval.policy.escalated
    assert len(approval.policy.approvers) == MAX_MEMBERS + ONCALL
    assert approval.title == request.title and approval.fields == request.fields
    names = [op.name for op in result.operations]
    assert names.count("escalate") == 1
    assert sum(1 for n in names if n and n.startswith("remind-")) == 4

    sizes = {str(op.name): payload_bytes(op) for op in result.operations}
    print(f"\nresolve-request checkpoint: {sizes['resolve-request']:,} bytes")
    assert max(sizes.values()) == sizes["resolve-request"] <= limits.MAX_CHECKPOINT_BYTES // 2


def test_what_kickoff_drops_from_a_payload_stays_dropped_on_every_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`resolve-request` keeps only what kickoff changed, and what it removed: a payload's
    own members, self-approval and reminders (invoked by hand) never reach the record."""
    monkeypatch.setattr("aws_durable_execution_sdk_python.state._STOP_SIGNAL_POLL_SECONDS", 0.005)
    store = InMemoryApprovalStore()
    clock: list[Any] = [None]
    published = Published()
    deps = WorkflowDeps(
        approvals=Approvals(store, clock=lambda: clock[0]()),
        publisher=published,
        schedule=PollSchedule(),
        doorbell=False,
        kickoff=lambda request: resolve(request, PolicyBook(), Groups()),
    )

    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        return run_approval(event, context, deps)

    asked = largest_request("apr-crafted", timeout=timedelta(minutes=30))
    payload = {
        **request_to_payload(asked),
        "policy": "",
        "approvers": ["U0A"],
        "members": ["U0REQ"],
        "allow_self_approval": True,
        "remind_every_seconds": 60,
    }
    with DurableFunctionTestRunner(handler=handler, skip_time=True) as runner:
        clock[0] = lambda: runner._clock.now()
        arn = runner.run_async(input=json.dumps(payload), execution_name=asked.id)
        result = runner.wait_for_result(arn, timeout=120)
    assert result.status.value == "SUCCEEDED", result.error
    approval = store.get(asked.id)
    assert approval.status is Status.EXPIRED
    assert approval.policy.approvers == ("U0A",) and not approval.policy.allow_self_approval
    assert approval.policy.remind_every is None and Topic.REMINDED not in published.kinds
    assert approval.title == asked.title and approval.fields == asked.fields
    # Its checkpoint holds none of the request's text: a few hundred bytes.
    assert len(result.get_step("resolve-request").result) < 500
