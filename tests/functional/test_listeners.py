"""The Bolt listeners over the in-memory store and the Slack stand-in (no Java, no AWS).

Signed requests through the Function URL adapter, as in production; the store is the
in-memory one that passes the DynamoDB store's contract tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk import WebClient

from signoff.local.stack import LambdaContext
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Status
from signoff.service import Approvals
from signoff.slack_app import SlackApp, build_app, handle_function_url
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.factories import Bell, start_request
from tests.integration.slack_events import block_actions, signed_event, slash_command


@pytest.fixture
def bell() -> Bell:
    return Bell()


@pytest.fixture
def approvals(bell: Bell) -> Approvals:
    service = Approvals(InMemoryApprovalStore(), doorbell=bell)
    service.open(start_request("apr-l1", title="Rotate <!here> keys"))
    return service


@pytest.fixture
def app(approvals: Approvals, slack: StandInServer) -> SlackApp:
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    return build_app(approvals, signing_secret=SIGNING_SECRET, client=client)


def call(app: SlackApp, body: str) -> dict[str, Any]:
    return handle_function_url(app, signed_event(body, SIGNING_SECRET), LambdaContext("t"))


def test_an_approvers_click_decides_and_rings_the_waiting_workflow(
    app: SlackApp, approvals: Approvals, slack: StandInServer, bell: Bell
) -> None:
    approvals.arm_doorbell("apr-l1", "cb-1")
    url = slack.standin.response_url("approvals", "U0A")
    assert call(app, block_actions("U0A", "signoff.approve", "apr-l1", url))["statusCode"] == 200
    assert approvals.get("apr-l1").status is Status.APPROVED
    assert bell.rung == ["cb-1"]
    assert slack.standin.conversation()["calls"] == []  # nothing else on the click path


def test_a_strangers_click_is_refused_privately_and_audited(
    app: SlackApp, approvals: Approvals, slack: StandInServer, bell: Bell
) -> None:
    url = slack.standin.response_url("approvals", "U0X")
    assert call(app, block_actions("U0X", "signoff.approve", "apr-l1", url))["statusCode"] == 200
    (told,) = slack.standin.conversation()["ephemerals"]
    assert told["user"] == "U0X" and "not an approver" in told["text"]
    assert approvals.get("apr-l1").status is Status.PENDING
    assert approvals.audit("apr-l1")[-1]["kind"] == "vote_refused"
    assert bell.rung == []


def test_slash_list_shows_the_pending_request_escaped(app: SlackApp) -> None:
    answer = json.loads(call(app, slash_command("U0X", "list"))["body"])
    assert answer["response_type"] == "ephemeral"
    rendered = json.dumps(answer["blocks"])
    assert "apr-l1" in rendered and "Rotate &lt;!here&gt; keys" in rendered


def test_a_forged_click_changes_nothing(app: SlackApp, approvals: Approvals) -> None:
    body = block_actions("U0A", "signoff.approve", "apr-l1", "http://127.0.0.1:9/x")
    forged = handle_function_url(app, signed_event(body, "not-the-secret"), LambdaContext("t"))
    assert forged["statusCode"] == 401
    assert approvals.get("apr-l1").status is Status.PENDING
