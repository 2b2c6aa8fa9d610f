"""Where the table, the workflow store and the stand-in disagree (signoff/local/state.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signoff.errors import NotFoundError
from signoff.local.state import Mismatch, Sources, compare

HOME = Path("/home/u/.signoff")


@dataclass(frozen=True)
class Ref:
    channel: str
    ts: str


@dataclass(frozen=True)
class Status:
    is_closed: bool


@dataclass(frozen=True)
class Record:
    id: str
    closed: bool = False
    message: Ref | None = Ref("approvals", "1.000100")
    requester: str = "U0REQUESTER"

    @property
    def status(self) -> Status:
        return Status(self.closed)


def sources(
    records: list[Record],
    workflows: dict[str, str],
    created: frozenset[str] | set[str] = frozenset(),
    messages: set[tuple[str, str]] | None = None,
) -> Sources:
    by_id = {r.id: r for r in records}

    def get(approval_id: str) -> Any:
        if approval_id not in by_id:
            raise NotFoundError(approval_id)
        return by_id[approval_id]

    return Sources(
        get=get,
        pending=lambda: [r for r in records if not r.closed],
        workflows=lambda: dict(workflows),
        created=lambda name: name in created,
        has_message=None if messages is None else (lambda c, t: (c, t) in messages),
        home=HOME,
    )


def only(found: list[Mismatch]) -> Mismatch:
    assert len(found) == 1, found
    return found[0]


def test_agreeing_state_has_no_mismatch() -> None:
    records = [Record("apr-1"), Record("apr-2", closed=True)]
    workflows = {"apr-1": "RUNNING", "apr-2": "SUCCEEDED"}
    assert compare(sources(records, workflows, messages={("approvals", "1.000100")})) == []


@pytest.mark.parametrize(
    ("workflows", "said"),
    [({}, "has no workflow"), ({"apr-1": "FAILED"}, "its workflow ended (failed)")],
)
def test_a_pending_approval_without_a_running_workflow(
    workflows: dict[str, str], said: str
) -> None:
    found = only(compare(sources([Record("apr-1")], workflows)))
    assert found.approval_id == "apr-1"
    assert said in found.problem
    assert str(HOME / "durable.sqlite") in found.problem
    assert "signoff cancel apr-1 --as U0REQUESTER" in found.fix


def test_a_running_workflow_whose_record_is_gone() -> None:
    found = only(compare(sources([], {"apr-9": "RUNNING"}, created={"apr-9"})))
    assert found.approval_id == "apr-9"
    assert str(HOME / "dynamodb") in found.problem
    assert str(HOME / "durable.sqlite") in found.fix


def test_a_workflow_before_its_create_step_is_not_a_mismatch() -> None:
    """Killed before `create-record`: recovery runs the step again and makes the record."""
    assert compare(sources([], {"apr-9": "RUNNING"}, created=set())) == []


def test_a_pending_approval_whose_message_the_standin_lost() -> None:
    found = only(compare(sources([Record("apr-1")], {"apr-1": "RUNNING"}, messages=set())))
    assert "1.000100" in found.problem
    assert str(HOME / "slack.jsonl") in found.problem
    # Over Socket Mode there is no stand-in to ask: nothing is said.
    assert compare(sources([Record("apr-1")], {"apr-1": "RUNNING"}, messages=None)) == []


def test_an_approval_that_ended_while_it_was_compared_is_not_a_mismatch() -> None:
    listed = Record("apr-1")
    ended = Record("apr-1", closed=True)
    base = sources([ended], {"apr-1": "SUCCEEDED"})
    racing = Sources(
        get=base.get,
        pending=lambda: [listed],  # read while it was pending
        workflows=base.workflows,
        created=base.created,
        has_message=None,
        home=HOME,
    )
    assert compare(racing) == []
