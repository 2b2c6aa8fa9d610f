"""A named policy's reminders and escalation, scheduled by the workflow in the durable
emulator with skipped time (an hour passes in seconds), against DynamoDB Local, moto's
SNS and the Slack stand-in's user groups."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

import workflow_fn.app
from signoff import wiring
from signoff.codec import request_to_payload
from signoff.errors import RefusedError
from signoff.model import Decision, Status
from signoff.policy import PolicyBook, SlackGroups, resolve
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import BOT_TOKEN, StandInServer, drain
from tests.factories import start_request

pytestmark = pytest.mark.integration

POLICIES = """
policies:
  prod-deploy:
    approvers: [U0A]
    remind_every: 20m
    escalate_after: 25m
    escalate_to: {group}
"""


def with_policies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, group: str) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES.format(group=group))
    monkeypatch.setenv("SIGNOFF_POLICIES_FILE", str(path))
    # Only the reminders, the escalation and the deadline wake the workflow. It sleeps
    # with context.wait: the emulator skips a wait's time, but runs a callback's timeout
    # (the doorbell's) on the wall clock. Both sleeps are the same computed delay.
    monkeypatch.setenv("SIGNOFF_DOORBELL", "off")
    monkeypatch.setenv("SIGNOFF_POLL_INITIAL_SECONDS", str(4 * 3600))
    monkeypatch.setenv("SIGNOFF_POLL_MAX_SECONDS", str(4 * 3600))
    wiring.reset()


def run_on_virtual_time(
    monkeypatch: pytest.MonkeyPatch, approval_id: str
) -> tuple[Any, DurableFunctionTestRunner]:
    request = start_request(
        approval_id, approvers=(), policy="prod-deploy", timeout=timedelta(hours=1)
    )
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=True) as runner:
        # The workflow's clock is the emulator's: it jumps when a timer is skipped.
        clock = runner._clock
        monkeypatch.setattr(wiring.workflow_deps_from_env().approvals, "clock", clock.now)
        # The execution's own timeout is on the emulator's clock too: past the deadline.
        arn = runner.run_async(
            input=json.dumps(request_to_payload(request)),
            execution_name=approval_id,
            execution_timeout=2 * 3600,
        )
        result = runner.wait_for_result(arn, timeout=240)  # real seconds
    return result, runner


def offsets(store: DynamoApprovalStore, approval_id: str, kind: str) -> list[float]:
    """When each `kind` audit event happened, in seconds after the request was created."""
    created = store.get(approval_id).created_at
    return [(e.at - created).total_seconds() for e in store.audit(approval_id) if e.kind == kind]


def test_reminders_and_the_escalation_fire_on_time_once_each(
    lambda_env,
    store: DynamoApprovalStore,
    slack: StandInServer,
    local_aws,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    slack.standin.define_group("S0ONCALL", ["U0ON1", "U0ON2"])
    with_policies(monkeypatch, tmp_path, "S0ONCALL")
    result, _ = run_on_virtual_time(monkeypatch, "apr-remind")
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result) == {"id": "apr-remind", "status": "expired"}

    names = Counter(op.name for op in result.operations if op.name)
    # Every 20 minutes of the hour: 20, 40 (not at the deadline itself).
    reminders = sorted(n for n in names if n.startswith("remind-"))
    assert reminders == [f"remind-{k}" for k in range(1, 3)]
    assert all(names[n] == 1 for n in reminders)
    assert names["escalate"] == 1 and names["publish-escalated"] == 1
    # Each woke the workflow on time: no sleep passed one of them (virtual seconds).
    reminded = offsets(store, "apr-remind", "reminded")
    assert len(reminded) == 2
    for k, at in enumerate(reminded, start=1):
        assert 1200 * k <= at < 1200 * k + 5, reminded
    (escalated,) = offsets(store, "apr-remind", "escalated")
    assert 1500 <= escalated < 1505
    expired = store.get("apr-remind")
    assert expired.status is Status.EXPIRED and expired.decided_at is not None
    assert timedelta(0) <= expired.decided_at - expired.expires_at < timedelta(seconds=5)
    # The group's members joined the approvers, on the record (the vote's condition).
    assert expired.policy.escalated
    assert expired.policy.approvers == ("U0A", "U0ON1", "U0ON2")
    assert expired.policy.groups == ("S0ONCALL",)
    audit = Counter(e.kind.value for e in store.audit("apr-remind"))
    assert audit["reminded"] == 2 and audit["escalated"] == 1
    published = Counter(
        json.loads(m["Message"])["type"] for m in drain(local_aws.endpoint, local_aws.queue_url)
    )
    assert published == Counter({"requested": 1, "reminded": 2, "escalated": 1, "decided": 1})


def test_a_group_that_cannot_be_resolved_is_recorded_and_the_wait_goes_on(
    lambda_env,
    store: DynamoApprovalStore,
    slack: StandInServer,
    local_aws,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    with_policies(monkeypatch, tmp_path, "S0GONE")  # the stand-in knows no such group
    result, _ = run_on_virtual_time(monkeypatch, "apr-nogroup")
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["status"] == "expired"
    kinds = [e.kind.value for e in store.audit("apr-nogroup")]
    assert kinds.count("escalation_failed") == 1 and "escalated" not in kinds
    (failed,) = [e for e in store.audit("apr-nogroup") if e.kind == "escalation_failed"]
    assert "no_such_subteam" in failed.detail["why"]
    approval = store.get("apr-nogroup")
    assert approval.policy.approvers == ("U0A",) and approval.policy.escalated


def test_an_escalated_member_may_vote_after_the_escalation_and_not_before(
    store: DynamoApprovalStore, slack: StandInServer
) -> None:
    slack.standin.define_group("S0ONCALL", ["U0ON1"])
    book = PolicyBook.parse(POLICIES.format(group="S0ONCALL"), source="test")
    groups = SlackGroups(lambda: _client(slack))
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    approvals = Approvals(store, clock=lambda: now[0])
    request = start_request(
        "apr-esc", approvers=(), policy="prod-deploy", timeout=timedelta(hours=1)
    )
    approvals.open(resolve(request, book, groups))

    with pytest.raises(RefusedError, match="not an approver"):
        approvals.decide("apr-esc", "U0ON1", Decision.APPROVE)
    now[0] += timedelta(minutes=25)
    escalated = approvals.escalate("apr-esc", groups.members("S0ONCALL"))
    assert escalated.policy.approvers == ("U0A", "U0ON1")
    # A second attempt (a retried step) changes nothing.
    assert approvals.escalate("apr-esc", ("U0OTHER",)).version == escalated.version
    decided = approvals.decide("apr-esc", "U0ON1", Decision.APPROVE)
    assert decided.status is Status.APPROVED and decided.decided_by == "U0ON1"
    kinds = [e.kind.value for e in store.audit("apr-esc")]
    assert kinds.count("escalated") == 1 and kinds.count("vote_refused") == 1


def _client(slack: StandInServer) -> Any:
    from slack_sdk import WebClient

    return WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
