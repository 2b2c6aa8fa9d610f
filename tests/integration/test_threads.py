"""Thread replies and the requester's DMs, through notifier.app.handler, on DynamoDB Local.

What Slack was sent is read from the stand-in's public record (`conversation()`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import notifier.app
from signoff.events import Topic
from signoff.local.slack_standin.workspace import dm_channel
from signoff.model import Decision
from signoff.service import Approvals
from tests.conftest import StandInServer
from tests.factories import start_request
from tests.integration.test_notifier import sns_event
from tests.slack_text import shown_as_typed

pytestmark = pytest.mark.integration

HOSTILE = "<!channel> <!here> <@U123> <https://x|y> & <b>bold</b>"


def request_message(slack: StandInServer) -> dict[str, Any]:
    (message,) = [
        m
        for m in slack.standin.conversation()["messages"]
        if (m.get("metadata") or {}).get("event_type") == "signoff_request"
    ]
    found: dict[str, Any] = message
    return found


def replies(slack: StandInServer, ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.standin.conversation()["messages"] if m.get("thread_ts") == ts]


def dms(slack: StandInServer, user: str) -> list[dict[str, Any]]:
    return [m for m in slack.standin.conversation()["messages"] if m["channel"] == dm_channel(user)]


def deliver(kind: Topic, approval_id: str, context: Any, times: int = 2) -> None:
    """Deliver one SNS message `times` times, as SNS may."""
    for n in range(times):
        assert notifier.app.handler(sns_event(kind, approval_id, f"m-{n}"), context) == {
            "handled": 1
        }


def test_the_requester_gets_one_dm_with_a_link_when_the_request_is_posted(
    lambda_env, approvals: Approvals, slack: StandInServer, lambda_context
) -> None:
    approvals.open(start_request("apr-t1", title=HOSTILE, channel="C0OPS"))
    deliver(Topic.REQUESTED, "apr-t1", lambda_context)
    message = request_message(slack)
    (dm,) = dms(slack, "U0REQ")
    text = json.dumps(dm["blocks"]) + dm["text"]
    assert f"/archives/C0OPS/p{message['ts'].replace('.', '')}" in text  # the permalink
    assert "apr-t1" in text and shown_as_typed(dm["blocks"], HOSTILE)
    assert replies(slack, message["ts"]) == []  # nothing happened yet


def test_each_event_replies_once_in_the_thread_and_the_outcome_is_dmed_once(
    lambda_env, approvals: Approvals, slack: StandInServer, lambda_context
) -> None:
    approvals.open(start_request("apr-t2", title=HOSTILE))
    deliver(Topic.REQUESTED, "apr-t2", lambda_context)
    approvals.decide("apr-t2", "U0A", Decision.REJECT, "not during <the> freeze & <!here>")
    deliver(Topic.DECIDED, "apr-t2", lambda_context, times=3)  # redelivered twice
    deliver(Topic.REQUESTED, "apr-t2", lambda_context)  # and an old one, late
    message = request_message(slack)
    # One reply for the one event: the rejection that decided it is the outcome's reply.
    (outcome,) = replies(slack, message["ts"])
    assert outcome["text"].startswith("Rejected by <@U0A>: ")
    outcome_text = json.dumps(outcome["blocks"])
    assert '"user_id": "U0A"' in outcome_text
    assert json.dumps("not during <the> freeze & <!here>") in outcome_text  # quoted as typed
    posted, ended = dms(slack, "U0REQ")
    assert "is posted" in posted["text"]
    assert ended["text"].startswith("Your request ended: Rejected by <@U0A>: ")
    assert "Rejected" in json.dumps(ended["blocks"]) and "freeze" in json.dumps(ended["blocks"])
    assert message["edits"] >= 1 and '"actions"' not in json.dumps(message["blocks"])


def test_a_requester_who_is_not_a_slack_user_gets_no_dm_and_nothing_fails(
    lambda_env, approvals: Approvals, slack: StandInServer, lambda_context
) -> None:
    approvals.open(start_request("apr-t3", requester="ci-bot"))
    deliver(Topic.REQUESTED, "apr-t3", lambda_context)
    approvals.decide("apr-t3", "U0A", Decision.APPROVE)
    deliver(Topic.DECIDED, "apr-t3", lambda_context)
    calls = [c["method"] for c in slack.standin.conversation()["calls"]]
    assert "conversations.open" not in calls
    assert len(replies(slack, request_message(slack)["ts"])) == 1  # the outcome's
