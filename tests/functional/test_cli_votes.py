"""What the CLI prints about votes: `show`, `list`, `wait` and `--json` name every voter,
in one time format; the wait follows votes as they come and stops on Ctrl-C saying how to
resume. Through the real commands over the in-memory store and a clock set by the test."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from signoff import cli
from signoff.cli import context
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval, Decision
from signoff.service import Approvals
from tests.factories import start_request

runner = CliRunner()
START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ENV = {"TZ": "UTC", "COLUMNS": "80"}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeTarget:
    """What the commands act on: the service over the in-memory store."""

    def __init__(self, approvals: Approvals) -> None:
        self.approvals = approvals

    def workflow(self, approval: Approval) -> dict[str, Any]:
        return {"status": "RUNNING"}

    def cli_decisions(self) -> None:
        return None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def approvals(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Approvals:
    service = Approvals(InMemoryApprovalStore(), clock=clock)
    monkeypatch.setattr(context, "target", lambda: FakeTarget(service))
    monkeypatch.setenv("TZ", "UTC")
    return service


def quorum(approvals: Approvals, approval_id: str = "apr-1a2b3c4d5e", **more: Any) -> Approval:
    """A 2-of-3 request: alice, bob and carol may approve; two must."""
    request = start_request(
        approval_id,
        title="Run migration 0042 on prod",
        approvers=("alice", "bob", "carol"),
        min_approvals=2,
        timeout=timedelta(hours=1),
        **more,
    )
    return approvals.open(request)


def test_show_names_every_approver_of_a_quorum_with_times_and_reasons(
    approvals: Approvals, clock: Clock
) -> None:
    quorum(approvals)
    clock.now = START + timedelta(minutes=5)
    approvals.decide(
        "apr-1a2b3c4d5e", "alice", Decision.APPROVE, "checked the plan\nand the backup"
    )
    clock.now = START + timedelta(minutes=12)
    approvals.decide("apr-1a2b3c4d5e", "bob", Decision.APPROVE, "ok")
    clock.now = START + timedelta(minutes=15)
    result = runner.invoke(cli.app, ["show", "apr-1a2b3c4d5e"], env=ENV)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "status      approved by alice, bob (2 of 2)" in out
    assert "approved by alice 2026-12-06 09:05 UTC (10 min ago)" in out
    assert "approved by bob 2026-12-06 09:12 UTC (3 min ago) [decided it]" in out
    # every line of a reason is quoted, not only the first
    assert "> checked the plan" in out and "> and the backup" in out
    assert "deadline    2026-12-06 10:00 UTC (45 min ago)" not in out
    assert "deadline    2026-12-06 10:00 UTC (in 45 min)" in out


def test_list_all_and_json_name_every_voter(approvals: Approvals, clock: Clock) -> None:
    quorum(approvals)
    approvals.decide("apr-1a2b3c4d5e", "alice", Decision.APPROVE, "")
    approvals.decide("apr-1a2b3c4d5e", "bob", Decision.APPROVE, "fine")
    listed = runner.invoke(cli.app, ["list", "--status", "all"], env=ENV)
    assert listed.exit_code == 0, listed.output
    flat = " ".join(listed.output.split())
    assert "alice" in flat and "bob" in flat and "(2 of 2)" in flat
    as_json = runner.invoke(cli.app, ["list", "--status", "all", "--json"], env=ENV)
    [record] = json.loads(as_json.output)
    assert [(v["user"], v["decision"], v["reason"]) for v in record["votes"]] == [
        ("alice", "approve", ""),
        ("bob", "approve", "fine"),
    ]
    assert record["approvals"] == 2 and record["min_approvals"] == 2 and record["waiting_for"] == []


def test_an_expiry_after_a_partial_quorum_names_who_approved(
    approvals: Approvals, clock: Clock
) -> None:
    quorum(approvals)
    approvals.decide("apr-1a2b3c4d5e", "alice", Decision.APPROVE, "")
    clock.now = START + timedelta(hours=1, seconds=1)
    approvals.expire_if_due("apr-1a2b3c4d5e")
    result = runner.invoke(cli.app, ["show", "apr-1a2b3c4d5e"], env=ENV)
    assert "expired with 1 of 2 approvals (approved by alice)" in result.output
    assert "nobody" not in result.output


class Votes:
    """A sleep that casts the next vote each time the wait sleeps (the approvers at work)."""

    def __init__(self, approvals: Approvals, clock: Clock, *votes: str) -> None:
        self.approvals, self.clock, self.votes = approvals, clock, list(votes)

    def __call__(self, seconds: float) -> None:
        self.clock.now += timedelta(minutes=1)
        if self.votes:
            self.approvals.decide("apr-1a2b3c4d5e", self.votes.pop(0), Decision.APPROVE, "")


def test_wait_says_each_vote_as_it_comes_and_names_both_approvers(
    approvals: Approvals, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    quorum(approvals)
    monkeypatch.setattr("signoff.cli.kickoff.time.sleep", Votes(approvals, clock, "alice", "bob"))
    result = runner.invoke(cli.app, ["wait", "apr-1a2b3c4d5e"], env=ENV)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines) if "approved by alice 2026" in line)
    second = next(i for i, line in enumerate(lines) if "approved by bob 2026" in line)
    assert first < second
    assert "apr-1a2b3c4d5e approved by alice, bob (2 of 2)" in result.output


def test_ctrl_c_during_wait_says_it_is_still_pending_and_how_to_resume(
    approvals: Approvals, monkeypatch: pytest.MonkeyPatch
) -> None:
    quorum(approvals)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("signoff.cli.kickoff.time.sleep", interrupted)
    result = runner.invoke(cli.app, ["wait", "apr-1a2b3c4d5e"], env=ENV)
    assert result.exit_code == 130
    assert "apr-1a2b3c4d5e is still pending" in result.output
    assert "signoff wait apr-1a2b3c4d5e" in result.output
    assert approvals.get("apr-1a2b3c4d5e").status.value == "pending"


def test_ids_never_wrap_in_an_80_column_table(approvals: Approvals) -> None:
    ids = ["apr-1a2b3c4d5e", "release-2026-12-06-payments-api-eu-west-1-canary"]
    for approval_id in ids:
        quorum(approvals, approval_id, description="x")
        approvals.decide(approval_id, "alice", Decision.APPROVE, "")
    for args in (["list"], ["list", "--status", "all"]):
        result = runner.invoke(cli.app, args, env=ENV)
        assert result.exit_code == 0, result.output
        starts = [line.split("  ")[0] for line in result.output.splitlines()]
        for approval_id in ids:
            assert approval_id in starts, f"{approval_id} wrapped in:\n{result.output}"


def test_json_votes_are_exactly_as_the_readme_documents(approvals: Approvals) -> None:
    quorum(approvals)
    approvals.decide("apr-1a2b3c4d5e", "alice", Decision.APPROVE, "ok")
    shown = json.loads(runner.invoke(cli.app, ["show", "apr-1a2b3c4d5e", "--json"]).output)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    documented = re.search(r"<!-- approval-json -->\n```json\n(.*?)\n```", readme, re.S)
    assert documented, "README.md documents the approval JSON between the approval-json marks"
    example = json.loads(documented.group(1))
    assert set(shown) - {"audit", "workflow"} == set(example)
    assert set(shown["votes"][0]) == set(example["votes"][0])


def every_command(command: Any, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += every_command(sub, [*path, name])
    return found


def test_version_and_help_without_type_placeholders() -> None:
    version = runner.invoke(cli.app, ["--version"])
    assert version.exit_code == 0 and re.fullmatch(r"signoff \S+\n", version.output)
    commands = every_command(typer.main.get_command(cli.app), [])
    assert ["verify"] in commands and ["policies", "push"] in commands
    for command in commands:  # every command, those added later too
        shown = runner.invoke(cli.app, [*command, "--help"]).output
        assert not re.search(r"<(str|bool|int|list\[str\]|Path)>|\{ID\}", shown), shown
