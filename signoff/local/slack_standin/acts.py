"""A user acting: a click on a button (in a channel, a private message or App Home), a
slash command, opening the Home tab — each sent to the Bolt endpoint as the signed
request Slack would send."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from signoff.local.slack_standin.views import home_view
from signoff.local.slack_standin.workspace import APP_ID, TEAM, StandInError, slack_user

if TYPE_CHECKING:
    from signoff.local.slack_standin.standin import SlackStandIn

FORM = "application/x-www-form-urlencoded"


def signed_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
        "Content-Type": FORM,
    }


def post_signed(url: str, signing_secret: str, body: str, content_type: str) -> tuple[int, str]:
    """POST `body` to `url` signed as Slack signs it: (the HTTP status, the body answered)."""
    headers = {**signed_headers(signing_secret, body), "Content-Type": content_type}
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _interactive(standin: SlackStandIn, payload: dict[str, Any]) -> tuple[int, str]:
    return standin.post_as_slack(urlencode({"payload": json.dumps(payload)}), FORM)


def _action(element: dict[str, Any], block_id: str) -> dict[str, Any]:
    kind = element.get("type", "button")
    action = {"type": kind, "action_id": element.get("action_id"), "block_id": block_id}
    if kind == "overflow":  # Slack sends the option chosen (the page offers the first)
        action["selected_option"] = (element.get("options") or [{}])[0]
    else:
        action |= {"text": element.get("text"), "value": element.get("value", "")}
    return action | {"action_ts": f"{time.time():.6f}"}


# -- in a channel ------------------------------------------------------------------------


def click(
    standin: SlackStandIn, user: str, channel: str, ts: str, action_id: str
) -> tuple[int, str]:
    """A click on button `action_id` of the message at (channel, ts)."""
    state = standin.state
    with state.lock:
        message = state.find_message(channel, ts)
        if message is None:
            raise StandInError(f"no message {channel}/{ts}")
        element, block_id = None, ""
        for block in message["blocks"]:
            for candidate in block.get("elements", []):
                if candidate.get("action_id") == action_id:
                    element, block_id = candidate, block.get("block_id", "")
        if element is None:
            raise StandInError(f"the message has no button {action_id}")
        payload = {
            "type": "block_actions",
            "user": slack_user(user),
            "api_app_id": APP_ID,
            "token": "unused",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": state.trigger(user),
            "team": TEAM,
            "channel": {"id": channel, "name": channel},
            "message": {k: message[k] for k in ("ts", "text", "blocks", "user")},
            "response_url": state.response_url(channel, user, ts),
            "actions": [_action(element, block_id)],
        }
    return _interactive(standin, payload)


def command(standin: SlackStandIn, user: str, text: str, channel: str) -> tuple[int, str]:
    """`/signoff <text>` typed by `user` in `channel`; an answer Bolt gives in the response
    is shown to that user only, as Slack shows it."""
    state = standin.state
    with state.lock:
        form = {
            "token": "unused",
            "team_id": TEAM["id"],
            "team_domain": TEAM["domain"],
            "channel_id": channel,
            "channel_name": channel,
            "user_id": user,
            "user_name": user,
            "command": "/signoff",
            "text": text,
            "api_app_id": APP_ID,
            "response_url": state.response_url(channel, user, None),
            "trigger_id": state.trigger(user),
        }
    status, body = standin.post_as_slack(urlencode(form), FORM)
    if status == 200 and body.strip().startswith("{"):
        answer = json.loads(body)
        with state.lock:
            state.append(
                "ephemerals",
                {
                    "channel": channel,
                    "user": user,
                    "text": answer.get("text", ""),
                    "blocks": answer.get("blocks", []),
                    "at": time.time(),
                },
            )
    return status, body


# -- the page's other acts: buttons in private messages and in App Home, opening Home -----
#
# These read the recorded conversation (public `conversation()`) and send the signed
# request Slack would send.


@dataclass(frozen=True)
class ActRequest:
    """A user's click on a button, named by where it is: action_id, block_id and value."""

    user: str
    action_id: str
    block_id: str | None
    value: str | None


def act_request(data: dict[str, Any]) -> ActRequest:
    """The click a page's request names (KeyError for a missing user or action_id)."""
    block_id, value = data.get("block_id"), data.get("value")
    return ActRequest(
        str(data["user"]),
        str(data["action_id"]),
        None if block_id is None else str(block_id),
        None if value is None else str(value),
    )


def _find_button(blocks: list[Any], act: ActRequest) -> tuple[dict[str, Any], str]:
    """The recorded element the click names (what the request carries comes from it)."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        block_id = str(block.get("block_id", ""))
        if act.block_id not in (None, block_id):
            continue
        for element in candidates:
            if not isinstance(element, dict) or element.get("action_id") != act.action_id:
                continue
            if act.value is None or str(element.get("value", "")) == act.value:
                return element, block_id
    raise StandInError(f"no button {act.action_id} there")


def ephemeral_click(standin: SlackStandIn, index: int, act: ActRequest) -> tuple[int, str]:
    """A click on a button in a private ("only visible to you") message, as Slack sends it."""
    ephemerals = standin.conversation()["ephemerals"]
    if not 0 <= index < len(ephemerals):
        raise StandInError(f"no private message {index}")
    ephemeral = ephemerals[index]
    if ephemeral.get("user") != act.user:
        raise StandInError(f"private message {index} is not visible to {act.user}")
    element, block_id = _find_button(ephemeral.get("blocks") or [], act)
    channel = str(ephemeral.get("channel") or "approvals")
    message_ts = str(ephemeral.get("ts") or f"{float(ephemeral.get('at') or 0):.6f}")
    payload = {
        "type": "block_actions",
        "user": slack_user(act.user),
        "api_app_id": APP_ID,
        "token": "unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": True,
        },
        "trigger_id": standin.trigger(act.user),
        "team": TEAM,
        "channel": {"id": channel, "name": channel},
        "response_url": standin.response_url(channel, act.user, None),
        "actions": [_action(element, block_id)],
    }
    return _interactive(standin, payload)


def home_click(standin: SlackStandIn, act: ActRequest) -> tuple[int, str]:
    """A click on a button in the user's App Home tab: a view container, no response_url."""
    view = home_view(standin.conversation(), act.user)
    if view is None:
        raise StandInError(f"no Home tab published for {act.user}")
    element, block_id = _find_button(view.get("blocks") or [], act)
    view_id = str(view.get("id") or "VHOME" + act.user)
    payload = {
        "type": "block_actions",
        "user": slack_user(act.user),
        "api_app_id": APP_ID,
        "token": "unused",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": standin.trigger(act.user),
        "team": TEAM,
        "view": {**view, "id": view_id, "type": "home", "state": {"values": {}}},
        "actions": [_action(element, block_id)],
    }
    return _interactive(standin, payload)


def app_home_opened(standin: SlackStandIn, user: str) -> tuple[int, str]:
    """The Events API callback Slack sends when `user` opens the app's Home tab."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user.lstrip("UW"),
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    view = home_view(standin.conversation(), user)
    if view is not None:
        event["view"] = view
    body = {
        "token": "unused",
        "team_id": TEAM["id"],
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()),
        "event": event,
    }
    return standin.post_as_slack(json.dumps(body), "application/json")
