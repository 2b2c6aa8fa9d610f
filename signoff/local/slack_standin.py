"""A local stand-in for Slack: the Web API methods the bot calls, and a user's clicks.

Web API calls (`/api/<method>`) are answered like Slack answers them and recorded.
A person (the page at `/`) or a test drives the other direction: a click, a modal
submission or a slash command becomes a real, signed request to the Bolt endpoint,
exactly as Slack would send it. The conversation is served at `GET /local/messages`.

What a restart finds: every change is appended to a journal (`.signoff/slack.jsonl`, one
JSON line per change: a message posted, a message edited, a call recorded...) BEFORE the
call that made it is answered, so whatever Slack "said" to the bot is on disk by the time
the bot hears it — as the table's writes are. The line is handed to the kernel with one
`write()`; it is not fsync'ed: the kernel's page cache outlives the process, so a
`kill -9` at any instant loses nothing that was answered (a power cut or an OS crash
can lose the last lines, as it can the emulators' own files). A kill in the middle of a
`write()` can leave a torn last line: that change was never answered, and the next start
drops it. Each call appends what it changed, never the whole state (O(1) per call); at
start-up the journal is replayed and compacted (written anew beside it, then renamed
over it). A `slack.json` from an earlier version is migrated at start-up.

For tests: `POST /local/faults` makes the next calls of a Web API method fail the way
Slack fails them; `POST /local/response_urls` and `POST /local/triggers` mint the
response_url and trigger_id Slack would put in a request; `POST /local/channels/C/leave`
(and `/join`) takes the bot out of a channel (and back), as `conversations.info` reports.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from signoff.local import journal

TEAM = {"id": "T0LOCAL", "domain": "signoff-local"}
APP_ID = "A0SIGNOFF"
BOT_USER = "U0SIGNOFFBOT"
DEFAULT_CHANNEL = "approvals"  # the local stack's default channel
# What the journal holds: lists that only grow (an edit replaces one element) and maps.
EMPTY_STATE: dict[str, Any] = {
    "messages": [],
    "ephemerals": [],
    "views": [],
    "calls": [],
    "triggers": {},
    "responses": {},
    "homes": {},
}
# The single JSON file earlier versions kept the state in; migrated at start-up.
LEGACY_FILE = "slack.json"

log = logging.getLogger(__name__)


def signed_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def post_signed(url: str, signing_secret: str, body: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body.encode(), headers=signed_headers(signing_secret, body), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def blueprint(standin: SlackStandIn) -> Any:
    """The stand-in's HTTP face: the Web API, response_url, the recorded conversation."""
    from flask import Blueprint, jsonify, request

    bp = Blueprint("slack_standin", __name__)

    @bp.post("/local/usergroups")
    def define_group() -> Any:
        """Define a user group: {"id": "S0DBA", "users": ["U0ALICE", ...]}."""
        body = request.get_json(silent=True)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("id"), str)
            or not isinstance(body.get("users"), list)
            or not all(isinstance(u, str) for u in body["users"])
        ):
            return jsonify({"error": 'expected {"id": "S…", "users": ["U…", ...]}'}), 400
        standin.define_group(body["id"], body["users"])
        return jsonify({"ok": True})

    @bp.post("/api/<method>")
    def web_api(method: str) -> Any:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        args: dict[str, Any] = dict(request.form.items())
        if request.is_json:
            args.update(request.get_json(silent=True) or {})
        token = token or str(args.pop("token", ""))
        body, status, headers = standin.call(method, token, args)
        return jsonify(body), status, headers

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

    @bp.get("/local/messages")
    def messages() -> Any:
        return jsonify(standin.conversation())

    @bp.post("/local/respond/<token>")
    def respond(token: str) -> Any:
        if not standin.respond(token, request.get_json(silent=True) or {}):
            return jsonify({"ok": False, "error": "expired_url"}), 404
        return jsonify({"ok": True})

    def acted(result: tuple[int, str]) -> Any:
        status, body = result
        return jsonify({"status": status, "body": body})

    @bp.post("/local/channels/<channel>/<change>")
    def membership(channel: str, change: str) -> Any:
        if change not in ("join", "leave"):
            return jsonify({"error": "expected join or leave"}), 404
        standin.set_member(channel, change == "join")
        return jsonify({"ok": True, "channel": channel, "is_member": change == "join"})

    @bp.post("/local/click")
    def click() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return acted(
                standin.click(
                    str(data["user"]), str(data["channel"]), str(data["ts"]), str(data["action_id"])
                )
            )
        except (KeyError, StandInError) as exc:
            return jsonify({"error": f"bad click: {exc}"}), 400

    @bp.post("/local/views/<view_id>/submit")
    def submit(view_id: str) -> Any:
        data = request.get_json(silent=True)
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
            shape = '{"user": "U…", "values": {"block_id": {"action_id": "text"}}}'
            return jsonify({"error": f"bad submission: expected {shape}"}), 400
        try:
            return acted(standin.submit_view(view_id, data["user"], values))
        except StandInError as exc:
            return jsonify({"error": f"bad submission: {exc}"}), 400

    @bp.post("/local/command")
    def command() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return acted(
                standin.command(
                    str(data["user"]),
                    str(data.get("text", "")),
                    str(data.get("channel", "approvals")),
                )
            )
        except KeyError as exc:
            return jsonify({"error": f"bad command: missing {exc}"}), 400

    return bp


def _load(path: Path) -> dict[str, Any]:
    """The state the journal at `path` holds (migrating an earlier version's slack.json
    beside it), written anew as a compact journal before anything is appended."""
    legacy = path.with_name(LEGACY_FILE)
    if not path.exists() and legacy.exists() and legacy != path:
        try:
            saved = json.loads(legacy.read_text())
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
            state = {key: saved.get(key, empty) for key, empty in EMPTY_STATE.items()}
            for key, empty in EMPTY_STATE.items():
                if type(state[key]) is not type(empty):
                    raise ValueError(f"{key} is not a {type(empty).__name__}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise journal.JournalError(
                f"{legacy} (the Slack stand-in's state from an earlier version) cannot be "
                f"read ({str(exc)[:120]}): move it aside to start with an empty Slack "
                "conversation; approvals recorded in the table stay"
            ) from None
        journal.compact(path, state)
        legacy.unlink()
        log.info("migrated %s to the journal %s", legacy, path)
        return state
    state, torn = journal.read(path, EMPTY_STATE, "Slack conversation")
    if torn:
        log.info("%s: dropped a change torn by a kill while it was written", path)
    if path.exists():
        journal.compact(path, state)
    return state


def dm_channel(user: str) -> str:
    """The id of the direct-message channel between the bot and `user`."""
    return f"D{user}"


class StandInError(Exception):
    pass


@dataclass
class Fault:
    """The next `count` calls of `method` (in `channel`, if given) answer
    `{"ok": false, "error": error}`."""

    method: str
    error: str
    count: int
    status: int
    retry_after: int | None
    channel: str | None = None

    def answer(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return {"ok": False, "error": self.error}, self.status, headers


class SlackStandIn:
    def __init__(
        self,
        state_file: Path,
        *,
        bot_token: str,
        signing_secret: str,
        events_url: str,
        base_url: str,
        on_answer: Callable[[str, dict[str, Any]], None] | None = None,
    ):
        """`state_file` is the journal (`.signoff/slack.jsonl`); `on_answer(method, args)`
        runs once a Web API call is recorded, before its answer."""
        self._file = state_file
        self._on_answer = on_answer
        self._faults: list[Fault] = []
        self._bot_token = bot_token
        self._signing_secret = signing_secret
        self._events_url = events_url
        self._base_url = base_url.rstrip("/")
        self._lock = threading.RLock()
        self._groups: dict[str, list[str]] = {}
        # Channels the bot was removed from (POST /local/channels/C/leave); in memory only.
        self._left: set[str] = set()
        self._state = _load(state_file)
        self._journal = journal.Journal(state_file, self._state)
        # (channel, ts) -> index in messages, and the newest ts: O(1) per call.
        self._message_at: dict[tuple[str, str], int] = {}
        self._last_ts = 0.0
        for index, message in enumerate(self._state["messages"]):
            self._indexed(index, message)

    # -- what was said -------------------------------------------------------------

    def conversation(self) -> dict[str, Any]:
        with self._lock:
            return {
                key: json.loads(json.dumps(self._state[key]))
                for key in ("messages", "ephemerals", "views", "calls", "homes")
            }

    def close(self) -> None:
        """Stop recording (every change is in the journal already)."""
        with self._lock:
            self._journal.close()

    # -- changes: each in the journal before it is made (the caller holds the lock) --

    def _append(self, key: str, value: dict[str, Any]) -> None:
        self._journal.apply({"op": "append", "key": key, "value": value})
        if key == "messages":
            self._indexed(len(self._state["messages"]) - 1, value)

    def _replace(self, key: str, index: int, value: dict[str, Any]) -> None:
        self._journal.apply({"op": "replace", "key": key, "index": index, "value": value})

    def _set(self, key: str, name: str, value: Any) -> None:
        self._journal.apply({"op": "set", "key": key, "name": name, "value": value})

    def _delete(self, key: str, name: str) -> None:
        self._journal.apply({"op": "delete", "key": key, "name": name})

    def _indexed(self, index: int, message: dict[str, Any]) -> None:
        self._message_at[(str(message["channel"]), str(message["ts"]))] = index
        self._last_ts = max(self._last_ts, float(message["ts"]))

    def has_message(self, channel: str, ts: str) -> bool:
        """Whether a message was posted at (channel, ts)."""
        with self._lock:
            return (channel, ts) in self._message_at

    def _find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        index = self._message_at.get((channel, ts))
        return None if index is None else dict(self._state["messages"][index])

    def _edit_message(self, channel: str, ts: str, text: Any, blocks: Any) -> bool:
        """Re-render a message (chat.update, a response_url): False if there is none."""
        index = self._message_at.get((channel, ts))
        if index is None:
            return False
        message = self._state["messages"][index]
        edited = {**message, "text": text, "blocks": blocks, "edits": message["edits"] + 1}
        self._replace("messages", index, edited)
        return True

    # -- the Web API ---------------------------------------------------------------

    def api(self, method: str, token: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.call(method, token, args)[0]

    def call(
        self, method: str, token: str, args: dict[str, Any]
    ) -> tuple[dict[str, Any], int, dict[str, str]]:
        """One Web API call: (the JSON answer, the HTTP status, extra headers)."""
        for key in ("blocks", "view", "attachments", "metadata"):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    return {"ok": False, "error": f"invalid_{key}"}, 200, {}
        with self._lock:
            call: dict[str, Any] = {"method": method, "args": args, "at": time.time()}
            fault = self._take_fault(method, args)
            answer: tuple[dict[str, Any], int, dict[str, str]]
            if fault is not None:
                call["fault"] = fault.error
                answer = fault.answer()
            elif token != self._bot_token:
                answer = {"ok": False, "error": "invalid_auth"}, 200, {}
            else:
                handler = getattr(self, "_api_" + method.replace(".", "_"), None)
                result = handler(args) if handler else {"ok": False, "error": "unknown_method"}
                answer = result, 200, {}
            self._append("calls", call)
        if self._on_answer is not None:
            self._on_answer(method, args)
        return answer

    # -- faults (tests) --------------------------------------------------------------

    def fault(
        self,
        method: str,
        error: str,
        count: int = 1,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        channel: str | None = None,
    ) -> Fault:
        """Fail the next `count` calls of `method` with `error` (only those naming
        `channel` when it is given: e.g. `not_in_channel` for one channel, DMs still work).

        "ratelimited" answers HTTP 429 with a Retry-After header (1 s unless given),
        as Slack does; any other error answers HTTP `status` (default 200).
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if error == "ratelimited":
            status = status or 429
            retry_after = 1 if retry_after is None else retry_after
        fault = Fault(method, error, count, status or 200, retry_after, channel)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, args: dict[str, Any]) -> Fault | None:
        for fault in self._faults:
            if fault.channel is not None and str(args.get("channel")) != fault.channel:
                continue
            if fault.method == method and fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _new_ts(self) -> str:
        return f"{max(time.time(), self._last_ts + 0.000001):.6f}"

    # -- user groups (kept in memory: defined at each start from the policy file) ----

    def define_group(self, group_id: str, users: tuple[str, ...] | list[str]) -> None:
        """Make `usergroups.users.list` answer `users` for `group_id`."""
        with self._lock:
            self._groups[group_id] = [str(u) for u in users]

    def _api_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group_id = str(args.get("usergroup") or "")
        if group_id not in self._groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self._groups[group_id])}

    def _api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user_id": BOT_USER, "team_id": TEAM["id"], "bot_id": "B0SIGNOFF"}

    # -- channel membership (what `signoff doctor` checks) ---------------------------

    def set_member(self, channel: str, member: bool) -> None:
        """Put the bot in `channel` or take it out (it starts in every channel)."""
        with self._lock:
            (self._left.discard if member else self._left.add)(channel)

    def _channels(self) -> list[str]:
        known = {DEFAULT_CHANNEL, *self._left}
        known.update(channel for channel, _ in self._message_at)
        # Direct messages go to user ids: those are not channels.
        return sorted(c for c in known if not c.startswith(("U", "W", "D")))

    def _channel(self, channel: str) -> dict[str, Any]:
        return {
            "id": channel,
            "name": channel,
            "is_channel": True,
            "is_archived": False,
            "is_member": channel not in self._left,
        }

    def _api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self._channels():
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._channel(channel)}

    def _api_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channels = [self._channel(c) for c in self._channels()]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        message = {
            "channel": channel,
            "ts": self._new_ts(),
            "thread_ts": args.get("thread_ts"),
            "user": BOT_USER,
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
            "metadata": args.get("metadata"),
            "edits": 0,
        }
        self._append("messages", message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        try:
            limit = min(max(int(args.get("limit") or 100), 1), 999)
        except ValueError:
            return {"ok": False, "error": "invalid_limit"}
        # Top-level messages (thread replies are not history), newest first.
        found = sorted(
            (
                m
                for m in self._state["messages"]
                if m["channel"] == channel and m.get("thread_ts") in (None, m["ts"])
            ),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        keys = ("ts", "user", "text", "blocks", "metadata", "thread_ts")
        page = [{"type": "message", **{k: m.get(k) for k in keys}} for m in found[:limit]]
        return {"ok": True, "messages": page, "has_more": len(found) > limit}

    def _api_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        parent = self._find_message(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        # The parent first, then its replies, oldest first (as Slack answers).
        replies = sorted(
            (
                m
                for m in self._state["messages"]
                if m["channel"] == channel and m.get("thread_ts") == ts
            ),
            key=lambda m: float(m["ts"]),
        )
        keys = ("ts", "user", "text", "blocks", "metadata", "thread_ts")
        page = [{"type": "message", **{k: m.get(k) for k in keys}} for m in [parent, *replies]]
        return {"ok": True, "messages": page, "has_more": False}

    def _api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user, view = str(args.get("user_id") or ""), args.get("view")
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        view = {**view, "id": "VHOME" + user}
        self._set("homes", user, view)  # each user's Home tab, as last published
        return {"ok": True, "view": view}

    def _api_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if len(users) != 1:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": dm_channel(users[0])}}

    def _api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if self._find_message(channel, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"{self._base_url}/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        message = self._find_message(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        text = args.get("text", message["text"])
        self._edit_message(channel, ts, text, args.get("blocks", message["blocks"]))
        return {"ok": True, "channel": channel, "ts": ts}

    def _api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._append(
            "ephemerals",
            {
                "channel": args.get("channel"),
                "user": args.get("user"),
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
                "at": time.time(),
            },
        )
        return {"ok": True, "message_ts": self._new_ts()}

    def _api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id"))
        user = self._state["triggers"].get(trigger)
        if user is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        self._delete("triggers", trigger)
        view = dict(args.get("view") or {})
        view_id = "V" + secrets.token_hex(5).upper()
        view["id"] = view_id
        self._append("views", {"id": view_id, "user": user, "view": view, "open": True})
        return {"ok": True, "view": view}

    # -- response_url --------------------------------------------------------------

    def respond(self, token: str, body: dict[str, Any]) -> bool:
        with self._lock:
            target = self._state["responses"].get(token)
            if target is None:
                return False
            if body.get("replace_original") and target.get("ts"):
                message = self._find_message(target["channel"], target["ts"])
                if message is not None:
                    text = body.get("text", message["text"])
                    blocks = body.get("blocks", [])
                    self._edit_message(message["channel"], message["ts"], text, blocks)
            else:
                self._append(
                    "ephemerals",
                    {
                        "channel": target["channel"],
                        "user": target["user"],
                        "text": body.get("text", ""),
                        "blocks": body.get("blocks", []),
                        "at": time.time(),
                    },
                )
            return True

    def response_url(self, channel: str, user: str, ts: str | None = None) -> str:
        """A response_url as Slack puts in a request: `ts` is the message it may replace."""
        with self._lock:
            return self._response_url(channel, user, ts)

    def trigger(self, user: str) -> str:
        """A trigger_id for `user`, as Slack puts in a click or a command (opens one view)."""
        with self._lock:
            return self._trigger(user)

    def _response_url(self, channel: str, user: str, ts: str | None) -> str:
        token = secrets.token_hex(8)
        self._set("responses", token, {"channel": channel, "user": user, "ts": ts})
        return f"{self._base_url}/local/respond/{token}"

    def _trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{secrets.token_hex(6)}"
        self._set("triggers", trigger, user)
        return trigger

    # -- a user acting -------------------------------------------------------------

    def click(self, user: str, channel: str, ts: str, action_id: str) -> tuple[int, str]:
        with self._lock:
            message = self._find_message(channel, ts)
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
                "user": {"id": user, "username": user, "name": user, "team_id": TEAM["id"]},
                "api_app_id": APP_ID,
                "token": "unused",
                "container": {
                    "type": "message",
                    "message_ts": ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                },
                "trigger_id": self._trigger(user),
                "team": TEAM,
                "channel": {"id": channel, "name": channel},
                "message": {k: message[k] for k in ("ts", "text", "blocks", "user")},
                "response_url": self._response_url(channel, user, ts),
                "actions": [_action(element, block_id)],
            }
        return post_signed(
            self._events_url, self._signing_secret, urlencode({"payload": json.dumps(payload)})
        )

    def submit_view(
        self, view_id: str, user: str, values: dict[str, dict[str, str]]
    ) -> tuple[int, str]:
        with self._lock:
            record = next((v for v in self._state["views"] if v["id"] == view_id), None)
            if record is None or not record["open"]:
                raise StandInError(f"no open view {view_id}")
            if record["user"] != user:
                raise StandInError(f"view {view_id} belongs to {record['user']}")
            state = {
                block: {
                    action: {"type": "plain_text_input", "value": value}
                    for action, value in actions.items()
                }
                for block, actions in values.items()
            }
            payload = {
                "type": "view_submission",
                "team": TEAM,
                "user": {"id": user, "username": user, "name": user, "team_id": TEAM["id"]},
                "api_app_id": APP_ID,
                "token": "unused",
                "trigger_id": self._trigger(user),
                "view": {**record["view"], "state": {"values": state}},
            }
        status, body = post_signed(
            self._events_url, self._signing_secret, urlencode({"payload": json.dumps(payload)})
        )
        with self._lock:
            answer: dict[str, Any] = {}
            if body.strip().startswith("{"):
                answer = json.loads(body)
            index = next(i for i, v in enumerate(self._state["views"]) if v["id"] == view_id)
            if status == 200 and answer.get("response_action") == "errors":
                self._replace("views", index, {**record, "errors": answer.get("errors", {})})
            elif status == 200:
                closed = {k: v for k, v in record.items() if k != "errors"}
                self._replace("views", index, {**closed, "open": False})
        return status, body

    def command(self, user: str, text: str, channel: str = "approvals") -> tuple[int, str]:
        with self._lock:
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
                "response_url": self._response_url(channel, user, None),
                "trigger_id": self._trigger(user),
            }
        status, body = post_signed(self._events_url, self._signing_secret, urlencode(form))
        if status == 200 and body.strip().startswith("{"):
            answer = json.loads(body)
            with self._lock:
                self._append(
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
# Kept apart from `blueprint` and the stand-in's state: these read the recorded
# conversation (public `conversation()`) and send the signed request Slack would send.


def page_blueprint(standin: SlackStandIn) -> Any:
    """`/local/ephemerals/N/click`, `/local/home/click`, `/local/home/opened` (the page's acts)."""
    from flask import Blueprint, jsonify, request

    bp = Blueprint("slack_standin_page", __name__)

    def acted(result: tuple[int, str]) -> Any:
        status, body = result
        return jsonify({"status": status, "body": body})

    @bp.post("/local/ephemerals/<int:index>/click")
    def click_ephemeral(index: int) -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return acted(ephemeral_click(standin, index, _act_request(data)))
        except (KeyError, StandInError) as exc:
            return jsonify({"error": f"bad click: {exc}"}), 400

    @bp.post("/local/home/click")
    def click_home() -> Any:
        data = request.get_json(silent=True) or {}
        try:
            return acted(home_click(standin, _act_request(data)))
        except (KeyError, StandInError) as exc:
            return jsonify({"error": f"bad click: {exc}"}), 400

    @bp.post("/local/home/opened")
    def home_opened() -> Any:
        data = request.get_json(silent=True) or {}
        if not data.get("user"):
            return jsonify({"error": "bad request: missing 'user'"}), 400
        return acted(app_home_opened(standin, str(data["user"])))

    return bp


@dataclass(frozen=True)
class ActRequest:
    """A user's click on a button, named by where it is: action_id, block_id and value."""

    user: str
    action_id: str
    block_id: str | None
    value: str | None


def _act_request(data: dict[str, Any]) -> ActRequest:
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


def _action(element: dict[str, Any], block_id: str) -> dict[str, Any]:
    kind = element.get("type", "button")
    action = {"type": kind, "action_id": element.get("action_id"), "block_id": block_id}
    if kind == "overflow":  # Slack sends the option chosen (the page offers the first)
        action["selected_option"] = (element.get("options") or [{}])[0]
    else:
        action |= {"text": element.get("text"), "value": element.get("value", "")}
    return action | {"action_ts": f"{time.time():.6f}"}


def _slack_user(user: str) -> dict[str, Any]:
    return {"id": user, "username": user, "name": user, "team_id": TEAM["id"]}


def _post_as_slack(standin: SlackStandIn, body: str, content_type: str) -> tuple[int, str]:
    headers = {**signed_headers(standin._signing_secret, body), "Content-Type": content_type}
    request = urllib.request.Request(
        standin._events_url, data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _interactive(standin: SlackStandIn, payload: dict[str, Any]) -> tuple[int, str]:
    body = urlencode({"payload": json.dumps(payload)})
    return _post_as_slack(standin, body, "application/x-www-form-urlencoded")


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
        "user": _slack_user(act.user),
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


def home_click(standin: SlackStandIn, act: ActRequest) -> tuple[int, str]:
    """A click on a button in the user's App Home tab: a view container, no response_url."""
    view = home_view(standin.conversation(), act.user)
    if view is None:
        raise StandInError(f"no Home tab published for {act.user}")
    element, block_id = _find_button(view.get("blocks") or [], act)
    view_id = str(view.get("id") or "VHOME" + act.user)
    payload = {
        "type": "block_actions",
        "user": _slack_user(act.user),
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
    return _post_as_slack(standin, json.dumps(body), "application/json")
