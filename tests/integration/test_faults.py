"""Faults injected on the wire between the handlers and their servers.

A FaultProxy sits between the code and DynamoDB Local or the Slack stand-in; the
handlers, the SDK clients and their retry settings (signoff.wiring) run unchanged.
Each test counts what crossed the wire and what the user and the record ended with.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import notifier.app
import slack_handler.app
from signoff import wiring
from signoff.codec import request_to_payload
from signoff.events import Topic
from signoff.model import SlackRef, Status
from signoff.notify import CLAIM_LEASE, Notifier
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import SIGNING_SECRET, StandInServer, drain
from tests.factories import start_request
from tests.faultproxy import FaultProxy, amz_target, path_is, throttling
from tests.integration.slack_events import block_actions, signed_event, slash_command
from tests.integration.test_notifier import sns_event

pytestmark = pytest.mark.integration

RATELIMITED = json.dumps({"ok": False, "error": "ratelimited"}).encode()
POST = path_is("/api/chat.postMessage")
UPDATE = path_is("/api/chat.update")
VOTE = amz_target("TransactWriteItems")
# A requester who is a plain name gets no DM: these tests count the request's posts alone.
NO_DM = "ci-bot"


@pytest.fixture
def slack_proxy(
    lambda_env: dict[str, str], slack: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """The handlers reach the Slack stand-in through the proxy."""
    with FaultProxy(slack.base_url) as proxy:
        monkeypatch.setenv("SIGNOFF_SLACK_API_URL", f"{proxy.url}/api/")
        wiring.reset()
        yield proxy


@pytest.fixture
def ddb_proxy(
    lambda_env: dict[str, str], ddb_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """The handlers reach DynamoDB Local through the proxy (the tests' own store does not)."""
    with FaultProxy(ddb_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        wiring.reset()
        yield proxy


def posts(slack: StandInServer) -> int:
    """Attempts to post a request's message (not thread replies, not DMs)."""
    return sum(
        1
        for c in slack.standin.conversation()["calls"]
        if c["method"] == "chat.postMessage"
        and (c["args"].get("metadata") or {}).get("event_type") == "signoff_request"
    )


def audit_kinds(store: DynamoApprovalStore, approval_id: str) -> Counter[str]:
    return Counter(e.kind for e in store.audit(approval_id))


def open_posted(approvals: Approvals, store: DynamoApprovalStore, slack: StandInServer) -> str:
    """A pending approval with its message posted, as the notifier leaves it."""
    approvals.open(start_request("apr-f", title="Rotate keys"))
    posted = slack.standin.api(
        "chat.postMessage", "xoxb-test-token", {"channel": "approvals", "text": "x"}
    )
    store.set_message("apr-f", SlackRef(channel="approvals", ts=posted["ts"]), datetime.now(UTC))
    return str(posted["ts"])


def warm(context: Any) -> None:
    """One request first, so the timed click is a warm one (secrets read, Bolt built)."""
    result = slack_handler.app.handler(
        signed_event(slash_command("U0A", "help"), SIGNING_SECRET), context
    )
    assert result["statusCode"] == 200


def click(slack: StandInServer, ts: str, context: Any, user: str = "U0A") -> tuple[int, float]:
    """An Approve click through slack_handler; returns the HTTP status and the seconds taken."""
    url = slack.standin.response_url("approvals", user, ts)
    body = block_actions(user, "signoff.approve", "apr-f", url, ts=ts)
    started = time.monotonic()
    result = slack_handler.app.handler(signed_event(body, SIGNING_SECRET), context)
    return int(result["statusCode"]), time.monotonic() - started


def last_ephemeral(slack: StandInServer) -> str:
    ephemerals = slack.standin.conversation()["ephemerals"]
    return str(ephemerals[-1]["text"]) if ephemerals else ""


# -- the notifier and the Slack Web API ----------------------------------------------


def test_notifier_waits_out_a_429_and_posts_once(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-f", requester=NO_DM))
    slack_proxy.fail(POST, status=429, headers={"Retry-After": "1"}, body=RATELIMITED)
    started = time.monotonic()
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    took = time.monotonic() - started
    assert took >= 1.0  # Retry-After honoured
    assert slack_proxy.count(POST, "answered") == 1
    assert slack_proxy.count(POST, "forwarded") == 1
    assert posts(slack) == 1
    assert store.get("apr-f").message is not None
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)  # redelivery
    assert posts(slack) == 1
    assert audit_kinds(store, "apr-f")["notified"] == 1


def test_notifier_429_beyond_the_budget_fails_fast_and_releases_the_claim(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-f", requester=NO_DM))
    slack_proxy.fail(POST, status=429, headers={"Retry-After": "30"}, body=RATELIMITED)
    started = time.monotonic()
    with pytest.raises(Exception, match="ratelimited"):
        notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert time.monotonic() - started < 15  # not a 30 s sleep inside the Lambda
    # SNS delivers again: the claim was released, so this delivery posts at once.
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert slack_proxy.count(POST) == 2
    assert posts(slack) == 1
    assert store.get("apr-f").message is not None


@pytest.mark.parametrize(("status", "times"), [(503, 1), (500, 2)])
def test_notifier_5xx_then_ok_posts_once(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context, status, times
) -> None:
    approvals.open(start_request("apr-f", requester=NO_DM))
    slack_proxy.fail(POST, times=times, status=status, body=b"upstream error")
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert slack_proxy.count(POST, "answered") == times
    assert posts(slack) == 1
    assert store.get("apr-f").message is not None


def test_notifier_5xx_on_every_attempt_raises_for_sns_and_releases_the_claim(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-f", requester=NO_DM))
    slack_proxy.fail(POST, times=3, status=503, body=b"")
    with pytest.raises(Exception, match=r"chat\.postMessage failed"):
        notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert slack_proxy.count(POST, "answered") == 3  # 1 attempt + 2 retries
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert posts(slack) == 1


def test_notifier_dropped_connection_before_slack_is_retried_and_posts_once(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-f", requester=NO_DM))
    slack_proxy.fail(POST, drop=True)
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert slack_proxy.count(POST, "dropped") == 1
    assert posts(slack) == 1


def test_notifier_lost_answers_can_duplicate_a_post(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context
) -> None:
    """A post that reached Slack but whose answer was lost: counted, not hidden.

    Slack's chat.postMessage has no idempotency key. A dropped answer is retried at once
    by slack-sdk (one duplicate: the price of recovering from stale connections quickly);
    a timed-out answer fails the delivery and keeps the claim for CLAIM_LEASE, so SNS
    redeliveries within the lease post nothing, and the first one after it takes the claim
    over, finds the post by its metadata and adopts it (no duplicate).
    """
    approvals.open(start_request("apr-f", requester=NO_DM))
    slack_proxy.fail(POST, drop=True, forward=True)
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-f"), lambda_context)
    assert posts(slack) == 2  # the dropped answer's post, and the retry's

    approvals.open(start_request("apr-g", requester=NO_DM))
    before = posts(slack)
    slack_proxy.fail(POST, delay=wiring.BACKGROUND.slack_timeout + 1, forward=True)
    with pytest.raises(TimeoutError):
        notifier.app.handler(sns_event(Topic.REQUESTED, "apr-g"), lambda_context)
    assert slack_proxy.count(POST, "late") == 1  # not retried by slack-sdk
    assert posts(slack) == before + 1  # it did reach Slack
    # A redelivery within the lease posts nothing and fails, so SNS tries again later.
    with pytest.raises(Exception, match="holds the post claim"):
        notifier.app.handler(sns_event(Topic.REQUESTED, "apr-g", "m-2"), lambda_context)
    assert posts(slack) == before + 1
    # After the lease, a delivery takes the claim over and posts again.
    later = datetime.now(UTC) + CLAIM_LEASE + timedelta(seconds=1)
    client = wiring.build_slack_client(wiring.settings_from_env(), "xoxb-test-token")
    Notifier(store, client, clock=lambda: later).handle(Topic.REQUESTED, "apr-g")
    assert posts(slack) == before + 1  # adopted, not posted again
    adopted = store.get("apr-g").message
    assert adopted is not None
    assert adopted.ts == slack.standin.conversation()["messages"][-1]["ts"]


# -- Slack failing around a click: the click never waits on it -------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "headers": {"Retry-After": "1"}, "body": RATELIMITED},
        {"status": 503, "body": b"", "times": 2},
        {"delay": wiring.BACKGROUND.slack_timeout + 0.5, "status": 200, "body": b"{}"},
    ],
    ids=["429", "503-twice", "timeout"],
)
def test_a_click_does_not_wait_on_slack_and_the_notifier_renders_the_outcome(
    slack_proxy: FaultProxy, approvals, store, slack, lambda_context, fault, record_property
) -> None:
    ts = open_posted(approvals, store, slack)
    warm(lambda_context)
    slack_proxy.fail(UPDATE, **fault)
    status, took = click(slack, ts, lambda_context)
    record_property("click_seconds", round(took, 3))
    assert status == 200
    assert store.get("apr-f").status is Status.APPROVED
    assert slack_proxy.count(UPDATE) == 0  # verify, write, ring, answer: no Slack call

    # The workflow's "decided" reaches the notifier; a failure there is retried by
    # slack-sdk within its budget, or fails the delivery so that SNS delivers it again.
    deliveries = 0
    while slack.standin.conversation()["messages"][0]["edits"] == 0:
        deliveries += 1
        assert deliveries <= 3, "the outcome never reached the message"
        with contextlib.suppress(Exception):
            notifier.app.handler(sns_event(Topic.DECIDED, "apr-f"), lambda_context)
    record_property("deliveries", deliveries)
    message = slack.standin.conversation()["messages"][0]
    assert message["edits"] == 1
    assert "Approved" in json.dumps(message["blocks"])
    assert slack_proxy.count(UPDATE) == fault.get("times", 1) + 1
    assert audit_kinds(store, "apr-f")["decided"] == 1


# -- a click while DynamoDB fails -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, throttling("ThrottlingException")),
        (400, throttling("ProvisionedThroughputExceededException")),
        (500, b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}'),
    ],
    ids=["throttling", "provisioned-throughput", "500"],
)
def test_vote_survives_one_failed_write_through_botocore_retries(
    ddb_proxy: FaultProxy, approvals, store, slack, lambda_context, status, body, record_property
) -> None:
    ts = open_posted(approvals, store, slack)
    warm(lambda_context)
    ddb_proxy.fail(VOTE, status=status, body=body)
    code, took = click(slack, ts, lambda_context)
    record_property("click_seconds", round(took, 3))
    assert code == 200
    assert ddb_proxy.count(VOTE, "answered") == 1
    assert ddb_proxy.count(VOTE, "forwarded") == 1
    assert store.get("apr-f").status is Status.APPROVED
    kinds = audit_kinds(store, "apr-f")
    assert kinds["voted"] == 1 and kinds["decided"] == 1


def test_vote_failing_on_every_attempt_asks_to_try_again_and_records_nothing(
    ddb_proxy: FaultProxy, approvals, store, slack, lambda_context, record_property
) -> None:
    ts = open_posted(approvals, store, slack)
    warm(lambda_context)
    ddb_proxy.fail(VOTE, times=wiring.CLICK.ddb_attempts, status=400, body=throttling())
    code, took = click(slack, ts, lambda_context)
    record_property("click_seconds", round(took, 3))
    assert code == 200
    assert ddb_proxy.count(VOTE, "answered") == wiring.CLICK.ddb_attempts
    assert "could not be recorded just now" in last_ephemeral(slack)
    assert store.get("apr-f").status is Status.PENDING
    assert audit_kinds(store, "apr-f")["voted"] == 0

    code, _ = click(slack, ts, lambda_context)  # the person tries again
    assert code == 200
    assert store.get("apr-f").status is Status.APPROVED
    assert audit_kinds(store, "apr-f")["decided"] == 1


@pytest.mark.parametrize("late", [1, 2], ids=["first-attempt-late", "every-attempt-late"])
def test_vote_whose_answer_times_out_after_it_committed_is_not_decided_twice(
    ddb_proxy: FaultProxy, approvals, store, slack, lambda_context, late, record_property
) -> None:
    """The write reached DynamoDB and committed; only its answer was late."""
    ts = open_posted(approvals, store, slack)
    warm(lambda_context)
    ddb_proxy.fail(VOTE, times=late, delay=wiring.CLICK.ddb_read + 0.5, forward=True)
    code, took = click(slack, ts, lambda_context)
    record_property("click_seconds", round(took, 3))
    assert code == 200
    assert ddb_proxy.count(VOTE, "late") == late
    assert store.get("apr-f").status is Status.APPROVED  # it did commit
    told = last_ephemeral(slack)
    if late == wiring.CLICK.ddb_attempts:
        # Every answer lost: the record, read once more, holds the vote, so the person is
        # told what a winner is told (nothing: the message changes), not "try again".
        assert told == ""
    # Clicking again is answered from the record, not decided a second time.
    code, _ = click(slack, ts, lambda_context)
    assert code == 200
    told = last_ephemeral(slack)
    assert "already recorded" in told or "already approved" in told
    kinds = audit_kinds(store, "apr-f")
    assert kinds["voted"] == 1 and kinds["decided"] == 1


# -- the workflow's wait while DynamoDB throttles ---------------------------------------


def test_workflow_wait_outlasts_a_throttled_condition_check(
    ddb_proxy: FaultProxy, approvals, store, local_aws
) -> None:
    """Every attempt of one check's GetItem is throttled: the wait polls again, not fails."""
    import threading

    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    import workflow_fn.app
    from signoff.model import Decision

    read = amz_target("GetItem")
    attempts = wiring.BACKGROUND.ddb_attempts
    failed_check = threading.Event()

    def throttle_then_decide() -> None:
        give_up = time.monotonic() + 30
        # "requested" is published after the record's step: the reads from now on are
        # the wait's condition checks.
        while time.monotonic() < give_up and not drain(
            local_aws.endpoint, local_aws.queue_url, settle=0.05
        ):
            pass
        ddb_proxy.fail(
            read,
            times=attempts,
            status=400,
            body=throttling("ProvisionedThroughputExceededException"),
        )
        while time.monotonic() < give_up and ddb_proxy.count(read, "answered") < attempts:
            time.sleep(0.05)
        failed_check.set()
        approvals.decide("apr-f", "U0A", Decision.APPROVE)  # straight to the table

    clicker = threading.Thread(target=throttle_then_decide)
    clicker.start()
    payload = json.dumps(request_to_payload(start_request("apr-f")))
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        result = runner.run(input=payload, execution_name="apr-f", execution_timeout=60)
    clicker.join()
    assert failed_check.is_set()
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result) == {"id": "apr-f", "status": "approved"}
    assert ddb_proxy.count(read, "answered") == attempts
    assert ddb_proxy.count(read, "forwarded") >= 1  # the check after the throttled one
    assert audit_kinds(store, "apr-f")["decided"] == 1
