"""Modals and App Home: `views.open` and `views.publish` as Slack answers them, a modal's
submission as Slack sends it, and the Home tab last published for a user."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from signoff.local.slack_standin.state import State
from signoff.local.slack_standin.workspace import APP_ID, TEAM, StandInError, slack_user

if TYPE_CHECKING:
    from signoff.local.slack_standin.standin import SlackStandIn


def open_view(state: State, args: dict[str, Any]) -> dict[str, Any]:
    """`views.open`: a modal for the user whose trigger_id it names (once per trigger)."""
    trigger = str(args.get("trigger_id"))
    user = state.recorded("triggers").get(trigger)
    if user is None:
        return {"ok": False, "error": "invalid_trigger_id"}
    state.remove("triggers", trigger)
    view = dict(args.get("view") or {})
    view_id = "V" + secrets.token_hex(5).upper()
    view["id"] = view_id
    state.append("views", {"id": view_id, "user": user, "view": view, "open": True})
    return {"ok": True, "view": view}


def publish_home(state: State, args: dict[str, Any]) -> dict[str, Any]:
    """`views.publish`: a user's Home tab."""
    user, view = str(args.get("user_id") or ""), args.get("view")
    if not user:
        return {"ok": False, "error": "invalid_arguments"}
    if not isinstance(view, dict) or view.get("type") != "home":
        return {"ok": False, "error": "invalid_arguments"}
    view = {**view, "id": "VHOME" + user}
    state.put("homes", user, view)  # each user's Home tab, as last published
    return {"ok": True, "view": view}


def submit_view(
    standin: SlackStandIn, view_id: str, user: str, values: dict[str, dict[str, str]]
) -> tuple[int, str]:
    """`user` submits the open modal `view_id` with `values` (block -> action -> text): the
    view_submission Slack sends; the modal then closes, or shows the errors answered."""
    state = standin.state
    with state.lock:
        record = next((v for v in state.recorded("views") if v["id"] == view_id), None)
        if record is None or not record["open"]:
            raise StandInError(f"no open view {view_id}")
        if record["user"] != user:
            raise StandInError(f"view {view_id} belongs to {record['user']}")
        values_state = {
            block: {
                action: {"type": "plain_text_input", "value": value}
                for action, value in actions.items()
            }
            for block, actions in values.items()
        }
        payload = {
            "type": "view_submission",
            "team": TEAM,
            "user": slack_user(user),
            "api_app_id": APP_ID,
            "token": "unused",
            "trigger_id": state.trigger(user),
            "view": {**record["view"], "state": {"values": values_state}},
        }
    status, body = standin.post_as_slack(
        urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    )
    with state.lock:
        answer: dict[str, Any] = {}
        if body.strip().startswith("{"):
            answer = json.loads(body)
        index = next(i for i, v in enumerate(state.recorded("views")) if v["id"] == view_id)
        if status == 200 and answer.get("response_action") == "errors":
            state.replace("views", index, {**record, "errors": answer.get("errors", {})})
        elif status == 200:
            closed = {k: v for k, v in record.items() if k != "errors"}
            state.replace("views", index, {**closed, "open": False})
    return status, body


def home_view(conversation: dict[str, Any], user: str) -> dict[str, Any] | None:
    """The App Home view last published for `user` (views.publish), if any."""
    home = conversation.get("home")
    if isinstance(home, dict) and isinstance(home.get(user), dict):
        found = home[user]
        return dict(found.get("view", found))
    for record in reversed(conversation.get("views") or []):
        view = record.get("view") or {}
        if view.get("type") == "home" and (record.get("user") or record.get("user_id")) == user:
            return dict(view)
    for call in reversed(conversation.get("calls") or []):
        args = call.get("args") or {}
        published = call.get("method") == "views.publish" and not call.get("fault")
        if published and args.get("user_id") == user and isinstance(args.get("view"), dict):
            return dict(args["view"])
    return None
