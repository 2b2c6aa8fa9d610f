"""An append-only journal of a state made of lists and maps (the Slack stand-in's).

Each change is one JSON line appended with one `write()` before the change is applied
in memory, so the caller can answer once `apply` returns and a restart finds the change.
Lists only grow (`append`; `replace` rewrites one element in place); maps have `set` and
`delete`. Why no fsync: the journal has to outlive the process (a `kill -9`, a crash),
and a `write()` that returned is in the kernel's page cache, which does; surviving a
power cut would cost an fsync per change.

Reading it back: a line that does not end in a newline is the last write, torn by a kill
in the middle of it; that change was never answered and is dropped. Any other line that
is not a change is damage (a garbled or edited file): `JournalError` names the file and
the line. `compact` writes the state anew as one change per element, beside the journal,
and renames it over (fsync'ed: the rename must not outrun the data).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from signoff.errors import ConfigError

FORMAT = {"signoff_journal": 1}


class JournalError(ConfigError):
    """The journal holds something that is not a change: it was damaged."""


def _check(state: Mapping[str, Any], change: Mapping[str, Any]) -> None:
    """Raise unless `change` applies to `state`."""
    op, key = change["op"], change["key"]
    target = state[key]
    if op == "replace" and isinstance(target, list):
        index = change["index"]
        if not isinstance(index, int) or not 0 <= index < len(target):
            raise IndexError(f"no element {index} in {key}")
    elif not (
        (op == "append" and isinstance(target, list))
        or (op in ("set", "delete") and isinstance(target, dict) and "name" in change)
    ):
        raise ValueError(f"unknown change {op!r} on {key!r}")
    if op != "delete" and "value" not in change:
        raise KeyError("value")


def _apply(state: dict[str, Any], change: Mapping[str, Any]) -> None:
    _check(state, change)
    op, key = change["op"], change["key"]
    if op == "append":
        state[key].append(change["value"])
    elif op == "replace":
        state[key][change["index"]] = change["value"]
    elif op == "set":
        state[key][str(change["name"])] = change["value"]
    else:
        state[key].pop(str(change["name"]), None)


def _line(change: Mapping[str, Any]) -> bytes:
    return json.dumps(change, separators=(",", ":")).encode() + b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read(path: Path, empty: Mapping[str, Any], what: str) -> tuple[dict[str, Any], bool]:
    """The state the journal at `path` holds, starting from `empty` (its keys are the
    lists and maps); and whether its last line was torn (dropped)."""
    state: dict[str, Any] = json.loads(json.dumps(empty))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return state, False
    lines = data.split(b"\n")
    torn = lines.pop() != b""  # data ends in "\n" unless the last write was cut short
    for number, line in enumerate(lines, start=1):
        try:
            change = json.loads(line)
            if number == 1 and change == FORMAT:
                continue
            _apply(state, change)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise JournalError(
                f"{path} is damaged at line {number} of {len(lines)} ({str(exc)[:120]}): "
                f"move it aside to start with an empty {what}; approvals recorded in the "
                "table stay"
            ) from None
    return state, torn


def changes_for(state: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """The changes that build `state` from empty: one per list element and map entry."""
    for key, value in state.items():
        if isinstance(value, list):
            for element in value:
                yield {"op": "append", "key": key, "value": element}
        elif isinstance(value, dict):
            for name, element in value.items():
                yield {"op": "set", "key": key, "name": name, "value": element}


def compact(path: Path, state: Mapping[str, Any]) -> None:
    """Replace the journal at `path` with the fewest changes that build `state`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(path.name + ".compacting")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = [_line(FORMAT)]
        for change in changes_for(state):
            chunk.append(_line(change))
            if len(chunk) >= 1000:
                _write_all(fd, b"".join(chunk))
                chunk.clear()
        _write_all(fd, b"".join(chunk))
        os.fsync(fd)
    finally:
        os.close(fd)
    fresh.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Journal:
    """Appends changes to the file at `path` and applies them to `state`.

    Not thread-safe: callers serialize `apply` (the stand-in holds its lock).
    """

    def __init__(self, path: Path, state: dict[str, Any]):
        self.path = path
        self.state = state
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def apply(self, change: dict[str, Any]) -> None:
        """Write `change` to the file, then apply it: on return it outlives this process."""
        if self._fd is None:
            raise ValueError(f"the journal {self.path} is closed")
        _check(self.state, change)  # before writing: a bad line would damage the file
        _write_all(self._fd, _line(change))
        _apply(self.state, change)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
