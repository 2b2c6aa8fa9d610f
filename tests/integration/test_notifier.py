"""notifier.app.handler with the SNS event AWS sends, against the Slack stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest

import notifier.app
from signoff.events import Topic, encode
from signoff.local.sns_bridge import sns_lambda_event
from signoff.model import Decision, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import StandInServer
from tests.factories import start_request

pytestmark = pytest.mark.integration


def sns_event(kind: Topic, approval_id: str, message_id: str = "m-1") -> dict[str, Any]:
    envelope = {
        "Type": "Notification",
        "MessageId": message_id,
        "Message": encode(kind, approval_id),
    }
    return sns_lambda_event(envelope, "arn:aws:sns:us-east-1:000000000000:t")


def open_approval(approvals: Approvals, approval_id: str = "apr-n1") -> None:
    approvals.open(start_request(approval_id, title="Drop <!channel> table", channel="C0DB"))


def posts(slack: StandInServer) -> list[dict[str, Any]]:
    """Attempts to post a request's message (not thread replies, not DMs)."""
    return [
        c
        for c in slack.standin.conversation()["calls"]
        if c["method"] == "chat.postMessage"
        and (c["args"].get("metadata") or {}).get("event_type") == "signoff_request"
    ]


def test_requested_posts_the_message_once_even_when_delivered_twice(
    lambda_env, approvals, store: DynamoApprovalStore, slack, lambda_context
) -> None:
    open_approval(approvals)
    assert notifier.app.handler(sns_event(Topic.REQUESTED, "apr-n1"), lambda_context) == {
        "handled": 1
    }
    notifier.app.handler(
        sns_event(Topic.REQUESTED, "apr-n1", "m-1"), lambda_context
    )  # SNS redelivery
    assert len(posts(slack)) == 1
    message = slack.standin.conversation()["messages"][0]
    assert message["channel"] == "C0DB"
    assert "&lt;!channel&gt;" in message["text"]
    stored = store.get("apr-n1")
    assert stored.message is not None and stored.message.ts == message["ts"]
    assert [e["kind"] for e in store.audit("apr-n1")] == ["created", "notified"]


def test_decided_updates_the_message_without_buttons(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    open_approval(approvals)
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-n1"), lambda_context)
    approvals.decide("apr-n1", "U0A", Decision.REJECT, "not during <the> freeze")
    notifier.app.handler(sns_event(Topic.DECIDED, "apr-n1"), lambda_context)
    message = slack.standin.conversation()["messages"][0]
    assert message["edits"] == 1
    text = json.dumps(message["blocks"])
    assert "Rejected" in text and "not during &lt;the&gt; freeze" in text
    assert '"actions"' not in text
    assert store.audit("apr-n1")[-1]["kind"] == "message_updated"


def test_decided_before_posted_still_ends_with_the_outcome(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    """The outcome lands before the first message: the post renders the outcome itself."""
    open_approval(approvals)
    approvals.decide("apr-n1", "U0A", Decision.APPROVE)
    notifier.app.handler(sns_event(Topic.DECIDED, "apr-n1"), lambda_context)  # no message yet
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-n1"), lambda_context)
    message = slack.standin.conversation()["messages"][0]
    assert "Approved" in json.dumps(message["blocks"])
    assert store.get("apr-n1").status is Status.APPROVED


def test_slack_failure_raises_so_sns_retries_and_releases_the_claim(
    lambda_env, approvals, store, slack, lambda_context, monkeypatch
) -> None:
    open_approval(approvals)
    slack.standin.fault("chat.postMessage", "internal_error")  # Slack says no, once
    with pytest.raises(Exception, match="internal_error"):
        notifier.app.handler(sns_event(Topic.REQUESTED, "apr-n1"), lambda_context)
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-n1"), lambda_context)  # the retry
    assert len([p for p in posts(slack)]) == 2  # one refused, one accepted
    assert store.get("apr-n1").message is not None
