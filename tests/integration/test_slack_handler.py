"""slack_handler.app.handler with Function URL events, real signatures, real servers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import slack_handler.app
from signoff.model import Decision, SlackRef, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import block_actions, signed_event, slash_command

pytestmark = pytest.mark.integration


def open_approval(
    approvals: Approvals,
    store: DynamoApprovalStore,
    slack: StandInServer,
    approval_id: str = "apr-slack",
) -> str:
    approvals.open(start_request(approval_id, title="Rotate <!here> keys"))
    # A message the handler can update, as the notifier would have posted it.
    posted = slack.standin.api(
        "chat.postMessage", "xoxb-test-token", {"channel": "approvals", "text": "x"}
    )
    from datetime import UTC, datetime

    store.set_message(approval_id, SlackRef("approvals", posted["ts"]), datetime.now(UTC))
    return posted["ts"]


def response_url(slack: StandInServer, user: str, ts: str) -> str:
    return slack.standin._response_url("approvals", user, ts)


def call(
    body: str, lambda_context: Any, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, Any]:
    return slack_handler.app.handler(
        signed_event(body, secret, timestamp=timestamp), lambda_context
    )


def test_approve_click_decides_and_updates_the_message(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    result = call(
        block_actions("U0A", "signoff.approve", "apr-slack", response_url(slack, "U0A", ts), ts=ts),
        lambda_context,
    )
    assert result["statusCode"] == 200
    approval = store.get("apr-slack")
    assert approval.status is Status.APPROVED and approval.decided_by == "U0A"
    message = slack.standin.conversation()["messages"][0]
    assert message["edits"] == 1
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    assert "Approved" in json.dumps(message["blocks"])


def test_refused_click_gets_an_ephemeral_reason_and_changes_nothing(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    result = call(
        block_actions("U0X", "signoff.approve", "apr-slack", response_url(slack, "U0X", ts), ts=ts),
        lambda_context,
    )
    assert result["statusCode"] == 200
    assert store.get("apr-slack").status is Status.PENDING
    ephemerals = slack.standin.conversation()["ephemerals"]
    assert ephemerals[-1]["user"] == "U0X"
    assert "not an approver" in ephemerals[-1]["text"]
    assert [e["kind"] for e in store.audit("apr-slack")][-1] == "vote_refused"


def test_click_on_a_decided_request_is_refused(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    approvals.decide("apr-slack", "U0A", Decision.APPROVE)
    call(
        block_actions("U0A", "signoff.reject", "apr-slack", response_url(slack, "U0A", ts), ts=ts),
        lambda_context,
    )
    assert "already approved" in slack.standin.conversation()["ephemerals"][-1]["text"]


@pytest.mark.parametrize(
    ("secret", "age"),
    [("forged-secret", 0), (SIGNING_SECRET, 6 * 60)],
    ids=["forged", "stale"],
)
def test_forged_or_stale_requests_get_401_and_change_nothing(
    lambda_env, approvals, store, slack, lambda_context, secret, age
) -> None:
    ts = open_approval(approvals, store, slack)
    body = block_actions(
        "U0A", "signoff.approve", "apr-slack", response_url(slack, "U0A", ts), ts=ts
    )
    result = call(body, lambda_context, secret=secret, timestamp=int(time.time()) - age)
    assert result["statusCode"] == 401
    assert store.get("apr-slack").status is Status.PENDING
    assert [e["kind"] for e in store.audit("apr-slack")] == ["created", "notified"]


def test_tampered_body_gets_401(lambda_env, approvals, store, slack, lambda_context) -> None:
    ts = open_approval(approvals, store, slack)
    body = block_actions(
        "U0X", "signoff.approve", "apr-slack", response_url(slack, "U0X", ts), ts=ts
    )
    event = signed_event(body, SIGNING_SECRET)
    event["body"] = body.replace("U0X", "U0A")  # signature was for U0X
    assert slack_handler.app.handler(event, lambda_context)["statusCode"] == 401
    assert store.get("apr-slack").status is Status.PENDING


def test_reject_opens_a_modal_and_the_reason_decides(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    trigger = slack.standin._trigger("U0A")
    body = block_actions(
        "U0A", "signoff.reject", "apr-slack", response_url(slack, "U0A", ts), ts=ts
    ).replace("trigger-1", trigger)
    assert call(body, lambda_context)["statusCode"] == 200
    views = slack.standin.conversation()["views"]
    assert views and views[0]["view"]["callback_id"] == "signoff.reject_reason"
    assert store.get("apr-slack").status is Status.PENDING  # nothing decided until the reason

    # An empty reason is answered inside the modal, not recorded.
    slack.standin._events_url = "unused"
    from urllib.parse import urlencode

    def submission(reason: str) -> str:
        view = {
            **views[0]["view"],
            "state": {
                "values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
            },
        }
        payload = {
            "type": "view_submission",
            "user": {"id": "U0A"},
            "team": {"id": "T0LOCAL"},
            "api_app_id": "A0SIGNOFF",
            "view": view,
        }
        return urlencode({"payload": json.dumps(payload)})

    empty = call(submission(" "), lambda_context)
    assert json.loads(empty["body"])["response_action"] == "errors"
    assert store.get("apr-slack").status is Status.PENDING

    done = call(submission("freeze <!channel> week"), lambda_context)
    assert done["statusCode"] == 200 and not done.get("body")
    approval = store.get("apr-slack")
    assert approval.status is Status.REJECTED
    assert approval.reason == "freeze <!channel> week"
    blocks_text = json.dumps(slack.standin.conversation()["messages"][0]["blocks"])
    assert "freeze &lt;!channel&gt; week" in blocks_text


def test_slash_list_answers_with_pending(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    open_approval(approvals, store, slack)
    result = call(slash_command("U0X", "list"), lambda_context)
    assert result["statusCode"] == 200
    answer = json.loads(result["body"])
    assert answer["response_type"] == "ephemeral"
    assert "apr-slack" in json.dumps(answer["blocks"])


def test_slash_list_with_the_word_payload_is_not_parsed_as_empty(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    """Bolt 1.30 parses any form body containing 'payload' as an interactivity payload."""
    open_approval(approvals, store, slack)
    result = call(slash_command("U0X", "list payload"), lambda_context)
    assert result["statusCode"] == 200
    assert "apr-slack" in json.dumps(json.loads(result["body"])["blocks"])


def test_slash_show_and_help(lambda_env, approvals, store, slack, lambda_context) -> None:
    open_approval(approvals, store, slack)
    shown = json.loads(call(slash_command("U0X", "show apr-slack"), lambda_context)["body"])
    assert "Rotate &lt;!here&gt; keys" in json.dumps(shown["blocks"])
    missing = json.loads(call(slash_command("U0X", "show apr-nope"), lambda_context)["body"])
    assert "no approval with id" in missing["text"]
    helped = json.loads(call(slash_command("U0X", "help"), lambda_context)["body"])
    assert "/signoff list" in helped["text"]
