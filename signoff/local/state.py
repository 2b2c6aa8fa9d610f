"""Is the local state whole? `signoff dev` asks at start-up, and `signoff doctor` asks it.

Two kinds of trouble, told apart:

- a damaged file (`StateFileError`, before anything starts): the workflow store or
  DynamoDB Local's data is not a database, the dev secrets are not JSON. Starting on it
  would fail later, obscurely; the message names the file and what to do.
- state lost between files (`Mismatch`, once the stack runs): the table and the workflow
  store disagree — a pending approval without a running workflow (nothing will end it),
  a workflow whose record is gone (it cannot end), a pending approval whose Slack message
  the stand-in no longer has. Each says what to do.

A running workflow without a record is normal before its `create-record` step; only one
past that step is a mismatch (a kill before the step is recovered by re-running it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signoff.errors import ConfigError, NotFoundError

CREATE_STEP = "create-record"  # signoff/workflow.py's first write


class StateFileError(ConfigError):
    """A file of the local state is damaged: the message names it and what to do."""


def check_sqlite(path: Path, what: str, table: str, consequence: str) -> None:
    """Raise StateFileError unless `path` (when it exists and is not empty) is a whole
    SQLite database holding `table`."""
    if not path.exists() or path.stat().st_size == 0:
        return
    problem = ""
    try:
        with closing(sqlite3.connect(path, timeout=30)) as db:
            verdict = db.execute("PRAGMA quick_check").fetchone()
            if not verdict or verdict[0] != "ok":
                problem = f"is damaged ({verdict[0] if verdict else 'no verdict'})"
            elif not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone():
                problem = f"has no table {table}"
    except sqlite3.DatabaseError as exc:
        problem = f"is not a database ({exc}; truncated or garbled?)"
    if problem:
        raise StateFileError(
            f"{path} ({what}) {problem}: move it aside to start fresh "
            f"(mv {path} {path}.damaged); {consequence}"
        )


def check_durable_store(path: Path) -> None:
    """The workflow store is a database, and each running workflow in it can be read."""
    from aws_durable_execution_sdk_python_testing.execution import Execution

    consequence = (
        "approvals recorded in the table stay, and `signoff doctor` then lists the pending "
        "ones whose workflow is gone, with what to do"
    )
    check_sqlite(path, "the workflow store", "executions", consequence)
    if not path.exists() or path.stat().st_size == 0:
        return
    with closing(sqlite3.connect(path, timeout=30)) as db:
        rows = db.execute(
            "SELECT execution_name, data FROM executions WHERE status = 'RUNNING'"
        ).fetchall()
    for name, data in rows:
        try:
            Execution.from_json_dict(json.loads(data))
        except Exception as exc:  # whatever the emulator's decoder raises on damage
            raise StateFileError(
                f"{path} (the workflow store) holds a damaged workflow {name} "
                f"({type(exc).__name__}): move the file aside to start fresh "
                f"(mv {path} {path}.damaged); {consequence}"
            ) from None


def check_json_object(path: Path, what: str, consequence: str) -> dict[str, Any]:
    """The JSON object in `path`, or StateFileError naming it."""
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateFileError(
            f"{path} ({what}) is not JSON ({str(exc)[:80]}; truncated or garbled?): "
            f"move it aside (mv {path} {path}.damaged); {consequence}"
        ) from None
    if not isinstance(value, dict):
        raise StateFileError(
            f"{path} ({what}) is not a JSON object: move it aside "
            f"(mv {path} {path}.damaged); {consequence}"
        )
    return value


@dataclass(frozen=True)
class Mismatch:
    """One approval on which the table and the workflow store (or Slack) disagree."""

    approval_id: str
    problem: str
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.approval_id, "problem": self.problem, "fix": self.fix}


@dataclass(frozen=True)
class Sources:
    """What the comparison reads: the table, the workflow store, the Slack stand-in."""

    get: Callable[[str], Any]  # an approval by id (raises NotFoundError)
    pending: Callable[[], Iterable[Any]]  # every pending approval
    workflows: Callable[[], dict[str, str]]  # execution name -> status (RUNNING, ...)
    created: Callable[[str], bool]  # whether a workflow's create-record step succeeded
    has_message: Callable[[str, str], bool] | None  # (channel, ts) in the stand-in, if any
    home: Path


def compare(sources: Sources) -> list[Mismatch]:
    """Every disagreement between the table, the workflow store and the stand-in."""
    table = sources.home / "dynamodb"
    store = sources.home / "durable.sqlite"
    journal = sources.home / "slack.jsonl"
    found: list[Mismatch] = []
    pending = list(sources.pending())
    workflows = sources.workflows()  # read after the table: a workflow ends after its record
    for approval in pending:
        status = workflows.get(approval.id)
        if status == "RUNNING":
            if sources.has_message and approval.message is not None:
                channel, ts = approval.message.channel, approval.message.ts
                if not sources.has_message(channel, ts):
                    found.append(
                        Mismatch(
                            approval.id,
                            f"pending, but its Slack message {channel}/{ts} is not in the "
                            f"stand-in's {journal} (lost?)",
                            f"decide it with `signoff decide {approval.id} …` or cancel it "
                            f"with `signoff cancel {approval.id} --as {approval.requester}`; "
                            "its message cannot be updated",
                        )
                    )
            continue
        try:  # it may have ended since the table was read
            if sources.get(approval.id).status.is_closed:
                continue
        except NotFoundError:
            continue
        gone = "has no workflow" if status is None else f"its workflow ended ({status.lower()})"
        found.append(
            Mismatch(
                approval.id,
                f"pending, but {gone} in {store} (lost or replaced?): nothing will end it",
                f"cancel it with `signoff cancel {approval.id} --as {approval.requester}`, or "
                f"decide it with `signoff decide`; `signoff wait {approval.id}` expires it "
                "once its deadline has passed",
            )
        )
    for name, status in workflows.items():
        if status != "RUNNING":
            continue
        try:
            sources.get(name)
            continue
        except NotFoundError:
            pass
        if not sources.created(name):
            continue  # before its create-record step: it will make the record
        found.append(
            Mismatch(
                name,
                f"its workflow is running, but its record is gone from the table in {table} "
                "(deleted or replaced?): the workflow cannot end",
                f"stop `signoff dev` and move {store} aside as well to start fresh (the "
                "approval's history is gone with the table)",
            )
        )
    return found
