"""The Web API methods the bot calls, answered as Slack answers them and recorded, and
the faults tests make them fail with."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signoff.cardtext import SLACK_BLOCKS_TEXT, text_length
from signoff.local.slack_standin import views
from signoff.local.slack_standin.state import State
from signoff.local.slack_standin.workspace import BOT_USER, DEFAULT_CHANNEL, TEAM, dm_channel

Answer = tuple[dict[str, Any], int, dict[str, str]]  # the JSON answer, HTTP status, headers
Method = Callable[[dict[str, Any]], dict[str, Any]]
# The arguments Slack takes as JSON text in a form-encoded call.
JSON_ARGS = ("blocks", "view", "attachments", "metadata")
MESSAGE_KEYS = ("ts", "user", "text", "blocks", "metadata", "thread_ts")
# The methods that carry a message's blocks, held to Slack's text across them.
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")


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

    def answer(self) -> Answer:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return {"ok": False, "error": self.error}, self.status, headers


# A user group's handle as Slack allows it: lowercase letters, digits, `.`, `_`, `-`.
HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,20}")


def default_handle(group_id: str) -> str:
    """A handle for a group defined without one: its id without the `S` and leading zeros,
    in lowercase (S0DBA: dba, S0ONCALL: oncall)."""
    name = group_id[1:].lstrip("0").lower() if group_id.startswith("S") else group_id.lower()
    name = re.sub(r"[^a-z0-9._-]", "-", name)[:21]
    return name if HANDLE.fullmatch(name) else "group"


def too_long(blocks: Any) -> bool:
    """Whether Slack would refuse these blocks for the text they carry in all
    (`msg_blocks_too_long`: signoff/cardtext.py cites what is known of the limit)."""
    return isinstance(blocks, list) and text_length(blocks) > SLACK_BLOCKS_TEXT


class WebApi:
    """`/api/<method>`: each call is recorded, then answered (`on_answer(method, args)`
    runs once the call is recorded, before its answer)."""

    def __init__(
        self,
        state: State,
        *,
        bot_token: str,
        base_url: str,
        on_answer: Callable[[str, dict[str, Any]], None] | None = None,
    ):
        self._state = state
        self._bot_token = bot_token
        self._base_url = base_url.rstrip("/")
        self._on_answer = on_answer
        self._faults: list[Fault] = []
        # User groups, defined at each start from the policy file: in memory only.
        self._groups: dict[str, list[str]] = {}
        self._handles: dict[str, str] = {}
        # Channels the bot was removed from (POST /local/channels/C/leave); in memory only.
        self._left: set[str] = set()
        self._methods: dict[str, Method] = {
            "auth.test": self._auth_test,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.list": self._conversations_list,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": lambda args: views.open_view(state, args),
            "views.publish": lambda args: views.publish_home(state, args),
        }

    def call(self, method: str, token: str, args: dict[str, Any]) -> Answer:
        """One Web API call: (the JSON answer, the HTTP status, extra headers)."""
        for key in JSON_ARGS:
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    return {"ok": False, "error": f"invalid_{key}"}, 200, {}
        with self._state.lock:
            call: dict[str, Any] = {"method": method, "args": args, "at": time.time()}
            fault = self._take_fault(method, args)
            answer: Answer
            if fault is not None:
                call["fault"] = fault.error
                answer = fault.answer()
            elif token != self._bot_token:
                answer = {"ok": False, "error": "invalid_auth"}, 200, {}
            elif method in MESSAGE_METHODS and too_long(args.get("blocks")):
                answer = {"ok": False, "error": "msg_blocks_too_long"}, 200, {}
            else:
                handler = self._methods.get(method)
                result = handler(args) if handler else {"ok": False, "error": "unknown_method"}
                answer = result, 200, {}
            self._state.append("calls", call)
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
        with self._state.lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._state.lock:
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

    # -- user groups and channel membership (what `signoff doctor` checks) -------------

    def define_group(
        self, group_id: str, users: tuple[str, ...] | list[str], handle: str | None = None
    ) -> None:
        """Make `usergroups.users.list` answer `users` for `group_id`; the page shows a
        mention of it as `@handle` (by default from the id: S0DBA is @dba)."""
        with self._state.lock:
            self._groups[group_id] = [str(u) for u in users]
            self._handles[group_id] = handle or default_handle(group_id)

    def group_handles(self) -> dict[str, str]:
        """Each defined group's handle, by id (what the page shows for a mention)."""
        with self._state.lock:
            return dict(self._handles)

    def set_member(self, channel: str, member: bool) -> None:
        """Put the bot in `channel` or take it out (it starts in every channel)."""
        with self._state.lock:
            (self._left.discard if member else self._left.add)(channel)

    def _channels(self) -> list[str]:
        known = {DEFAULT_CHANNEL, *self._left}
        known.update(self._state.message_channels())
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

    # -- the methods (the caller holds the state's lock) -------------------------------

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group_id = str(args.get("usergroup") or "")
        if group_id not in self._groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self._groups[group_id])}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user_id": BOT_USER, "team_id": TEAM["id"], "bot_id": "B0SIGNOFF"}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self._channels():
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._channel(channel)}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channels = [self._channel(c) for c in self._channels()]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        message = {
            "channel": channel,
            "ts": self._state.new_ts(),
            "thread_ts": args.get("thread_ts"),
            "user": BOT_USER,
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
            "metadata": args.get("metadata"),
            "edits": 0,
        }
        self._state.append("messages", message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
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
                for m in self._state.recorded("messages")
                if m["channel"] == channel and m.get("thread_ts") in (None, m["ts"])
            ),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        page = [{"type": "message", **{k: m.get(k) for k in MESSAGE_KEYS}} for m in found[:limit]]
        return {"ok": True, "messages": page, "has_more": len(found) > limit}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        parent = self._state.find_message(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        # The parent first, then its replies, oldest first (as Slack answers).
        replies = sorted(
            (
                m
                for m in self._state.recorded("messages")
                if m["channel"] == channel and m.get("thread_ts") == ts
            ),
            key=lambda m: float(m["ts"]),
        )
        page = [
            {"type": "message", **{k: m.get(k) for k in MESSAGE_KEYS}} for m in [parent, *replies]
        ]
        return {"ok": True, "messages": page, "has_more": False}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if len(users) != 1:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": dm_channel(users[0])}}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if self._state.find_message(channel, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"{self._base_url}/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        message = self._state.find_message(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        text = args.get("text", message["text"])
        self._state.edit_message(channel, ts, text, args.get("blocks", message["blocks"]))
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._state.append(
            "ephemerals",
            {
                "channel": args.get("channel"),
                "user": args.get("user"),
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
                "at": time.time(),
            },
        )
        return {"ok": True, "message_ts": self._state.new_ts()}
