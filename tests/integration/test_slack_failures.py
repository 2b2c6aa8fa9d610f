"""Slack errors no retry can fix, injected through the stand-in: the notifier stops,
records it once, tells the requester where Slack still lets it, and the request stays
decidable from the CLI."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

import notifier.app
from signoff import cli
from signoff.cli import context
from signoff.events import Topic
from signoff.local.slack_standin.workspace import dm_channel
from signoff.model import Decision, SlackFailed, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import StandInServer
from tests.factories import start_request
from tests.integration.test_notifier import sns_event
from tests.slack_text import MRKDWN, of_kind, shown_as_typed

pytestmark = pytest.mark.integration

CHANNEL_ERRORS = ("not_in_channel", "channel_not_found", "is_archived")
TOKEN_ERRORS = ("invalid_auth", "account_inactive")
TITLE = "Rotate <!here> keys"


@dataclass
class TableTarget:
    """The CLI's target over the test's table (the workflow plays no part here)."""

    approvals: Approvals

    def start(self, request: Any) -> dict[str, Any]:
        raise AssertionError("nothing starts here")

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "running"}

    def cli_decisions(self) -> None:
        return None


def request_posts(slack: StandInServer) -> int:
    return sum(
        1
        for c in slack.standin.conversation()["calls"]
        if c["method"] == "chat.postMessage"
        and (c["args"].get("metadata") or {}).get("event_type") == "signoff_request"
    )


def failures(store: DynamoApprovalStore, approval_id: str) -> list[SlackFailed]:
    return [f for e in store.audit(approval_id) if (f := e.read(SlackFailed))]


def dms(slack: StandInServer, user: str = "U0REQ") -> list[dict[str, Any]]:
    return [m for m in slack.standin.conversation()["messages"] if m["channel"] == dm_channel(user)]


@pytest.mark.parametrize("error", CHANNEL_ERRORS + TOKEN_ERRORS)
def test_a_permanent_error_on_the_post_stops_is_audited_told_and_leaves_the_cli(
    lambda_env, approvals, store, slack, lambda_context, monkeypatch, error
) -> None:
    approvals.open(start_request("apr-x", title=TITLE, channel="C0GONE"))
    slack.standin.fault("chat.postMessage", error, count=10, channel="C0GONE")
    for n in range(3):  # SNS delivers it again; none of them raises (no retry into the DLQ)
        assert notifier.app.handler(sns_event(Topic.REQUESTED, "apr-x", f"m-{n}"), lambda_context)
    assert request_posts(slack) == 3  # one attempt per delivery: no retry loop inside
    (failed,) = failures(store, "apr-x")  # recorded once
    assert failed.error == error and failed.call == "chat.postMessage"
    assert "signoff decide apr-x" in failed.what_to_do

    told = dms(slack)
    if error in CHANNEL_ERRORS:
        (dm,) = told  # the requester hears once what to do
        assert error in dm["text"] + str(dm["blocks"]) and "C0GONE" in str(dm["blocks"])
        # The title is data: shown as typed in rich text, in no mrkdwn, escaped in the text.
        assert shown_as_typed(dm["blocks"], TITLE) and "<!here>" not in dm["text"]
        assert not [t for t in of_kind(dm["blocks"], MRKDWN) if "here" in t]
        assert dm["text"].startswith("signoff could not reach Slack for ") and "apr-x" in dm["text"]
    else:
        assert told == []  # the token is dead: no DM can work; `signoff show` says it

    monkeypatch.setattr(context, "target", lambda: TableTarget(approvals))
    shown = CliRunner().invoke(cli.app, ["show", "apr-x"])
    assert shown.exit_code == 0 and "slack_failed" in shown.output and error in shown.output
    decided = CliRunner().invoke(cli.app, ["decide", "apr-x", "approve", "--as", "U0A"])
    assert decided.exit_code == 0, decided.output
    assert store.get("apr-x").status is Status.APPROVED
    assert notifier.app.handler(sns_event(Topic.DECIDED, "apr-x"), lambda_context)
    if error in CHANNEL_ERRORS:
        assert "ended" in dms(slack)[-1]["text"]  # the outcome still reaches the requester


def test_an_archived_channel_after_the_post_stops_replies_and_updates_but_not_the_dm(
    lambda_env, approvals, store, slack, lambda_context, monkeypatch
) -> None:
    approvals.open(start_request("apr-y", channel="C0ARCH"))
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-y"), lambda_context)
    slack.standin.fault("chat.postMessage", "is_archived", count=10, channel="C0ARCH")
    slack.standin.fault("chat.update", "is_archived", count=10, channel="C0ARCH")
    monkeypatch.setattr(context, "target", lambda: TableTarget(approvals))
    result = CliRunner().invoke(
        cli.app, ["decide", "apr-y", "reject", "--as", "U0A", "--reason", "no"]
    )
    assert result.exit_code == 0, result.output
    for n in range(2):
        notifier.app.handler(sns_event(Topic.DECIDED, "apr-y", f"m-{n}"), lambda_context)
    kinds = Counter(e.kind.value for e in store.audit("apr-y"))
    assert kinds["slack_failed"] == 1 and kinds["message_updated"] == 0
    texts = [m["text"] for m in dms(slack)]
    assert len(texts) == 3  # posted, the problem (once), the outcome
    assert "could not reach Slack" in texts[1] and "ended" in texts[2]


def test_a_transient_error_still_raises_so_sns_retries(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-z"))
    slack.standin.fault("chat.postMessage", "internal_error")
    with pytest.raises(Exception, match="internal_error"):
        notifier.app.handler(sns_event(Topic.REQUESTED, "apr-z"), lambda_context)
    assert failures(store, "apr-z") == []
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-z"), lambda_context)
    assert store.get("apr-z").message is not None


def test_a_ratelimited_thread_reply_waits_out_retry_after_and_replies_once(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    import time

    approvals.open(start_request("apr-r", channel="C0BUSY"))
    notifier.app.handler(sns_event(Topic.REQUESTED, "apr-r"), lambda_context)
    approvals.decide("apr-r", "U0A", Decision.APPROVE)
    slack.standin.fault("chat.postMessage", "ratelimited", retry_after=1, channel="C0BUSY")
    started = time.monotonic()
    notifier.app.handler(sns_event(Topic.DECIDED, "apr-r"), lambda_context)
    assert time.monotonic() - started >= 1.0  # slack-sdk slept Retry-After, then retried
    notifier.app.handler(sns_event(Topic.DECIDED, "apr-r", "m-2"), lambda_context)
    ts = store.get("apr-r").message.ts
    thread = [m for m in slack.standin.conversation()["messages"] if m.get("thread_ts") == ts]
    assert len(thread) == 1  # the outcome, once (it tells the vote that decided)
    assert failures(store, "apr-r") == []
