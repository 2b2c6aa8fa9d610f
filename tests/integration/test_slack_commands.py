"""`/signoff` sub-commands, the next-page button, and the App Home tab, through
slack_handler.app.handler with real signatures, on DynamoDB Local and the stand-in."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import slack_handler.app
from signoff.local.slack_standin.acts import signed_headers
from signoff.local.stack import function_url_event
from signoff.model import Status
from signoff.service import Approvals
from tests.conftest import SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import (
    ResponseRecorder,
    block_actions_payload,
    payload_form,
    signed_event,
    slash_command,
)
from tests.slack_text import MRKDWN, of_kind, shown_as_typed

pytestmark = pytest.mark.integration

HOSTILE = "<!channel> <!here> <@U123> <https://x|y> & <b>bold</b>"


@pytest.fixture
def responses() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.stop()


def command(text: str, context: Any, user: str = "U0A") -> dict[str, Any]:
    result = slack_handler.app.handler(
        signed_event(slash_command(user, text), SIGNING_SECRET), context
    )
    assert result["statusCode"] == 200
    answer: dict[str, Any] = json.loads(result["body"])
    assert answer["response_type"] == "ephemeral"  # every answer is private
    return answer


def ids_in(blocks: list[dict[str, Any]]) -> list[str]:
    """The approval ids a list shows, in order (each is shown as code in its row)."""
    return re.findall(r'"text": "(apr-[a-z0-9-]+)", "style": \{"code": true\}', json.dumps(blocks))


def open_many(approvals: Approvals, count: int, **overrides: Any) -> list[str]:
    ids = [f"apr-p{n:02d}" for n in range(count)]
    for n, approval_id in enumerate(ids):
        approvals.open(start_request(approval_id, timeout=timedelta(minutes=10 + n), **overrides))
    return ids


def test_list_pages_ten_at_a_time_with_a_next_page_button(
    lambda_env, approvals, responses, lambda_context
) -> None:
    ids = open_many(approvals, 12)
    first = command("list", lambda_context)
    assert ids_in(first["blocks"]) == ids[:10]  # soonest deadline first
    (actions,) = [b for b in first["blocks"] if b["type"] == "actions"]
    (button,) = actions["elements"]
    assert button["action_id"] == "signoff.list_next"

    payload = block_actions_payload(
        "U0A", "signoff.list_next", button["value"], responses.url("next")
    )
    result = slack_handler.app.handler(
        signed_event(payload_form(payload), SIGNING_SECRET), lambda_context
    )
    assert result["statusCode"] == 200
    (second,) = responses.responses("next")
    assert second["replace_original"] is True and second["response_type"] == "ephemeral"
    assert ids_in(second["blocks"]) == ids[10:]
    assert not [b for b in second["blocks"] if b["type"] == "actions"]  # the last page


def test_list_with_nothing_pending_says_so(lambda_env, lambda_context) -> None:
    answer = command("list", lambda_context)
    assert "Nothing is waiting" in json.dumps(answer["blocks"])


def test_mine_shows_what_waits_for_my_vote_with_its_buttons(
    lambda_env, approvals, lambda_context
) -> None:
    approvals.open(start_request("apr-mine", title=HOSTILE))
    approvals.open(start_request("apr-other", approvers=("U0B",)))
    approvals.open(start_request("apr-asked", requester="U0A", approvers=("U0B",)))
    answer = command("mine", lambda_context, user="U0A")
    assert ids_in(answer["blocks"]) == ["apr-mine"]
    (actions,) = [b for b in answer["blocks"] if b["type"] == "actions"]
    assert {e["action_id"]: e["value"] for e in actions["elements"]} == {
        "signoff.approve": "apr-mine",
        "signoff.reject": "apr-mine",
    }
    assert shown_as_typed(answer["blocks"], HOSTILE)  # as typed, in rich text
    assert not [t for t in of_kind(answer["blocks"], MRKDWN) if "channel" in t]
    assert "Nothing is waiting" in json.dumps(command("mine", lambda_context, user="U0Z"))


def test_show_help_and_unknown_input(lambda_env, approvals, lambda_context) -> None:
    approvals.open(start_request("apr-show", title=HOSTILE))
    shown = command("show apr-show", lambda_context)
    assert "apr-show" in json.dumps(shown["blocks"]) and "&lt;!here&gt;" in shown["text"]
    assert not [b for b in shown["blocks"] if b["type"] == "actions"]
    not_an_id = command("show <!channel>", lambda_context)
    assert not_an_id["text"] == "That is not an approval id. Try `/signoff list`."
    missing = command("show apr-nope", lambda_context)
    assert missing["text"] == "no approval with id 'apr-nope'. Try `/signoff list`."
    for text in ("help", "frobnicate", "show", "MINE-ish"):
        answer = command(text, lambda_context)
        assert "/signoff mine" in answer["text"] and "/signoff list" in answer["text"]


# -- App Home -----------------------------------------------------------------------


def events_api(body: dict[str, Any], secret: str = SIGNING_SECRET) -> dict[str, Any]:
    raw = json.dumps(body)
    headers = signed_headers(secret, raw, int(time.time()))
    headers["Content-Type"] = "application/json"
    return function_url_event("/slack/events", "POST", headers, raw)


def home_opened(user: str) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "token": "unused",
        "team_id": "T0LOCAL",
        "api_app_id": "A0SIGNOFF",
        "event_id": "Ev1",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
    }


def home_of(slack: StandInServer, user: str) -> dict[str, Any]:
    home: dict[str, Any] = slack.standin.conversation()["homes"][user]
    return home


def test_opening_the_home_tab_publishes_my_two_lists(
    lambda_env, approvals, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-wait", title=HOSTILE))
    approvals.open(start_request("apr-mine", requester="U0A", approvers=("U0B",)))
    result = slack_handler.app.handler(events_api(home_opened("U0A")), lambda_context)
    assert result["statusCode"] == 200
    home = home_of(slack, "U0A")
    waiting_at = next(i for i, b in enumerate(home["blocks"]) if b["type"] == "divider")
    assert ids_in(home["blocks"][:waiting_at]) == ["apr-wait"]
    assert ids_in(home["blocks"][waiting_at:]) == ["apr-mine"]
    buttons = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(e["action_id"], e["value"]) for e in buttons} == {
        ("signoff.approve", "apr-wait"),
        ("signoff.reject", "apr-wait"),
    }
    assert shown_as_typed(home["blocks"], HOSTILE)
    assert not [t for t in of_kind(home, MRKDWN) if "channel" in t or "https" in t]


def home_click(user: str, action_id: str, approval_id: str) -> dict[str, Any]:
    """A button on the Home tab, as Slack sends it: a view container, no response_url."""
    payload = block_actions_payload(user, action_id, approval_id, "unused")
    del payload["response_url"], payload["channel"]
    payload["container"] = {"type": "view", "view_id": "VHOME" + user}
    payload["view"] = {"id": "VHOME" + user, "type": "home", "callback_id": "signoff.home"}
    return signed_event(payload_form(payload), SIGNING_SECRET)


def test_approve_on_the_home_tab_decides_and_refreshes_my_tab(
    lambda_env, approvals, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-home"))
    result = slack_handler.app.handler(
        home_click("U0A", "signoff.approve", "apr-home"), lambda_context
    )
    assert result["statusCode"] == 200
    assert approvals.get("apr-home").status is Status.APPROVED
    assert ids_in(home_of(slack, "U0A")["blocks"]) == []  # no longer waiting for me


def test_a_refused_home_click_is_told_on_the_tab(
    lambda_env, approvals, slack, lambda_context
) -> None:
    approvals.open(start_request("apr-home"))
    slack_handler.app.handler(home_click("U0X", "signoff.approve", "apr-home"), lambda_context)
    assert approvals.get("apr-home").status is Status.PENDING
    notice = home_of(slack, "U0X")["blocks"][0]["text"]["text"]
    assert "not recorded" in notice and "not an approver" in notice


def test_the_events_url_check_is_answered_and_bad_event_bodies_are_refused(
    lambda_env, lambda_context
) -> None:
    check = {"type": "url_verification", "token": "t", "challenge": "c-123"}
    answer = slack_handler.app.handler(events_api(check), lambda_context)
    assert answer["statusCode"] == 200 and "c-123" in answer["body"]
    assert (
        slack_handler.app.handler(events_api(check, "forged"), lambda_context)["statusCode"] == 401
    )
    other = home_opened("U0A")
    other["event"]["type"] = "message"
    for body in (other, {"type": "event_callback"}, {"type": "other"}):
        assert slack_handler.app.handler(events_api(body), lambda_context)["statusCode"] == 400
    raw = "{not json"
    headers = {**signed_headers(SIGNING_SECRET, raw), "Content-Type": "application/json"}
    event = function_url_event("/slack/events", "POST", headers, raw)
    assert slack_handler.app.handler(event, lambda_context)["statusCode"] == 400
