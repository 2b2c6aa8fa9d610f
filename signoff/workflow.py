"""The durable approval workflow.

Replay runs this function from the top on every invocation, so every side effect (the
record, the clock, SNS) sits inside a named step; what lies outside them is
deterministic. Each round of the wait has its own operation names (`look-3`, ...).

The wait: look at the record (expiring it at the deadline); if it is still pending,
create a durable callback — the doorbell — keep its id on the record, look once more
(a decision may have landed in between), and sleep until the callback is rung or times
out. Whoever commits a decision rings it, so the workflow resumes at once; the timeout is
the safety poll, growing from minutes to hours, never past the deadline. The record stays
the one source of truth: a ring only wakes the workflow to read it.

Kickoff comes first: the request is resolved against the deployment's policies in a
step (`resolve-request`), so the groups' members are looked up once and a replay keeps
what that lookup found. A request the policies refuse ends the workflow with nothing
written. A vote short of the quorum rings the doorbell too: the workflow publishes
"voted" (the notifier replies in the thread and re-renders the message) and waits on.

A named policy's reminders and escalation are the workflow's too (`Plan`): no sleep
passes the next of them, and each is a named step — `remind-3` audits the third
reminder, `escalate` adds the escalation group's members (looked up inside the step, so
a replay keeps what it found) — followed by an SNS message for the notifier, which
replies in the thread once per key. Their step names come from checkpointed looks, so a
replay or a restart finds them done and does not repeat them.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aws_durable_execution_sdk_python.config import CallbackConfig, Duration
from aws_durable_execution_sdk_python.exceptions import CallbackTimeoutError
from botocore.exceptions import BotoCoreError, ClientError

from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import BackendError, ConfigError, SignoffError, ValidationError
from signoff.events import Publisher, Topic
from signoff.model import Approval, StartRequest, Status
from signoff.observability import (
    APPROVALS_DECIDED,
    APPROVALS_STARTED,
    DECISION_TO_RESUME,
    REQUEST_TO_DECISION,
    NoTelemetry,
    Telemetry,
)
from signoff.service import Approvals

if TYPE_CHECKING:
    from signoff.policy import GroupDirectory

PENDING = Status.PENDING.value

T = TypeVar("T")


class DurableLogger(Protocol):
    """Replay-aware: a line an earlier invocation wrote is not written again."""

    def info(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None: ...


class ExecutionState(Protocol):
    @property
    def durable_execution_arn(self) -> str: ...


class DurableCallback(Protocol):
    @property
    def callback_id(self) -> str: ...

    def result(self) -> object:
        """Suspends until the callback is sent its result; CallbackTimeoutError after its
        timeout."""
        ...


class DurableContext(Protocol):
    """What the workflow uses of the durable SDK's context (the SDK's own satisfies it; the
    fast tests run the workflow on a fake)."""

    @property
    def logger(self) -> DurableLogger: ...
    @property
    def state(self) -> ExecutionState: ...

    def step(self, func: Callable[[Any], T], name: str | None = None) -> T:
        """Runs `func` once and checkpoints its result; a replay returns the checkpoint."""
        ...

    def wait(self, duration: Duration, name: str | None = None) -> None: ...
    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> DurableCallback: ...


@dataclass(frozen=True)
class PollSchedule:
    """How long the workflow sleeps between looks at the record, when nobody rings.

    Sleeps grow from `initial` by `backoff` up to `maximum` and never pass the deadline,
    so expiry is noticed within a second of it. There is no attempt limit: the deadline
    ends the wait.
    """

    initial: int = 60
    maximum: int = 4 * 3600
    backoff: float = 2.0

    def delay(self, attempts_made: int, seconds_left: float) -> int:
        # The exponent stops growing long after `maximum` is reached (a week of polls would
        # otherwise overflow a float).
        grown = self.initial * self.backoff ** min(max(0, attempts_made - 1), 64)
        delay = min(grown, float(self.maximum), math.ceil(max(seconds_left, 0)))
        return max(1, math.ceil(delay))


@dataclass(frozen=True)
class WorkflowDeps:
    approvals: Approvals
    publisher: Publisher
    schedule: PollSchedule
    doorbell: bool = True  # off: no callback, the workflow resumes on its poll alone
    # The deployment's policies applied and groups resolved (signoff.policy.resolve);
    # None: ad-hoc requests only, no groups.
    kickoff: Callable[[StartRequest], StartRequest] | None = None
    telemetry: Telemetry = field(default_factory=NoTelemetry)
    # Where an escalation looks its group up (kickoff's directory); None: nowhere, so an
    # escalation is recorded as failed.
    groups: GroupDirectory | None = None

    def resolve(self, request: StartRequest) -> StartRequest:
        if self.kickoff is not None:
            return self.kickoff(request)
        from signoff.policy import PolicyBook, resolve

        return resolve(request, PolicyBook(), _NoGroups())


@dataclass(frozen=True)
class Plan:
    """When a pending request's reminders and escalation are due (epoch seconds).

    Reminder k is due k times `remind_every` after creation, before the deadline; the
    escalation `escalate_after` after creation, before the deadline. Pure: the workflow
    feeds it checkpointed times only.
    """

    created: float
    expires: float
    remind_every: float = 0.0
    escalate_after: float = 0.0
    escalate_to: str = ""

    @classmethod
    def of(cls, request: StartRequest, created: float, expires: float) -> Plan:
        return cls(
            created,
            expires,
            request.remind_every.total_seconds() if request.remind_every else 0.0,
            request.escalate_after.total_seconds() if request.escalate_after else 0.0,
            request.escalate_to,
        )

    def reminder_due(self, now: float) -> int:
        """The number of the latest reminder due by `now` (0: none)."""
        if self.remind_every <= 0:
            return 0
        last = min(now, math.nextafter(self.expires, -math.inf))
        return max(0, math.floor((last - self.created) / self.remind_every))

    def escalation_due(self, now: float) -> bool:
        return self.escalate_after > 0 and self.created + self.escalate_after <= now < self.expires

    def next_event(self, now: float, reminded: int, escalated: bool) -> float:
        """The time of the next reminder, escalation or the deadline after `now`."""
        times = [self.expires]
        if self.remind_every > 0:
            upcoming = max(reminded, self.reminder_due(now)) + 1
            times.append(self.created + upcoming * self.remind_every)
        if self.escalate_after > 0 and not escalated:
            times.append(self.created + self.escalate_after)
        return min(times)


class _NoGroups:
    def members(self, group_id: str) -> tuple[str, ...]:
        raise ValidationError(f"the user group {group_id} cannot be resolved here")


def run_approval(
    event: dict[str, Any], context: DurableContext, deps: WorkflowDeps
) -> dict[str, Any]:
    asked = request_from_payload(event)
    execution_id = context.state.durable_execution_arn
    # context.logger is replay-aware: a line already written by an earlier invocation of
    # this execution is not written again when the replay passes it.
    # The correlation id: the execution's ARN, the same on every invocation of it.
    deps.telemetry.correlate(execution_id)
    deps.telemetry.tag(approval_id=asked.id)

    def resolve(_: Any) -> dict[str, Any]:
        try:
            resolved = request_to_payload(deps.resolve(asked))
        except ValidationError as exc:
            return {"refused": str(exc)}
        except ConfigError as exc:  # a broken policy document: no request can be checked
            return {"refused": f"the deployment's policy document is broken: {exc}"}
        except BackendError as exc:  # the document or a group could not be read
            return {"refused": f"kickoff could not read what it needs, try again: {exc}"}
        # Only what kickoff changed (the members found, the policy's rules): the request's
        # text is in the execution's input already, and the whole request with 500 members
        # could pass AWS's 256 KB per checkpoint (signoff/limits.py).
        return {"resolved": _changes(request_to_payload(asked), resolved)}

    resolved = context.step(resolve, name="resolve-request")
    if "refused" in resolved:
        return {"id": asked.id, "status": "refused", "error": resolved["refused"]}
    request = request_from_payload(
        resolved["request"]  # checkpointed whole by an earlier version
        if "request" in resolved
        else _applied(request_to_payload(asked), resolved["resolved"])
    )

    def create(_: Any) -> dict[str, Any]:
        approval = deps.approvals.open(request, execution_id)
        deps.telemetry.count(APPROVALS_STARTED)
        return {
            "id": approval.id,
            "expires_epoch": approval.expires_at.timestamp(),
            "created_epoch": approval.created_at.timestamp(),
        }

    created = context.step(create, name="create-record")
    context.logger.info("approval opened", extra={"approval_id": request.id})
    context.step(
        lambda _: deps.publisher.publish(Topic.REQUESTED, request.id), name="publish-requested"
    )
    expires = float(created["expires_epoch"])
    started = float(created.get("created_epoch", expires - request.timeout.total_seconds()))
    plan = Plan.of(request, started, expires)
    status = await_outcome(context, deps, request.id, expires, plan)
    context.logger.info("approval closed", extra={"approval_id": request.id, "status": status})

    def publish_outcome(_: Any) -> str:
        _report_outcome(deps, request.id)
        return deps.publisher.publish(Topic.DECIDED, request.id)

    context.step(publish_outcome, name="publish-outcome")
    return {"id": request.id, "status": status}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What turns payload `before` into `after`: the keys set, and the keys dropped."""
    return {
        "set": {k: v for k, v in after.items() if k not in before or before[k] != v},
        "drop": [k for k in before if k not in after],
    }


def _applied(before: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in before.items() if k not in changes["drop"]}
    return {**kept, **changes["set"]}


def _report_outcome(deps: WorkflowDeps, approval_id: str) -> None:
    """The outcome's metrics, once per execution (inside the step that follows the wait):
    the outcome, request → decision, and decision → this resume."""
    try:
        approval = deps.approvals.get(approval_id)
    except (SignoffError, ClientError, BotoCoreError):
        return  # metrics never fail the workflow
    outcome = approval.status.value
    deps.telemetry.count(APPROVALS_DECIDED, Outcome=outcome)
    if approval.decided_at is not None:
        waited = (approval.decided_at - approval.created_at).total_seconds()
        deps.telemetry.measure(REQUEST_TO_DECISION, waited, "Seconds", Outcome=outcome)
        resumed = deps.approvals.clock() - approval.decided_at
        deps.telemetry.measure(
            DECISION_TO_RESUME, resumed.total_seconds() * 1000, "Milliseconds", Outcome=outcome
        )


def await_outcome(
    context: DurableContext,
    deps: WorkflowDeps,
    approval_id: str,
    expires_epoch: float,
    plan: Plan | None = None,
) -> str:
    """Wait until the record is closed; returns its status.

    Between looks it reminds and escalates as `plan` says, and never sleeps past the next
    of them (nor the deadline).
    """
    plan = plan or Plan(0.0, expires_epoch)
    shown = 0  # votes the message was last asked to show
    reminded = 0  # the last reminder done
    escalated = False
    attempts = 0  # escalation attempts that met a store error
    for n in itertools.count():
        look = context.step(
            lambda _: _observe(deps, lambda: deps.approvals.expire_if_due(approval_id)),
            name=f"look-{n}",
        )
        if look["status"] != PENDING:
            return str(look["status"])
        if look.get("votes", shown) > shown:
            context.step(
                lambda _: deps.publisher.publish(Topic.VOTED, approval_id),
                name=f"publish-progress-{n}",
            )
            shown = look["votes"]
        now = float(look["now"])
        due = plan.reminder_due(now)
        if due > reminded:  # only the latest: reminders missed while down are not sent late
            _remind(context, deps, approval_id, due)
            reminded = due
        if not escalated and plan.escalation_due(now):
            escalated = _escalate(context, deps, approval_id, plan.escalate_to, attempts)
            attempts += 0 if escalated else 1
        upcoming = plan.next_event(now, reminded, escalated)
        sleep = Duration(seconds=deps.schedule.delay(n + 1, upcoming - now))
        if not deps.doorbell:
            context.wait(sleep, name=f"poll-{n}")
            continue
        bell = context.create_callback(name=f"doorbell-{n}", config=CallbackConfig(timeout=sleep))

        def arm(_: Any, callback_id: str = bell.callback_id) -> dict[str, Any]:
            return _observe(deps, lambda: deps.approvals.arm_doorbell(approval_id, callback_id))

        armed = context.step(arm, name=f"arm-{n}")
        if armed["status"] != PENDING:
            return str(armed["status"])  # decided between the look and the arming
        if armed.get("votes", shown) != shown:
            continue  # a vote landed before the arming: show it, then wait
        # Suspends until rung, or until the sleep is over (then: look again, the safety poll).
        with contextlib.suppress(CallbackTimeoutError):
            bell.result()
    raise AssertionError("unreachable")  # pragma: no cover


def _remind(context: DurableContext, deps: WorkflowDeps, approval_id: str, number: int) -> None:
    """Reminder `number`: audited in one step, published in the next (each once)."""
    reminded = context.step(
        lambda _: _observe(deps, lambda: deps.approvals.remind(approval_id, number)),
        name=f"remind-{number}",
    )
    if reminded["status"] == PENDING and not reminded["error"]:
        context.step(
            lambda _: deps.publisher.publish(Topic.REMINDED, approval_id),
            name=f"publish-reminded-{number}",
        )


def _escalate(
    context: DurableContext, deps: WorkflowDeps, approval_id: str, group_id: str, attempt: int
) -> bool:
    """The escalation: its group looked up and committed in one step; True once done.

    A group that cannot be resolved is recorded (and told in the thread), not raised; a
    store error leaves it for the next look (then the step is `escalate-<attempt>`).
    """

    def escalate(_: Any) -> dict[str, Any]:
        directory = deps.groups or _NoGroups()
        members: tuple[str, ...] = ()
        problem = ""
        try:
            members = directory.members(group_id)
        except SignoffError as exc:  # unknown group, no permission, Slack down
            problem = str(exc)
        return _observe(deps, lambda: deps.approvals.escalate(approval_id, members, problem))

    done = context.step(escalate, name="escalate" if attempt == 0 else f"escalate-{attempt}")
    if done["error"]:
        return False
    if done["status"] == PENDING:
        context.step(
            lambda _: deps.publisher.publish(Topic.ESCALATED, approval_id),
            name="publish-escalated",
        )
    return True


def _observe(deps: WorkflowDeps, read: Any) -> dict[str, Any]:
    """The record's status and the time; an I/O error counts as "still pending".

    A step that raises is retried and then fails the workflow: a throttled read must
    only mean "look again later".
    """
    now = deps.approvals.clock().timestamp()
    try:
        approval: Approval = read()
    except (SignoffError, ClientError, BotoCoreError) as exc:
        return {"status": PENDING, "now": now, "error": str(exc)[:300]}
    return {
        "status": approval.status.value,
        "now": now,
        "error": "",
        "votes": len(approval.votes),
    }
