"""The notifier over the in-memory store and the Slack stand-in on loopback (no Java)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from signoff.errors import BackendError
from signoff.events import Topic, encode
from signoff.local.sns_bridge import sns_lambda_event
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, MessageUpdated, PostClaim, Status
from signoff.notify import Notifier
from signoff.service import Approvals
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request

LEASE = timedelta(seconds=60)


@pytest.fixture
def store() -> InMemoryApprovalStore:
    return InMemoryApprovalStore()


@pytest.fixture
def approvals(store: InMemoryApprovalStore) -> Approvals:
    service = Approvals(store)
    service.open(start_request("apr-n1", title="Drop <!channel> table"))
    return service


def notifier(store: InMemoryApprovalStore, slack: StandInServer) -> Notifier:
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    return Notifier(store, client, LEASE)


def sns(kind: Topic | str, approval_id: str) -> dict[str, Any]:
    message = encode(kind, approval_id) if isinstance(kind, Topic) else kind
    return sns_lambda_event({"MessageId": "m-1", "Message": message}, "arn:aws:sns:local:t")


def posts_for(slack: StandInServer, approval_id: str) -> list[dict[str, Any]]:
    """The request messages posted for `approval_id` (not thread replies, not DMs)."""
    return [
        m
        for m in slack.standin.conversation()["messages"]
        if (m.get("metadata") or {}).get("event_type") == "signoff_request"
        and f"`{approval_id}`" in json.dumps(m["blocks"])
    ]


def test_a_vote_while_the_post_is_in_flight_does_not_let_a_redelivery_post_again(
    store: InMemoryApprovalStore, approvals: Approvals, slack: StandInServer
) -> None:
    # One delivery holds the claim and is talking to Slack; meanwhile the approver decides
    # (from the CLI) and SNS redelivers "requested".
    assert store.claim_message("apr-n1", datetime.now(UTC), LEASE) is PostClaim.FIRST
    approvals.decide("apr-n1", "U0A", Decision.APPROVE)
    with pytest.raises(BackendError, match="holds the post claim"):
        notifier(store, slack).handle_sns_event(sns(Topic.REQUESTED, "apr-n1"))
    assert posts_for(slack, "apr-n1") == []


def test_decided_before_posted_renders_the_outcome_in_the_post(
    store: InMemoryApprovalStore, approvals: Approvals, slack: StandInServer
) -> None:
    approvals.decide("apr-n1", "U0A", Decision.REJECT, "not <now>")
    n = notifier(store, slack)
    assert n.handle_sns_event(sns(Topic.DECIDED, "apr-n1")) == 1  # no message yet
    n.handle_sns_event(sns(Topic.REQUESTED, "apr-n1"))
    (message,) = posts_for(slack, "apr-n1")
    text = json.dumps(message["blocks"])
    assert "Rejected" in text and "not &lt;now&gt;" in text and '"actions"' not in text
    assert approvals.get("apr-n1").status is Status.REJECTED
    updated = store.audit("apr-n1")[-1].read(MessageUpdated)
    assert updated == MessageUpdated(status=Status.REJECTED)


not_ours = st.one_of(
    st.text(max_size=200),
    st.builds(
        json.dumps,
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c) | st.dictionaries(st.text(), c),
            max_leaves=10,
        ),
    ),
    st.builds(
        lambda t, i: json.dumps({"type": t, "id": i}),
        st.text(max_size=20) | st.sampled_from(["requested", "decided"]),
        st.text(max_size=80),
    ),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=not_ours)
def test_sns_messages_that_are_not_ours_are_skipped_without_effects(
    store: InMemoryApprovalStore, approvals: Approvals, slack: StandInServer, message: str
) -> None:
    calls_before = len(slack.standin.conversation()["calls"])
    before = approvals.get("apr-n1")
    handled = notifier(store, slack).handle_sns_event(sns(message, ""))
    assert handled == 0
    assert len(slack.standin.conversation()["calls"]) == calls_before
    assert approvals.get("apr-n1") == before


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": []},
        {"Records": [{}]},
        {"Records": [{"Sns": {}}]},
        {"Records": [{"Sns": {"Message": None}}]},
    ],
)
def test_malformed_sns_events_are_skipped(
    store: InMemoryApprovalStore, approvals: Approvals, slack: StandInServer, event: dict[str, Any]
) -> None:
    assert notifier(store, slack).handle_sns_event(event) == 0
