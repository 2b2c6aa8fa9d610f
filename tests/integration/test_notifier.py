"""notifier.app.handler with the SNS event AWS sends, against the Slack stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient

import notifier.app
from signoff.errors import BackendError
from signoff.events import Topic, encode
from signoff.local.dynamodb import local_client
from signoff.local.sns_bridge import sns_lambda_event
from signoff.model import Decision, SlackRef, Status
from signoff.notify import CLAIM_LEASE, Notifier, redrive
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request
from tests.faultproxy import FaultProxy

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
    assert [e.kind for e in store.audit("apr-n1")] == ["created", "notified"]


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
    assert store.audit("apr-n1")[-1].kind == "message_updated"


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


# -- a notifier that dies or fails between its steps, and what recovery publishes ------

INVALID = json.dumps(
    {"__type": "com.amazon.coral.validate#ValidationException", "message": "injected"}
).encode()


def kinds(store: DynamoApprovalStore, approval_id: str) -> list[str]:
    return [e.kind for e in store.audit(approval_id)]


def test_the_notified_event_cannot_part_from_the_message_it_records(
    ddb_endpoint, table, slack
) -> None:
    """The write that keeps the posted message's ref and audits `notified` fails: neither
    stands, so the delivery that takes the post over adopts the message and writes both."""
    now = [datetime.now(UTC)]
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    with FaultProxy(ddb_endpoint) as proxy:
        store = DynamoApprovalStore(local_client(proxy.url), table[1])
        approvals = Approvals(store, clock=lambda: now[0])
        approvals.open(start_request("apr-nt", requester="ci-bot"))
        proxy.fail(lambda seen: b'"notified"' in seen.body, status=400, body=INVALID)
        with pytest.raises(BackendError):
            Notifier(store, client, clock=lambda: now[0]).handle(Topic.REQUESTED, "apr-nt")
        assert proxy.count(lambda seen: b'"notified"' in seen.body, "answered") == 1
        assert "notified" not in kinds(store, "apr-nt")
        assert store.get("apr-nt").message is None  # not one without the other
        now[0] += CLAIM_LEASE + timedelta(seconds=1)  # the claim lapses; SNS delivers again
        Notifier(store, client, clock=lambda: now[0]).handle(Topic.REQUESTED, "apr-nt")
    assert len(posts(slack)) == 1  # the first post, found and adopted
    assert kinds(store, "apr-nt") == ["created", "notified"]
    adopted = store.get("apr-nt").message
    assert adopted is not None
    assert adopted.ts == slack.standin.conversation()["messages"][0]["ts"]


class Published:
    """A publisher that keeps what it was asked to publish (a fake of the port)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, kind: Topic, approval_id: str) -> str:
        self.sent.append((approval_id, kind.value))
        return f"m-{len(self.sent)}"


def test_recovery_publishes_what_finishes_each_unfinished_side_effect(
    approvals, store, slack
) -> None:
    """What `signoff dev` publishes at start-up, read from DynamoDB Local: the record, its
    audit trail and its finished once-keys, compared with what should exist."""
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    notifier = Notifier(store, client)

    def opened(approval_id: str, **overrides: Any) -> str:
        approvals.open(start_request(approval_id, **overrides))
        return approval_id

    def delivered(approval_id: str, *topics: Topic) -> str:
        for topic in topics:
            notifier.handle(topic, approval_id)
        return approval_id

    never_posted = opened("apr-r1")
    posted_only = opened("apr-r2")  # the notifier died after the post, before the DM
    ref = SlackRef(channel="approvals", ts="1.000100")
    store.set_message(posted_only, ref, datetime.now(UTC))
    whole = delivered(opened("apr-r3"), Topic.REQUESTED)
    voted_unshown = delivered(
        opened("apr-r4", approvers=("U0A", "U0B"), min_approvals=2), Topic.REQUESTED
    )
    approvals.decide(voted_unshown, "U0A", Decision.APPROVE)  # its "voted" was lost
    decided_whole = delivered(opened("apr-r5"), Topic.REQUESTED)
    approvals.decide(decided_whole, "U0A", Decision.APPROVE)
    delivered(decided_whole, Topic.DECIDED)
    decided_half = delivered(opened("apr-r6"), Topic.REQUESTED)
    approvals.decide(decided_half, "U0A", Decision.APPROVE)
    store.claim_once(decided_half, "vote:U0A", datetime.now(UTC), CLAIM_LEASE)  # died mid-reply
    reminded = delivered(opened("apr-r7", approvers=("U0A", "U0B")), Topic.REQUESTED)
    approvals.remind(reminded, 2)
    no_dm = delivered(opened("apr-r8", requester="ci-bot"), Topic.REQUESTED)  # no DM owed

    published = Published()
    ids = [never_posted, posted_only, whole, voted_unshown, decided_whole, decided_half]
    count = redrive(store, published, [*ids, reminded, no_dm, "apr-not-yet"])
    assert sorted(published.sent) == [
        (never_posted, "requested"),
        (posted_only, "requested"),
        (voted_unshown, "voted"),
        (decided_half, "decided"),
        (reminded, "reminded"),
    ]
    assert count == 5
    # Delivered, they finish everything: a second recovery publishes nothing.
    later = Notifier(
        store, client, clock=lambda: datetime.now(UTC) + CLAIM_LEASE + timedelta(seconds=1)
    )
    for approval_id, kind in published.sent:  # after the dead notifier's claims lapsed
        later.handle(Topic(kind), approval_id)
    again = Published()
    assert redrive(store, again, [*ids, reminded, no_dm]) == 0, again.sent
