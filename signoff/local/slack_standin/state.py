"""The stand-in's recorded conversation, and the journal it survives a restart in.

Every change is appended to a journal (`.signoff/slack.jsonl`, one JSON line per change: a
message posted, a message edited, a call recorded...) BEFORE the call that made it is
answered, so whatever Slack "said" to the bot is on disk by the time the bot hears it — as
the table's writes are. The line is handed to the kernel with one `write()`; it is not
fsync'ed: the kernel's page cache outlives the process, so a `kill -9` at any instant loses
nothing that was answered (a power cut or an OS crash can lose the last lines, as it can
the emulators' own files). A kill in the middle of a `write()` can leave a torn last line:
that change was never answered, and the next start drops it. Each call appends what it
changed, never the whole state (O(1) per call); at start-up the journal is replayed and
compacted (written anew beside it, then renamed over it). A `slack.json` from an earlier
version is migrated at start-up.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from signoff.local import journal

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


class State:
    """What Slack holds: messages, private messages, views, calls, triggers, response_urls
    and Home tabs. Callers hold `lock` around a read and the changes it leads to; each
    change is in the journal before it is made."""

    def __init__(self, state_file: Path, *, base_url: str):
        self.lock = threading.RLock()
        self._base_url = base_url.rstrip("/")
        self._state = _load(state_file)
        self._journal = journal.Journal(state_file, self._state)
        # (channel, ts) -> index in messages, and the newest ts: O(1) per call.
        self._message_at: dict[tuple[str, str], int] = {}
        self._last_ts = 0.0
        for index, message in enumerate(self._state["messages"]):
            self._indexed(index, message)

    def snapshot(self) -> dict[str, Any]:
        """A copy of what was said (not the triggers and response_urls)."""
        with self.lock:
            return {
                key: json.loads(json.dumps(self._state[key]))
                for key in ("messages", "ephemerals", "views", "calls", "homes")
            }

    def recorded(self, key: str) -> Any:
        """One part of the state, as held (read it under the lock; change it only through
        the methods below)."""
        return self._state[key]

    def close(self) -> None:
        """Stop recording (every change is in the journal already)."""
        with self.lock:
            self._journal.close()

    # -- changes ---------------------------------------------------------------------

    def append(self, key: str, value: dict[str, Any]) -> None:
        self._journal.apply({"op": "append", "key": key, "value": value})
        if key == "messages":
            self._indexed(len(self._state["messages"]) - 1, value)

    def replace(self, key: str, index: int, value: dict[str, Any]) -> None:
        self._journal.apply({"op": "replace", "key": key, "index": index, "value": value})

    def put(self, key: str, name: str, value: Any) -> None:
        self._journal.apply({"op": "set", "key": key, "name": name, "value": value})

    def remove(self, key: str, name: str) -> None:
        self._journal.apply({"op": "delete", "key": key, "name": name})

    # -- messages --------------------------------------------------------------------

    def _indexed(self, index: int, message: dict[str, Any]) -> None:
        self._message_at[(str(message["channel"]), str(message["ts"]))] = index
        self._last_ts = max(self._last_ts, float(message["ts"]))

    def has_message(self, channel: str, ts: str) -> bool:
        """Whether a message was posted at (channel, ts)."""
        with self.lock:
            return (channel, ts) in self._message_at

    def message_channels(self) -> set[str]:
        """Every channel a message was posted in."""
        return {channel for channel, _ in self._message_at}

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        index = self._message_at.get((channel, ts))
        return None if index is None else dict(self._state["messages"][index])

    def edit_message(self, channel: str, ts: str, text: Any, blocks: Any) -> bool:
        """Re-render a message (chat.update, a response_url): False if there is none."""
        index = self._message_at.get((channel, ts))
        if index is None:
            return False
        message = self._state["messages"][index]
        edited = {**message, "text": text, "blocks": blocks, "edits": message["edits"] + 1}
        self.replace("messages", index, edited)
        return True

    def new_ts(self) -> str:
        return f"{max(time.time(), self._last_ts + 0.000001):.6f}"

    # -- what Slack puts in a request --------------------------------------------------

    def response_url(self, channel: str, user: str, ts: str | None) -> str:
        """A response_url as Slack puts in a request: `ts` is the message it may replace."""
        token = secrets.token_hex(8)
        self.put("responses", token, {"channel": channel, "user": user, "ts": ts})
        return f"{self._base_url}/local/respond/{token}"

    def trigger(self, user: str) -> str:
        """A trigger_id for `user`, as Slack puts in a click or a command (opens one view)."""
        trigger = f"{int(time.time())}.{secrets.token_hex(6)}"
        self.put("triggers", trigger, user)
        return trigger

    def respond(self, token: str, body: dict[str, Any]) -> bool:
        """A post to a response_url: replace the message it names, or say something
        privately. False if there is no such response_url."""
        with self.lock:
            target = self._state["responses"].get(token)
            if target is None:
                return False
            if body.get("replace_original") and target.get("ts"):
                message = self.find_message(target["channel"], target["ts"])
                if message is not None:
                    text = body.get("text", message["text"])
                    blocks = body.get("blocks", [])
                    self.edit_message(message["channel"], message["ts"], text, blocks)
            else:
                self.append(
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
