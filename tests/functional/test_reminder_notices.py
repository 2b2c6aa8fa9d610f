"""Reminders and escalation in the request's thread: the notifier over the in-memory store
and the Slack stand-in on loopback. SNS delivers at least once; each notice goes once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from signoff.events import Topic, encode
from signoff.local.sns_bridge import sns_lambda_event
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision
from signoff.notify import Notifier
from signoff.service import Approvals
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request

LEASE = timedelta(seconds=60)


def setup(slack: StandInServer) -> tuple[Approvals, Notifier, list[datetime]]:
    now = [datetime.now(UTC)]
    store = InMemoryApprovalStore()
    approvals = Approvals(store, clock=lambda: now[0])
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    request = start_request(
        "apr-rem",
        title="Restart <!channel> db",
        approvers=("U0A", "U0B", "U0REQ"),
        min_approvals=2,
        remind_every=timedelta(minutes=10),
        escalate_after=timedelta(minutes=30),
        escalate_to="S0ONCALL",
    )
    approvals.open(request)
    notifier = Notifier(store, client, LEASE, clock=lambda: now[0])
    notifier.handle(Topic.REQUESTED, "apr-rem")
    return approvals, notifier, now


def thread(slack: StandInServer, approvals: Approvals) -> list[dict[str, Any]]:
    ts = approvals.get("apr-rem").message.ts  # type: ignore[union-attr]
    return [m for m in slack.standin.conversation()["messages"] if m.get("thread_ts") == ts]


def delivered(kind: Topic) -> dict[str, Any]:
    return sns_lambda_event({"MessageId": "m-1", "Message": encode(kind, "apr-rem")}, "arn:t")


def test_a_redelivered_reminder_replies_once_naming_who_has_not_voted(
    slack: StandInServer,
) -> None:
    approvals, notifier, now = setup(slack)
    approvals.decide("apr-rem", "U0A", Decision.APPROVE)
    now[0] += timedelta(minutes=10)
    approvals.remind("apr-rem", 1)
    for _ in range(3):  # SNS redelivers
        assert notifier.handle_sns_event(delivered(Topic.REMINDED)) == 1
    replies = [m for m in thread(slack, approvals) if "Reminder" in json.dumps(m["blocks"])]
    assert len(replies) == 1
    text = json.dumps(replies[0]["blocks"])
    # Who has not voted: U0B (U0A voted; the requester may not approve their own request).
    assert "<@U0B>" in text and "<@U0A>" not in text and "<@U0REQ>" not in text
    assert "1 more approval needed" in text
    assert replies[0]["metadata"]["event_payload"]["key"] == "remind:1"

    now[0] += timedelta(minutes=10)
    approvals.remind("apr-rem", 2)
    notifier.handle_sns_event(delivered(Topic.REMINDED))
    notifier.handle_sns_event(delivered(Topic.REMINDED))
    keys = [m["metadata"]["event_payload"]["key"] for m in thread(slack, approvals)]
    assert keys.count("remind:1") == 1 and keys.count("remind:2") == 1


def test_no_reminder_once_the_request_is_closed(slack: StandInServer) -> None:
    approvals, notifier, _ = setup(slack)
    approvals.remind("apr-rem", 1)
    approvals.decide("apr-rem", "U0A", Decision.REJECT, "no")
    notifier.handle_sns_event(delivered(Topic.REMINDED))
    keys = [m["metadata"]["event_payload"]["key"] for m in thread(slack, approvals)]
    assert not [k for k in keys if k.startswith("remind:")]


def test_an_escalation_is_said_once_in_the_thread_and_shown_in_the_message(
    slack: StandInServer,
) -> None:
    approvals, notifier, now = setup(slack)
    message = approvals.get("apr-rem").message
    assert message is not None
    posted = next(m for m in slack.standin.conversation()["messages"] if m["ts"] == message.ts)
    assert "escalates to <!subteam^S0ONCALL> after 30m" in json.dumps(posted["blocks"])

    now[0] += timedelta(minutes=30)
    approvals.escalate("apr-rem", ("U0ON1", "U0ON2"))
    for _ in range(2):
        notifier.handle_sns_event(delivered(Topic.ESCALATED))
    replies = [m for m in thread(slack, approvals) if "Escalated" in json.dumps(m["blocks"])]
    assert len(replies) == 1
    assert "<!subteam^S0ONCALL> after 30m: 2 more people may now decide" in json.dumps(
        replies[0]["blocks"]
    )
    updated = next(m for m in slack.standin.conversation()["messages"] if m["ts"] == message.ts)
    assert "escalated to <!subteam^S0ONCALL>" in json.dumps(updated["blocks"])


def test_a_failed_escalation_is_said_in_the_thread_with_its_reason_escaped(
    slack: StandInServer,
) -> None:
    approvals, notifier, _ = setup(slack)
    approvals.escalate("apr-rem", (), "the user group S0ONCALL cannot be resolved <here>")
    notifier.handle_sns_event(delivered(Topic.ESCALATED))
    (reply,) = [m for m in thread(slack, approvals) if "escalate" in json.dumps(m["blocks"])]
    text = json.dumps(reply["blocks"])
    assert "could not be resolved" in text and "&lt;here&gt;" in text
    assert replace(approvals.get("apr-rem").policy, escalated=False).approvers == (
        "U0A",
        "U0B",
        "U0REQ",
    )
