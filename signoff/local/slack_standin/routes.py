"""The stand-in's HTTP face: the Web API, response_url, the recorded conversation (the
page's feed) and the page's acts. Flask is imported when a blueprint is made: the local
stack's dependency, not the Lambda artifact's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signoff.local.slack_standin.acts import (
    act_request,
    app_home_opened,
    ephemeral_click,
    home_click,
)
from signoff.local.slack_standin.standin import SlackStandIn
from signoff.local.slack_standin.web_api import HANDLE
from signoff.local.slack_standin.workspace import StandInError

if TYPE_CHECKING:
    from flask import Blueprint

SUBMISSION_SHAPE = '{"user": "U…", "values": {"block_id": {"action_id": "text"}}}'


def _acted(result: tuple[int, str]) -> Any:
    from flask import jsonify

    status, body = result
    return jsonify({"status": status, "body": body})


def blueprint(standin: SlackStandIn) -> Any:
    """The Web API, response_url, the recorded conversation, and a user's acts."""
    from flask import Blueprint

    bp = Blueprint("slack_standin", __name__)
    _web_api_routes(bp, standin)
    _test_routes(bp, standin)
    _act_routes(bp, standin)
    return bp


def _web_api_routes(bp: Blueprint, standin: SlackStandIn) -> None:
    """What the bot calls: `/api/<method>`, and the response_urls it posts to."""
    from flask import jsonify, request

    @bp.post("/api/<method>")
    def web_api(method: str) -> Any:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        args: dict[str, Any] = dict(request.form.items())
        if request.is_json:
            args.update(request.get_json(silent=True) or {})
        token = token or str(args.pop("token", ""))
        body, status, headers = standin.call(method, token, args)
        return jsonify(body), status, headers

    @bp.post("/local/respond/<token>")
    def respond(token: str) -> Any:
        if not standin.respond(token, request.get_json(silent=True) or {}):
            return jsonify({"ok": False, "error": "expired_url"}), 404
        return jsonify({"ok": True})


def _test_routes(bp: Blueprint, standin: SlackStandIn) -> None:
    """What a test or the stack sets up: user groups, faults, channel membership, the
    response_urls and trigger_ids Slack would mint."""
    from flask import jsonify, request

    @bp.post("/local/usergroups")
    def define_group() -> Any:
        """Define a user group: {"id": "S0DBA", "users": ["U0ALICE", ...], "handle": "dba"}
        (the handle is optional: by default from the id)."""
        body = request.get_json(silent=True)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("id"), str)
            or not isinstance(body.get("users"), list)
            or not all(isinstance(u, str) for u in body["users"])
        ):
            return jsonify(
                {"error": 'expected {"id": "S…", "users": ["U…", ...], "handle": "dba"}'}
            ), 400
        handle = body.get("handle")
        if handle is not None and not (isinstance(handle, str) and HANDLE.fullmatch(handle)):
            return jsonify(
                {"error": "a handle is 1-21 lowercase letters, digits, '.', '_' or '-'"}
            ), 400
        standin.define_group(body["id"], body["users"], handle)
        return jsonify({"ok": True})

    @bp.post("/local/faults")
    def add_fault() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            fault = standin.fault(
                str(data["method"]),
                str(data["error"]),
                int(data.get("count", 1)),
                status=int(data["status"]) if data.get("status") else None,
                retry_after=int(data["retry_after"]) if data.get("retry_after") else None,
                channel=str(data["channel"]) if data.get("channel") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            return jsonify({"error": f"bad fault: {exc}"}), 400
        return jsonify({"ok": True, "fault": fault.__dict__})

    @bp.delete("/local/faults")
    def clear_faults() -> Any:
        standin.clear_faults()
        return jsonify({"ok": True})

    @bp.post("/local/response_urls")
    def new_response_url() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            url = standin.response_url(
                str(data["channel"]), str(data["user"]), data.get("ts") and str(data["ts"])
            )
        except KeyError as exc:
            return jsonify({"error": f"bad response_url request: missing {exc}"}), 400
        return jsonify({"url": url})

    @bp.post("/local/triggers")
    def new_trigger() -> Any:
        data = request.get_json(silent=True) or {}
        if not data.get("user"):
            return jsonify({"error": "bad trigger request: missing 'user'"}), 400
        return jsonify({"trigger_id": standin.trigger(str(data["user"]))})

    @bp.post("/local/channels/<channel>/<change>")
    def membership(channel: str, change: str) -> Any:
        if change not in ("join", "leave"):
            return jsonify({"error": "expected join or leave"}), 404
        standin.set_member(channel, change == "join")
        return jsonify({"ok": True, "channel": channel, "is_member": change == "join"})


def _submission_problem(data: Any) -> str | None:
    """What is wrong with a page's view submission, or None."""
    values = data.get("values") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("user"), str)
        or not (
            isinstance(values, dict)
            and all(
                isinstance(actions, dict) and all(isinstance(v, str) for v in actions.values())
                for actions in values.values()
            )
        )
    ):
        return f"bad submission: expected {SUBMISSION_SHAPE}"
    return None


def _act_routes(bp: Blueprint, standin: SlackStandIn) -> None:
    """The page's feed (`GET /local/messages`) and a user's acts in a channel: a click, a
    modal's submission, a slash command."""
    from flask import jsonify, request

    @bp.get("/local/messages")
    def messages() -> Any:
        return jsonify(standin.conversation())

    @bp.post("/local/click")
    def click() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return _acted(
                standin.click(
                    str(data["user"]), str(data["channel"]), str(data["ts"]), str(data["action_id"])
                )
            )
        except (KeyError, StandInError) as exc:
            return jsonify({"error": f"bad click: {exc}"}), 400

    @bp.post("/local/views/<view_id>/submit")
    def submit(view_id: str) -> Any:
        data = request.get_json(silent=True)
        problem = _submission_problem(data)
        if problem is not None or not isinstance(data, dict):
            return jsonify({"error": problem}), 400
        try:
            return _acted(standin.submit_view(view_id, data["user"], data["values"]))
        except StandInError as exc:
            return jsonify({"error": f"bad submission: {exc}"}), 400

    @bp.post("/local/command")
    def command() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return _acted(
                standin.command(
                    str(data["user"]),
                    str(data.get("text", "")),
                    str(data.get("channel", "approvals")),
                )
            )
        except KeyError as exc:
            return jsonify({"error": f"bad command: missing {exc}"}), 400


def page_blueprint(standin: SlackStandIn) -> Any:
    """`/local/ephemerals/N/click`, `/local/home/click`, `/local/home/opened` (the page's acts)."""
    from flask import Blueprint, jsonify, request

    bp = Blueprint("slack_standin_page", __name__)

    @bp.post("/local/ephemerals/<int:index>/click")
    def click_ephemeral(index: int) -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return _acted(ephemeral_click(standin, index, act_request(data)))
        except (KeyError, StandInError) as exc:
            return jsonify({"error": f"bad click: {exc}"}), 400

    @bp.post("/local/home/click")
    def click_home() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return _acted(home_click(standin, act_request(data)))
        except (KeyError, StandInError) as exc:
            return jsonify({"error": f"bad click: {exc}"}), 400

    @bp.post("/local/home/opened")
    def home_opened() -> Any:
        data = request.get_json(silent=True) or {}
        if not data.get("user"):
            return jsonify({"error": "bad request: missing 'user'"}), 400
        return _acted(app_home_opened(standin, str(data["user"])))

    return bp
