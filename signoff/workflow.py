"""The durable approval workflow.

Replay runs this function from the top on every invocation, so every side effect (the
record, the clock, SNS) sits inside a named step or the condition check; what lies
outside them is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig,
    WaitForConditionDecision,
)
from botocore.exceptions import BotoCoreError, ClientError

from signoff.errors import SignoffError
from signoff.events import Publisher, Topic
from signoff.model import StartRequest, Status
from signoff.service import Approvals


@dataclass(frozen=True)
class PollSchedule:
    """How often the workflow reads the decision record while it waits.

    Delays grow from `initial` by `backoff` up to `maximum` and never pass the
    deadline, so expiry is noticed within a second of it. There is no attempt
    limit: the deadline ends the wait.
    """

    initial: int = 2
    maximum: int = 60
    backoff: float = 1.5

    def delay(self, attempts_made: int, seconds_left: float) -> int:
        grown = self.initial * self.backoff ** max(0, attempts_made - 1)
        delay = min(grown, float(self.maximum), math.ceil(max(seconds_left, 0)))
        return max(1, math.ceil(delay))


@dataclass(frozen=True)
class WorkflowDeps:
    approvals: Approvals
    publisher: Publisher
    schedule: PollSchedule


def run_approval(event: dict[str, Any], context: Any, deps: WorkflowDeps) -> dict[str, Any]:
    request = StartRequest.from_payload(event)
    execution_id = str(getattr(context.state, "durable_execution_arn", ""))

    def create(_: Any) -> dict[str, Any]:
        approval = deps.approvals.open(request, execution_id)
        return {"id": approval.id, "expires_epoch": approval.expires_at.timestamp()}

    created = context.step(create, name="create-record")
    context.step(
        lambda _: deps.publisher.publish(Topic.REQUESTED, request.id), name="publish-requested"
    )

    def check(state: dict[str, Any], _: Any) -> dict[str, Any]:
        # A raised error would fail the whole wait at once: report it and keep polling.
        now = deps.approvals.clock().timestamp()
        try:
            approval = deps.approvals.expire_if_due(request.id)
        except (SignoffError, ClientError, BotoCoreError) as exc:
            return {**state, "checked_epoch": now, "error": str(exc)[:300]}
        return {
            **state,
            "status": approval.status.value,
            "checked_epoch": now,
            "error": "",
        }

    def strategy(state: dict[str, Any], attempts_made: int) -> WaitForConditionDecision:
        if state["status"] != Status.PENDING.value:
            return WaitForConditionDecision.stop_polling()
        seconds_left = state["expires_epoch"] - state["checked_epoch"]
        return WaitForConditionDecision.continue_waiting(
            Duration(seconds=deps.schedule.delay(attempts_made, seconds_left))
        )

    final = context.wait_for_condition(
        check,
        WaitForConditionConfig(
            wait_strategy=strategy,
            initial_state={
                "status": Status.PENDING.value,
                "expires_epoch": created["expires_epoch"],
                "checked_epoch": 0.0,
                "error": "",
            },
        ),
        name="await-decision",
    )
    context.step(
        lambda _: deps.publisher.publish(Topic.DECIDED, request.id), name="publish-outcome"
    )
    return {"id": request.id, "status": final["status"]}
