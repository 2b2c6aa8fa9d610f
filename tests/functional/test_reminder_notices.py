"""Reminders (DMs to those who have not voted, with a snooze) and the escalation in the
request's thread: the notifier over the in-memory store and the Slack stand-in on
loopback. SNS delivers at least once; each notice goes once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient

from signoff import blocks, notices
from signoff.errors import RefusedError
from signoff.events import Topic, encode
from signoff.local.slack_standin.workspace import dm_channel
from signoff.local.sns_bridge import sns_lambda_event
from signoff.memstore import InMemoryApprovalStore
from signoff.model import AuditKind, Decision, iso
from signoff.notify import Notifier
from signoff.reports import snooze
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
        timeout=timedelta(hours=1),  # the escalation falls before the deadline
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


def dms(slack: StandInServer, user: str) -> list[dict[str, Any]]:
    return [m for m in slack.standin.conversation()["messages"] if m["channel"] == dm_channel(user)]


def reminders(slack: StandInServer, user: str) -> list[dict[str, Any]]:
    return [m for m in dms(slack, user) if "Reminder" in m["text"]]


def test_a_reminder_is_a_dm_with_the_buttons_once_to_each_person_who_has_not_voted(
    slack: StandInServer,
) -> None:
    approvals, notifier, now = setup(slack)
    approvals.decide("apr-rem", "U0A", Decision.APPROVE)
    now[0] += timedelta(minutes=10)
    approvals.remind("apr-rem", 1)
    for _ in range(3):  # SNS redelivers
        assert notifier.handle_sns_event(delivered(Topic.REMINDED)) == 1
    # Who has not voted: U0B (U0A voted; the requester may not approve their own request).
    assert [len(reminders(slack, u)) for u in ("U0A", "U0B", "U0REQ")] == [0, 1, 0]
    (dm,) = reminders(slack, "U0B")
    assert dm["metadata"]["event_payload"]["key"] == "remind:1:U0B"
    assert dm["text"] == (
        "Reminder 1: Restart &lt;!channel&gt; db (apr-rem) waits for your vote, <@U0B> "
        "(1 of 2 approvals)"
    )
    actions = next(b for b in dm["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        blocks.APPROVE_ACTION,
        blocks.REJECT_ACTION,
        notices.SNOOZE_ACTION,
    ]
    assert {e["value"] for e in actions["elements"]} == {"apr-rem"}
    # Nobody is pinged in the thread: a reminder is for those who must act.
    assert not [m for m in thread(slack, approvals) if "Reminder" in json.dumps(m)]

    now[0] += timedelta(minutes=10)
    approvals.remind("apr-rem", 2)
    notifier.handle_sns_event(delivered(Topic.REMINDED))
    notifier.handle_sns_event(delivered(Topic.REMINDED))
    keys = [m["metadata"]["event_payload"]["key"] for m in reminders(slack, "U0B")]
    assert keys == ["remind:1:U0B", "remind:2:U0B"]


def test_a_snoozed_person_gets_no_reminder_until_the_snooze_ends(slack: StandInServer) -> None:
    approvals, notifier, now = setup(slack)
    approvals.remind("apr-rem", 1)
    notifier.handle(Topic.REMINDED, "apr-rem")
    assert [len(reminders(slack, u)) for u in ("U0A", "U0B")] == [1, 1]
    _, until = snooze(approvals.store, lambda: now[0], "apr-rem", "U0B")
    assert until == now[0] + timedelta(hours=1)
    snoozed = [e for e in approvals.audit("apr-rem") if e.kind is AuditKind.SNOOZED]
    assert [(e.actor, e.detail["until"]) for e in snoozed] == [("U0B", iso(until))]

    now[0] += timedelta(minutes=10)
    approvals.remind("apr-rem", 2)
    notifier.handle(Topic.REMINDED, "apr-rem")
    assert [len(reminders(slack, u)) for u in ("U0A", "U0B")] == [2, 1]  # U0B snoozed

    now[0] += timedelta(minutes=60)  # past the snooze
    approvals.remind("apr-rem", 8)
    notifier.handle(Topic.REMINDED, "apr-rem")
    assert [len(reminders(slack, u)) for u in ("U0A", "U0B")] == [3, 2]


def test_only_someone_the_request_waits_for_may_snooze_it(slack: StandInServer) -> None:
    approvals, _, now = setup(slack)
    approvals.decide("apr-rem", "U0A", Decision.APPROVE)
    with pytest.raises(RefusedError, match="already approved"):
        snooze(approvals.store, lambda: now[0], "apr-rem", "U0A")
    with pytest.raises(RefusedError, match="not an approver"):
        snooze(approvals.store, lambda: now[0], "apr-rem", "U0X")
    assert not [e for e in approvals.audit("apr-rem") if e.kind is AuditKind.SNOOZED]


def test_no_reminder_once_the_request_is_closed(slack: StandInServer) -> None:
    approvals, notifier, _ = setup(slack)
    approvals.remind("apr-rem", 1)
    approvals.decide("apr-rem", "U0A", Decision.REJECT, "no")
    notifier.handle_sns_event(delivered(Topic.REMINDED))
    assert not [m for u in ("U0A", "U0B") for m in reminders(slack, u)]


def test_an_escalation_is_said_once_in_the_thread_and_shown_in_the_message(
    slack: StandInServer,
) -> None:
    approvals, notifier, now = setup(slack)
    message = approvals.get("apr-rem").message
    assert message is not None
    posted = next(m for m in slack.standin.conversation()["messages"] if m["ts"] == message.ts)
    # Said without the group: a mention would page it before the escalation is due.
    assert "escalates " in json.dumps(posted["blocks"])
    assert "S0ONCALL" not in json.dumps(posted["blocks"])

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
    assert '"usergroup_id": "S0ONCALL"' in json.dumps(updated["blocks"])


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
