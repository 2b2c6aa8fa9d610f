"""slack_handler.app.handler with Function URL events, real signatures, real servers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import slack_handler.app
from signoff.model import Decision, SlackRef, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import (
    ResponseRecorder,
    block_actions,
    block_actions_payload,
    payload_form,
    signed_event,
    slash_command,
    view_submission_payload,
)

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

    store.set_message(
        approval_id, SlackRef(channel="approvals", ts=posted["ts"]), datetime.now(UTC)
    )
    return str(posted["ts"])


@pytest.fixture
def responses() -> Iterator[ResponseRecorder]:
    """Stands in for each click's response_url and records what was posted to it."""
    recorder = ResponseRecorder()
    yield recorder
    recorder.stop()


def call(
    body: str, lambda_context: Any, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, Any]:
    # dict(): the Powertools decorators on the handler do not keep its return type.
    return dict(
        slack_handler.app.handler(signed_event(body, secret, timestamp=timestamp), lambda_context)
    )


def test_approve_click_decides_and_leaves_the_message_to_the_notifier(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    result = call(
        block_actions("U0A", "signoff.approve", "apr-slack", responses.url("c"), ts=ts),
        lambda_context,
    )
    assert result["statusCode"] == 200
    assert not responses.responses()  # the winner sees the message change, nothing else
    approval = store.get("apr-slack")
    assert approval.status is Status.APPROVED and approval.decided_by == "U0A"
    # The click path is verify, write, ring, answer: no Slack call. The notifier
    # re-renders the message on the workflow's "decided" event.
    assert [c["method"] for c in slack.standin.conversation()["calls"]] == ["chat.postMessage"]


def test_refused_click_gets_an_ephemeral_reason_and_changes_nothing(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    result = call(
        block_actions("U0X", "signoff.approve", "apr-slack", responses.url("c"), ts=ts),
        lambda_context,
    )
    assert result["statusCode"] == 200
    assert store.get("apr-slack").status is Status.PENDING
    [answer] = responses.responses("c")
    assert answer["response_type"] == "ephemeral" and not answer["replace_original"]
    assert "not an approver" in answer["text"]
    assert [e.kind for e in store.audit("apr-slack")][-1] == "vote_refused"


def test_click_on_a_decided_request_is_refused(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    approvals.decide("apr-slack", "U0A", Decision.APPROVE)
    call(
        block_actions("U0A", "signoff.reject", "apr-slack", responses.url("c"), ts=ts),
        lambda_context,
    )
    [answer] = responses.responses("c")
    assert "already approved" in answer["text"]


@pytest.mark.parametrize(
    ("secret", "age"),
    [("forged-secret", 0), (SIGNING_SECRET, 6 * 60)],
    ids=["forged", "stale"],
)
def test_forged_or_stale_requests_get_401_and_change_nothing(
    lambda_env, approvals, store, slack, responses, lambda_context, secret, age
) -> None:
    ts = open_approval(approvals, store, slack)
    body = block_actions("U0A", "signoff.approve", "apr-slack", responses.url("c"), ts=ts)
    result = call(body, lambda_context, secret=secret, timestamp=int(time.time()) - age)
    assert result["statusCode"] == 401
    assert store.get("apr-slack").status is Status.PENDING
    assert [e.kind for e in store.audit("apr-slack")] == ["created", "notified"]
    assert not responses.responses()


def test_tampered_body_gets_401(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    body = block_actions("U0X", "signoff.approve", "apr-slack", responses.url("c"), ts=ts)
    event = signed_event(body, SIGNING_SECRET)
    event["body"] = body.replace("U0X", "U0A")  # signature was for U0X
    assert slack_handler.app.handler(event, lambda_context)["statusCode"] == 401
    assert store.get("apr-slack").status is Status.PENDING


def test_reject_opens_a_modal_and_the_reason_decides(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    ts = open_approval(approvals, store, slack)
    # views.open on the stand-in needs a trigger it issued; it has no public way to issue one.
    trigger = slack.standin.trigger("U0A")
    body = block_actions("U0A", "signoff.reject", "apr-slack", responses.url("c"), ts=ts).replace(
        "trigger-1", trigger
    )
    assert call(body, lambda_context)["statusCode"] == 200
    views = slack.standin.conversation()["views"]
    assert views and views[0]["view"]["callback_id"] == "signoff.reject_reason"
    assert store.get("apr-slack").status is Status.PENDING  # nothing decided until the reason

    # An empty reason is answered inside the modal, not recorded.
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
    assert approval.reason == "freeze <!channel> week"  # stored as typed; escaped when shown


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


def test_a_replayed_click_is_answered_already_recorded_and_changes_nothing(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    """Slack redelivers with X-Slack-Retry-Num; the second delivery must not vote twice."""
    open_approval(approvals, store, slack)
    body = block_actions("U0A", "signoff.approve", "apr-slack", responses.url("click"))
    first = slack_handler.app.handler(signed_event(body, SIGNING_SECRET), lambda_context)
    version = store.get("apr-slack").version
    again = slack_handler.app.handler(signed_event(body, SIGNING_SECRET, retry=1), lambda_context)
    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    approval = store.get("apr-slack")
    assert approval.status is Status.APPROVED and approval.version == version
    kinds = [e.kind for e in store.audit("apr-slack")]
    assert kinds.count("voted") == 1 and kinds.count("decided") == 1
    assert "vote_refused" not in kinds
    [answer] = responses.responses("click")
    assert answer["text"] == "Your approval is already recorded."
    assert answer["response_type"] == "ephemeral"


def test_a_replayed_reason_submission_closes_the_modal_and_changes_nothing(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    open_approval(approvals, store, slack)
    body = payload_form(view_submission_payload("U0A", "apr-slack", "not this week"))
    first = call(body, lambda_context)
    again = slack_handler.app.handler(signed_event(body, SIGNING_SECRET, retry=1), lambda_context)
    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert not again.get("body")  # an empty ack closes the modal
    assert store.get("apr-slack").status is Status.REJECTED
    kinds = [e.kind for e in store.audit("apr-slack")]
    assert kinds.count("voted") == 1 and "vote_refused" not in kinds


# Bodies that are not what Slack sends. Unsigned they are 401; signed, 400.
GARBAGE_BODIES = {
    "payload-not-json": "payload=%7Bnot+json",
    "payload-a-json-list": "payload=%5B1%2C2%5D",
    "payload-a-json-string": "payload=%22block_actions%22",
    "bad-percent-escape": "payload=%zz",
    "truncated-json": "payload="
    + payload_form({"type": "block_actions", "user": {"id": "U0A"}})[len("payload=") : -9],
    "json-body-not-json": "{not json",
    "json-body-a-list": "[1, 2]",
    "empty": "",
}


def _mutate(base: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], Any]) -> str:
    payload = base()
    change(payload)
    return payload_form(payload)


def _approve() -> dict[str, Any]:
    return block_actions_payload("U0A", "signoff.approve", "apr-slack", "http://127.0.0.1:9/r")


def _reject() -> dict[str, Any]:
    return block_actions_payload("U0A", "signoff.reject", "apr-slack", "http://127.0.0.1:9/r")


def _reason() -> dict[str, Any]:
    return view_submission_payload("U0A", "apr-slack", "a reason")


# Signed payloads of the right kind whose fields a listener needs are missing or mistyped.
MALFORMED_PAYLOADS: dict[str, Callable[[], str]] = {
    "approve-without-user": lambda: _mutate(_approve, lambda p: p.pop("user")),
    "approve-user-a-list": lambda: _mutate(_approve, lambda p: p.update(user=["U0A"])),
    "approve-user-without-id": lambda: _mutate(_approve, lambda p: p["user"].pop("id")),
    "approve-without-actions": lambda: _mutate(_approve, lambda p: p.pop("actions")),
    "approve-actions-empty": lambda: _mutate(_approve, lambda p: p.update(actions=[])),
    "approve-actions-a-string": lambda: _mutate(_approve, lambda p: p.update(actions="approve")),
    "approve-action-a-string": lambda: _mutate(_approve, lambda p: p.update(actions=["x"])),
    "approve-without-value": lambda: _mutate(_approve, lambda p: p["actions"][0].pop("value")),
    "approve-value-a-number": lambda: _mutate(_approve, lambda p: p["actions"][0].update(value=7)),
    "approve-team-a-number": lambda: _mutate(_approve, lambda p: p.update(team=7)),
    "approve-response-url-a-list": lambda: _mutate(
        _approve, lambda p: p.update(response_url=["x"])
    ),
    "approve-value-a-lone-surrogate": lambda: _mutate(
        _approve, lambda p: p["actions"][0].update(value="apr-\ud800")
    ),
    "approve-value-too-long": lambda: _mutate(
        _approve, lambda p: p["actions"][0].update(value="a" * 5000)
    ),
    "reason-a-lone-surrogate": lambda: _mutate(
        _reason, lambda p: p["view"]["state"]["values"]["reason"]["reason"].update(value="\udfff")
    ),
    "reason-a-number": lambda: _mutate(
        _reason, lambda p: p["view"]["state"]["values"]["reason"]["reason"].update(value=5)
    ),
    "reject-without-trigger-id": lambda: _mutate(_reject, lambda p: p.pop("trigger_id")),
    "reason-without-view-state": lambda: _mutate(_reason, lambda p: p["view"].pop("state")),
    "reason-state-values-a-list": lambda: _mutate(
        _reason, lambda p: p["view"]["state"].update(values=[])
    ),
    "reason-without-private-metadata": lambda: _mutate(
        _reason, lambda p: p["view"].pop("private_metadata")
    ),
    "reason-view-without-type": lambda: _mutate(_reason, lambda p: p["view"].pop("type")),
    "reason-view-a-workflow-step": lambda: _mutate(
        _reason, lambda p: p["view"].update(type="workflow_step")
    ),
    "reason-view-a-string": lambda: _mutate(_reason, lambda p: p.update(view="signoff")),
    "reason-without-user": lambda: _mutate(_reason, lambda p: p.pop("user")),
}


def test_unsigned_garbage_gets_401(lambda_env, approvals, store, slack, lambda_context) -> None:
    open_approval(approvals, store, slack)
    statuses = {}
    for name, body in GARBAGE_BODIES.items():
        event = signed_event(body, SIGNING_SECRET)
        del event["headers"]["x-slack-signature"]
        statuses[name] = slack_handler.app.handler(event, lambda_context)["statusCode"]
    assert statuses == dict.fromkeys(GARBAGE_BODIES, 401)
    assert [e.kind for e in store.audit("apr-slack")] == ["created", "notified"]


def test_signed_malformed_requests_get_400_and_change_nothing(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    """Each case, one by one; the assertion lists every case that was not a 400."""
    open_approval(approvals, store, slack)
    version = store.get("apr-slack").version
    cases = {**GARBAGE_BODIES, **{name: make() for name, make in MALFORMED_PAYLOADS.items()}}
    statuses = {name: call(body, lambda_context)["statusCode"] for name, body in cases.items()}
    assert statuses == dict.fromkeys(cases, 400)
    assert store.get("apr-slack").version == version
    assert [e.kind for e in store.audit("apr-slack")] == ["created", "notified"]
    assert not slack.standin.conversation()["views"]


def test_a_command_with_fields_slack_never_sends_is_answered(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    """Fields outside a slash command's form are dropped before Bolt reads the body."""
    open_approval(approvals, store, slack)
    body = slash_command("U0X", "list") + "&authorizations=x&response_urls=y&type=block_actions"
    result = call(body, lambda_context)
    assert result["statusCode"] == 200
    assert "apr-slack" in json.dumps(json.loads(result["body"])["blocks"])


def test_show_with_an_id_too_long_to_be_one_is_answered_not_found(
    lambda_env, approvals, store, slack, lambda_context
) -> None:
    open_approval(approvals, store, slack)
    result = call(slash_command("U0X", "show " + "a" * 5000), lambda_context)
    assert result["statusCode"] == 200
    answer = json.loads(result["body"])
    assert answer["text"].startswith("That is not an approval id.")
    assert len(answer["text"]) < 200
