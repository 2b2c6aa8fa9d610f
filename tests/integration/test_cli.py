"""The CLI through Typer's runner; waiting against DynamoDB Local."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from signoff import cli
from signoff.model import Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

runner = CliRunner()


@dataclass
class StoreOnlyTarget:
    """A target whose workflow is gone: only the table remains."""

    approvals: Approvals

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "failed"}


@pytest.mark.integration
def test_wait_expires_a_request_its_workflow_abandoned(store: DynamoApprovalStore) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    Approvals(store, clock=lambda: long_ago).open(start_request("apr-orphan"))
    code = cli._wait(StoreOnlyTarget(Approvals(store)), "apr-orphan", as_json=False, interval=0)
    assert code == 4
    assert store.get("apr-orphan").status is Status.EXPIRED
    assert [e["kind"] for e in store.audit("apr-orphan")] == ["created", "expired"]


def test_help_lists_commands_and_exit_codes() -> None:
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for command in ("start", "wait", "list", "show", "decide", "cancel", "dev"):
        assert command in result.output
    assert "3 rejected" in " ".join(result.output.split())
    start_help = runner.invoke(cli.app, ["start", "--help"], env={"COLUMNS": "200"})
    assert "3 rejected" in start_help.output and "--approver" in start_help.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "--title", "t", "--approver", "U0A", "--timeout", "soon"], "not a duration"),
        (["start", "--title", "t", "--approver", "U0A", "--field", "oops"], "key=value"),
        (["start", "--title", " ", "--approver", "U0A", "--requester", "U0R"], "title is empty"),
        (["start", "--title", "t", "--approver", "U0A", "--timeout", "9d"], "timeout"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(args: list[str], message: str) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_required_option_is_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(cli.app, ["start", "--title", "t"])
    assert result.exit_code == 2
    assert "--approver" in result.output


def test_no_local_stack_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_LOCAL_URL", "http://127.0.0.1:9")
    result = runner.invoke(cli.app, ["list"])
    assert result.exit_code == 1
    assert "signoff dev" in result.output
