"""Markup in every user field reaches Slack as plain text: every payload the bot sent
(as the stand-in recorded it) and every answer the handler gave, through a request's
whole life."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

import notifier.app
import slack_handler.app
from signoff.events import Topic
from signoff.model import Decision
from signoff.text import escape
from tests.conftest import SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import signed_event, slash_command
from tests.integration.test_notifier import sns_event
from tests.integration.test_slack_commands import events_api, home_opened
from tests.slack_text import MRKDWN, of_kind, shown_as_typed

pytestmark = pytest.mark.integration

MARKUP = ("<!channel>", "<!here>", "<@U123>", "<https://x|y>", "<b>", "</b>", "<script>")
HOSTILE = "<!channel> <!here> <@U123> <https://x|y> & <b>bold</b> <script>x</script>"
KEY = "<b>k</b> & <!here>"
RAW_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def assert_plain(payload: Any, where: str) -> None:
    """No user text in what Slack parses: mrkdwn objects hold none (escaped or not), and
    a fallback `text` holds it escaped. plain_text and rich text carry it as typed."""
    for text in of_kind(payload, MRKDWN):
        for typed in (HOSTILE, KEY):
            assert typed not in text and escape(typed) not in text, f"user text in {where}"
    fallback = payload.get("text") if isinstance(payload, dict) else None
    for text in [*of_kind(payload, MRKDWN), *([fallback] if isinstance(fallback, str) else [])]:
        for markup in MARKUP:
            assert markup not in text, f"{markup} reached Slack raw in {where}"
        assert not RAW_AMPERSAND.search(text), f"a raw & reached Slack in {where}"


def test_markup_in_every_user_field_is_plain_text_in_every_payload(
    lambda_env, approvals, slack: StandInServer, lambda_context
) -> None:
    fields = ((KEY, HOSTILE), ("plain", HOSTILE))
    for approval_id in ("apr-i1", "apr-i2"):
        approvals.open(
            start_request(approval_id, title=HOSTILE, description=HOSTILE, fields=fields)
        )
        notifier.app.handler(sns_event(Topic.REQUESTED, approval_id), lambda_context)
    answers = []
    for user, text in (("U0A", "list"), ("U0A", "mine"), ("U0A", "show apr-i1"), ("U0A", "x")):
        result = slack_handler.app.handler(
            signed_event(slash_command(user, text), SIGNING_SECRET), lambda_context
        )
        answers.append(json.loads(result["body"]))
    slack_handler.app.handler(events_api(home_opened("U0A")), lambda_context)
    approvals.decide("apr-i1", "U0A", Decision.REJECT, HOSTILE)
    approvals.cancel("apr-i2", "U0REQ", HOSTILE)
    for approval_id in ("apr-i1", "apr-i2"):
        notifier.app.handler(sns_event(Topic.DECIDED, approval_id), lambda_context)
    time.sleep(0.1)

    recorded = slack.standin.conversation()
    methods = {c["method"] for c in recorded["calls"]}
    # The whole life was covered: post, replies and DMs, update, links, Home.
    assert {"chat.postMessage", "chat.update", "chat.getPermalink", "views.publish"} <= methods
    for call in recorded["calls"]:
        assert_plain(call["args"], call["method"])
    for n, answer in enumerate(answers):
        assert_plain(answer, f"/signoff answer {n}")
    # And the text is there as typed, not dropped: in the post, the answers and Home.
    for where in ("chat.postMessage", "chat.update", "views.publish"):
        sent = [c["args"] for c in recorded["calls"] if c["method"] == where]
        assert shown_as_typed(sent, HOSTILE) and shown_as_typed(sent, KEY), where
    assert all(shown_as_typed(answer, HOSTILE) for answer in answers[:3])
