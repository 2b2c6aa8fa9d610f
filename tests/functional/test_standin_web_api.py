"""The Slack stand-in answers every Web API method the bot and `signoff doctor` call, in
process (no server): a method missing from its table would answer `unknown_method`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signoff.local.slack_standin.standin import SlackStandIn
from signoff.local.slack_standin.workspace import BOT_USER, dm_channel
from tests.conftest import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def slack(tmp_path: Path) -> SlackStandIn:
    standin = SlackStandIn(
        tmp_path / "slack.jsonl",
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        events_url="http://127.0.0.1:9/slack/events",
        base_url="http://127.0.0.1:9",
    )
    standin.define_group("S0DBA", ["U0ALICE", "U0BOB"])
    return standin


def call(slack: SlackStandIn, method: str, **args: Any) -> dict[str, Any]:
    return slack.api(method, BOT_TOKEN, args)


def test_each_method_the_bot_calls_is_answered_as_slack_answers_it(
    slack: SlackStandIn,
) -> None:
    posted = call(slack, "chat.postMessage", channel="approvals", text="Deploy api v2")
    assert posted["ok"] and posted["message"]["user"] == BOT_USER
    ts = posted["ts"]
    reply = call(slack, "chat.postMessage", channel="approvals", text="voted", thread_ts=ts)
    assert reply["ok"]

    assert call(slack, "auth.test")["user_id"] == BOT_USER
    assert call(slack, "usergroups.users.list", usergroup="S0DBA")["users"] == [
        "U0ALICE",
        "U0BOB",
    ]
    assert call(slack, "conversations.info", channel="approvals")["channel"]["is_member"]
    listed = call(slack, "conversations.list")["channels"]
    assert [c["id"] for c in listed] == ["approvals"]
    history = call(slack, "conversations.history", channel="approvals")["messages"]
    assert [m["ts"] for m in history] == [ts]  # a thread reply is not history
    thread = call(slack, "conversations.replies", channel="approvals", ts=ts)["messages"]
    assert [m["text"] for m in thread] == ["Deploy api v2", "voted"]
    assert call(slack, "conversations.open", users="U0ALICE")["channel"]["id"] == dm_channel(
        "U0ALICE"
    )
    link = call(slack, "chat.getPermalink", channel="approvals", message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/approvals/p{ts.replace('.', '')}")
    assert call(slack, "chat.update", channel="approvals", ts=ts, text="approved")["ok"]
    assert call(slack, "chat.postEphemeral", channel="approvals", user="U0ALICE", text="hi")["ok"]
    home = {"type": "home", "blocks": []}
    assert call(slack, "views.publish", user_id="U0ALICE", view=home)["view"]["id"]
    modal = {"type": "modal", "blocks": []}
    opened = call(slack, "views.open", trigger_id=slack.trigger("U0ALICE"), view=modal)
    assert opened["ok"] and opened["view"]["id"].startswith("V")

    said = slack.conversation()
    assert [m["text"] for m in said["messages"]] == ["approved", "voted"]
    assert [e["text"] for e in said["ephemerals"]] == ["hi"]
    assert [v["user"] for v in said["views"]] == ["U0ALICE"]
    assert said["homes"]["U0ALICE"]["id"] == "VHOMEU0ALICE"
    assert not [c for c in said["calls"] if c.get("fault")]


def test_an_unknown_method_a_wrong_token_and_a_fault_are_answered_as_slack_does(
    slack: SlackStandIn,
) -> None:
    assert call(slack, "chat.delete", channel="approvals", ts="1.0")["error"] == "unknown_method"
    wrong = slack.api("auth.test", "xoxb-not-the-bot", {})
    assert wrong == {"ok": False, "error": "invalid_auth"}
    slack.fault("chat.postMessage", "ratelimited")
    body, status, headers = slack.call("chat.postMessage", BOT_TOKEN, {"channel": "approvals"})
    assert (body["error"], status, headers) == ("ratelimited", 429, {"Retry-After": "1"})
    assert call(slack, "chat.postMessage", channel="approvals", text="again")["ok"]


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update", "chat.postEphemeral"])
def test_blocks_with_more_text_than_slack_takes_are_refused(
    slack: SlackStandIn, method: str
) -> None:
    """Slack refuses a message whose blocks carry more than about 12,000 characters of text
    in all, each block within its own limit (`msg_blocks_too_long`); so does the stand-in,
    and it records nothing."""
    ts = call(slack, "chat.postMessage", channel="approvals", text="card")["ts"]

    def section(size: int) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "plain_text", "text": "x" * size}}

    at_limit = [section(3000)] * 4 + [{"type": "divider"}]  # 12,000 characters
    over = [*at_limit, section(1)]
    args = {"channel": "approvals", "text": "card", "ts": ts, "user": "U0ALICE"}
    before = len(slack.state.recorded("messages")), len(slack.state.recorded("ephemerals"))
    assert call(slack, method, **args, blocks=over) == {
        "ok": False,
        "error": "msg_blocks_too_long",
    }
    after = len(slack.state.recorded("messages")), len(slack.state.recorded("ephemerals"))
    assert after == before
    found = slack.state.find_message("approvals", ts)
    assert found is not None and found["blocks"] == []
    assert call(slack, method, **args, blocks=at_limit)["ok"]


def test_user_groups_have_handles_the_page_shows(slack: SlackStandIn) -> None:
    """A group mention reads `@handle` on the page, as in Slack: `POST /local/usergroups`
    takes an optional handle (by default from the id), `GET /local/messages` carries them."""
    from flask import Flask

    from signoff.local.slack_standin.routes import blueprint

    app = Flask(__name__)
    app.register_blueprint(blueprint(slack))
    client = app.test_client()
    defined = client.post(
        "/local/usergroups", json={"id": "S0SRE", "users": ["U0DAN"], "handle": "sre-team"}
    )
    assert defined.status_code == 200
    assert client.post("/local/usergroups", json={"id": "S0ONCALL", "users": []}).status_code == 200
    for handle in ("SRE", "", "a" * 22, "sre team", 7):
        refused = client.post(
            "/local/usergroups", json={"id": "S0X", "users": [], "handle": handle}
        )
        assert refused.status_code == 400 and "handle" in refused.get_json()["error"]
    shown = client.get("/local/messages").get_json()["usergroups"]
    assert shown == {"S0DBA": "dba", "S0SRE": "sre-team", "S0ONCALL": "oncall"}
    # The group's members are what usergroups.users.list answers, whatever its handle.
    assert call(slack, "usergroups.users.list", usergroup="S0SRE")["users"] == ["U0DAN"]
