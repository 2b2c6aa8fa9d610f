"""CodePipeline's manual approval: the notification filed as an approval (its deadline never
past `expires`), and one PutApprovalResult per outcome with the notification's token —
against botocore's Stubber, which checks each call against the service's own model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from signoff.binding import Binding, BindingKind
from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import ValidationError
from signoff.gates.codepipeline import (
    CodePipelineGate,
    CodePipelineIntake,
    CodePipelineRoute,
    request_from_notification,
)
from signoff.gates.port import Gates
from signoff.gates.release import release_gate
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, StartRequest
from signoff.service import Approvals

NOW = datetime(2026, 12, 6, 9, 0, 30, tzinfo=UTC)
TOKEN = "1a2b3c4d-573f-4ea7-a67e-0123456789ab"
SHA = "0123456789abcdef0123456789abcdef01234567"
ROUTE = CodePipelineRoute(approvers=("U0A", "U0B"))
LEASE = timedelta(seconds=30)


def _claims(approvals: Approvals) -> InMemoryApprovalStore:
    """The store the notifier claims releases on (it implements the Claims port)."""
    assert isinstance(approvals.store, InMemoryApprovalStore)
    return approvals.store


def notification(**approval: Any) -> str:
    body = {
        "pipelineName": "web-prod",
        "stageName": "Approve",
        "actionName": "Signoff",
        "token": TOKEN,
        "expires": "2026-12-13T09:00Z",
        "externalEntityLink": "https://github.com/o/r/compare/a...b",
        "approvalReviewLink": "https://console.aws.amazon.com/codepipeline/home#/approve",
        "customData": f"Release 42 sha={SHA}",
        **approval,
    }
    return json.dumps({"region": "eu-west-1", "consoleLink": "https://x", "approval": body})


def test_a_notification_becomes_an_approval_that_ends_by_the_actions_expiry() -> None:
    request = request_from_notification(notification(), ROUTE, NOW)
    assert request.id.startswith("cp-")
    assert request_from_notification(notification(), ROUTE, NOW).id == request.id  # redelivery
    # 7 days less 30 seconds: never later than `expires`.
    assert NOW + request.timeout <= datetime(2026, 12, 13, 9, 0, tzinfo=UTC)
    assert request.timeout == timedelta(days=7) - timedelta(seconds=30)
    assert dict(request.fields)["pipeline"] == "web-prod"
    assert dict(request.fields)["details"] == f"Release 42 sha={SHA}"
    assert [link.name for link in request.links] == ["Review in CodePipeline", "Changes"]
    assert request.bindings == (Binding(BindingKind.SHA, SHA),)
    assert request.gate is not None and request.gate.kind == "codepipeline"
    assert request.gate.target["token"] == TOKEN
    soon = request_from_notification(notification(expires="2026-12-06T09:10Z"), ROUTE, NOW)
    assert soon.timeout == timedelta(minutes=9, seconds=30)
    # Through the workflow's payload unchanged.
    assert request_from_payload(request_to_payload(request)) == request


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("not json", "not JSON"),
        (json.dumps({"region": "x"}), "no approval object"),
        (notification(token=""), "token is missing"),
        (notification(pipelineName="a b"), "pipelineName is not a CodePipeline name"),
        (notification(expires="2026-12-06T09:00Z"), "expired already"),
        (notification(expires="tomorrow"), "is not a time"),
    ],
)
def test_what_is_not_an_approval_notification_is_refused(message: str, said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        request_from_notification(message, ROUTE, NOW)


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "codepipeline",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return client, Stubber(client)


def _filed(approvals: Approvals, message: str | None = None) -> str:
    request = request_from_notification(message or notification(), ROUTE, approvals.clock())
    approvals.open(request)
    return request.id


def _release(approvals: Approvals, client: Any, approval_id: str) -> None:
    """What the notifier does for one delivery of the outcome."""
    release_gate(
        _claims(approvals),
        Gates(CodePipelineGate(lambda: client)),
        approvals.get(approval_id),
        clock=approvals.clock,
        lease=LEASE,
        tries=3,
    )


def _expect(stubber: Stubber, status: str, summary: str) -> None:
    stubber.add_response(
        "put_approval_result",
        {"approvedAt": datetime(2026, 12, 6, tzinfo=UTC)},
        {
            "pipelineName": "web-prod",
            "stageName": "Approve",
            "actionName": "Signoff",
            "result": {"status": status, "summary": summary},
            "token": TOKEN,
        },
    )


def test_an_approval_is_one_put_approval_result_naming_the_approvers(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    approvals = Approvals(InMemoryApprovalStore())
    approval_id = _filed(approvals)
    approvals.decide(approval_id, "U0A", Decision.APPROVE)
    _expect(stubber, "Approved", f"Approved by U0A in signoff {approval_id}.")
    with stubber:
        for _ in range(3):  # SNS delivering the outcome three times
            _release(approvals, client, approval_id)
        stubber.assert_no_pending_responses()
    kinds = [e.kind.value for e in approvals.audit(approval_id)]
    assert kinds.count("gate_released") == 1


def test_a_rejection_says_who_and_why(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    approvals = Approvals(InMemoryApprovalStore())
    approval_id = _filed(approvals)
    approvals.decide(approval_id, "U0B", Decision.REJECT, "error budget spent")
    _expect(stubber, "Rejected", f"Rejected by U0B: error budget spent in signoff {approval_id}.")
    with stubber:
        _release(approvals, client, approval_id)
        _release(approvals, client, approval_id)
        stubber.assert_no_pending_responses()


def test_an_expiry_is_a_rejection(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    clock = [NOW]
    approvals = Approvals(InMemoryApprovalStore(), clock=lambda: clock[0])
    approval_id = _filed(approvals, notification(expires="2026-12-06T09:10Z"))
    clock[0] = NOW + timedelta(minutes=10)
    approvals.expire_if_due(approval_id)
    summary = (
        f"Rejected: signoff {approval_id} expired at 2026-12-06T09:10:00.000Z before "
        "1 approval(s); nobody had approved."
    )
    _expect(stubber, "Rejected", summary)
    with stubber:
        _release(approvals, client, approval_id)
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ApprovalAlreadyCompletedException", "gate_released"),
        ("InvalidApprovalTokenException", "gate_failed"),
    ],
)
def test_codepipelines_refusals(stubbed: tuple[Any, Stubber], code: str, kind: str) -> None:
    client, stubber = stubbed
    approvals = Approvals(InMemoryApprovalStore())
    approval_id = _filed(approvals)
    approvals.decide(approval_id, "U0A", Decision.APPROVE)
    stubber.add_client_error("put_approval_result", service_error_code=code)
    with stubber:
        _release(approvals, client, approval_id)
    assert kind in [e.kind.value for e in approvals.audit(approval_id)]


def test_a_throttled_answer_is_retried(stubbed: tuple[Any, Stubber]) -> None:
    from signoff.gates.port import GateRetryError

    client, stubber = stubbed
    approvals = Approvals(InMemoryApprovalStore())
    approval_id = _filed(approvals)
    approvals.decide(approval_id, "U0A", Decision.APPROVE)
    stubber.add_client_error("put_approval_result", service_error_code="ThrottlingException")
    _expect(stubber, "Approved", f"Approved by U0A in signoff {approval_id}.")
    with stubber:
        with pytest.raises(GateRetryError):
            _release(approvals, client, approval_id)
        _release(approvals, client, approval_id)
        stubber.assert_no_pending_responses()


class Recorded:
    def __init__(self) -> None:
        self.started: list[StartRequest] = []

    def start(self, request: StartRequest) -> object:
        self.started.append(request)
        return {}


def test_the_notifier_files_pipeline_records_and_passes_the_others_on() -> None:
    topic = "arn:aws:sns:eu-west-1:123456789012:pipeline-approvals"
    starter = Recorded()
    intake = CodePipelineIntake(topic, ROUTE, starter, lambda: NOW)
    ours = {"Sns": {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:signoff", "Message": "{}"}}
    event = {
        "Records": [
            {"Sns": {"TopicArn": topic, "Message": notification()}},
            ours,
            {"Sns": {"TopicArn": topic, "Message": "not json"}},  # dropped, logged
        ]
    }
    rest = intake.take(event)
    assert rest["Records"] == [ours]
    assert [r.gate.target["token"] for r in starter.started if r.gate] == [TOKEN]
