"""The Bolt listeners over the in-memory store and the Slack stand-in (no Java, no AWS).

Signed requests through the Function URL adapter, as in production; the store is the
in-memory one that passes the DynamoDB store's contract tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk import WebClient

from signoff.errors import ConfigError
from signoff.local.stack import LambdaContext
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Status
from signoff.refusals import Refusal, RefusalCode
from signoff.service import Approvals
from signoff.slack.app import SlackApp, build_app
from signoff.slack.request import handle_function_url
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
    assert approvals.store.audit("apr-l1")[-1].kind == "vote_refused"
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


UNSAFE_ID = "apr-\u202e1\x00\u200b"


@pytest.mark.parametrize("typed", [UNSAFE_ID, "x" * 3000, "APR-L1"])
def test_slash_show_of_what_is_not_an_id_says_so_without_echoing_it(
    app: SlackApp, typed: str
) -> None:
    answer = json.loads(call(app, slash_command("U0X", f"show {typed}"))["body"])
    assert answer == {
        "response_type": "ephemeral",
        "text": "That is not an approval id. Try `/signoff list`.",
    }


def test_a_click_on_what_is_not_an_id_is_told_with_the_id_escaped(
    app: SlackApp, slack: StandInServer
) -> None:
    url = slack.standin.response_url("approvals", "U0A")
    for action in ("signoff.approve", "signoff.reject", "signoff.cancel"):
        assert call(app, block_actions("U0A", action, UNSAFE_ID, url))["statusCode"] == 200
    told = [e["text"] for e in slack.standin.conversation()["ephemerals"]]
    assert len(told) == 3
    for text in told:
        assert "'apr-\\u202e1\\x00\\u200b' is not an approval id" in text
        assert not {"\u202e", "\x00", "\u200b"} & set(text)


def test_a_strangers_cancel_with_a_broken_policy_document_is_told_and_audited(
    app: SlackApp, approvals: Approvals, slack: StandInServer
) -> None:
    def unreadable() -> tuple[str, ...]:
        raise ConfigError("policies.yaml, line 2, column 3: the key 'p-1' is given twice")

    approvals.admins = unreadable
    url = slack.standin.response_url("approvals", "U0X")
    assert call(app, block_actions("U0X", "signoff.cancel", "apr-l1", url))["statusCode"] == 200
    (told,) = slack.standin.conversation()["ephemerals"]
    assert told["user"] == "U0X"
    assert (
        told["text"]
        == f"The request was not cancelled: {Refusal(RefusalCode.POLICIES_UNREADABLE)}."
    )
    last = approvals.audit("apr-l1")[-1]
    assert (last.kind, last.actor) == ("cancel_refused", "U0X")
    assert approvals.get("apr-l1").status is Status.PENDING
