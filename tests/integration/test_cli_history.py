"""`signoff list --status/--since/--page` and `signoff audit` through Typer's runner, on
DynamoDB Local."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from signoff import cli
from signoff.cli import context
from signoff.errors import RefusedError
from signoff.model import Decision
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

runner = CliRunner()
MARKUP = "[bold red]x[/] :smile: <!channel>"


@dataclass
class StoreTarget:
    """The CLI's target in-process, over the test's table."""

    approvals: Approvals

    def start(self, request: Any) -> dict[str, Any]:
        raise AssertionError("nothing starts here")

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "running"}


def invoke(*args: str) -> Result:
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "400"})


def documents(result: Result) -> list[Any]:
    """Every JSON document printed, in order."""
    assert result.exit_code == 0, result.output
    decoder, text, found = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        value, end = decoder.raw_decode(text)
        found.append(value)
        text = text[end:].strip()
    return found


@pytest.fixture
def history(store: DynamoApprovalStore, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Five approvals requested over the last 10 days; returns id → status."""
    now = datetime.now(UTC)
    made = {}
    for approval_id, age, outcome in (
        ("apr-cli-old", timedelta(days=10), "approved"),
        ("apr-cli-a1", timedelta(days=3), "approved"),
        ("apr-cli-r1", timedelta(days=2), "rejected"),
        ("apr-cli-a2", timedelta(hours=5), "approved"),
        ("apr-cli-p1", timedelta(minutes=10), "pending"),
    ):
        # A second per reading of the clock: events in the same millisecond have no order.
        ticks = (now - age + timedelta(seconds=n) for n in range(100))
        approvals = Approvals(store, clock=lambda ticks=ticks: next(ticks))  # type: ignore[misc]
        approvals.open(start_request(approval_id, approvers=("U0A", "U0B")))
        with pytest.raises(RefusedError):
            approvals.decide(approval_id, "U0X", Decision.APPROVE)  # refused, audited
        if outcome == "approved":
            approvals.decide(approval_id, "U0A", Decision.APPROVE)
        elif outcome == "rejected":
            approvals.decide(approval_id, "U0B", Decision.REJECT, MARKUP)
        made[approval_id] = outcome
    target = StoreTarget(Approvals(store))
    monkeypatch.setattr(context, "target", lambda: target)
    return made


@pytest.mark.integration
def test_list_by_status_since_newest_first(history: dict[str, str]) -> None:
    [approved] = documents(invoke("list", "--status", "approved", "--since", "7d", "--json"))
    assert [a["id"] for a in approved] == ["apr-cli-a2", "apr-cli-a1"]
    assert {a["status"] for a in approved} == {"approved"}
    [every] = documents(invoke("list", "--status", "all", "--since", "14d", "--json"))
    assert [a["id"] for a in every] == [
        "apr-cli-p1",
        "apr-cli-a2",
        "apr-cli-r1",
        "apr-cli-a1",
        "apr-cli-old",
    ]
    # Without --since a past status means the last 7 days.
    [week] = documents(invoke("list", "--status", "all", "--json"))
    assert len(week) == 4


@pytest.mark.integration
def test_list_pages_with_the_token_it_prints(history: dict[str, str]) -> None:
    seen: list[str] = []
    args = ["list", "--status", "all", "--since", "14d", "--limit", "2", "--json"]
    page = documents(invoke(*args))
    while len(page) == 2:  # the page, then {"next_page": ...}
        seen += [a["id"] for a in page[0]]
        token = page[1]["next_page"]
        page = documents(invoke(*args, "--page", token))
    seen += [a["id"] for a in page[0]]
    assert seen == ["apr-cli-p1", "apr-cli-a2", "apr-cli-r1", "apr-cli-a1", "apr-cli-old"]
    # The table says how to go on, too.
    first = invoke("list", "--status", "all", "--since", "14d", "--limit", "2")
    assert first.exit_code == 0 and "next page: --page " in first.stdout
    token = first.stdout.split("next page: --page ")[1].split()[0]
    second = documents(invoke(*args, "--page", token))
    assert [a["id"] for a in second[0]] == ["apr-cli-r1", "apr-cli-a1"]


@pytest.mark.integration
def test_a_page_token_continues_only_its_own_listing(history: dict[str, str]) -> None:
    page = documents(invoke("list", "--status", "all", "--limit", "1", "--json"))
    token = page[1]["next_page"]
    other = invoke("list", "--status", "approved", "--page", token)
    assert other.exit_code == 2
    assert "--status all" in other.output and "Traceback" not in other.output
    forged = invoke("list", "--status", "all", "--page", token[:-6] + "AAAAAA")
    assert forged.exit_code == 2 and "page token" in forged.output


@pytest.mark.integration
def test_plain_list_is_still_the_pending_list(history: dict[str, str]) -> None:
    assert documents(invoke("list", "--json")) == [
        [a for a in documents(invoke("list", "--status", "pending", "--json"))[0]]
    ]
    [pending] = documents(invoke("list", "--json"))
    assert [a["id"] for a in pending] == ["apr-cli-p1"]
    table = invoke("list")
    assert "apr-cli-p1" in table.stdout and "deadline" in table.stdout


@pytest.mark.integration
def test_history_table_prints_user_text_as_typed(history: dict[str, str]) -> None:
    result = invoke("list", "--status", "rejected", "--since", "7d")
    assert result.exit_code == 0 and "apr-cli-r1" in result.stdout and "U0B" in result.stdout
    audit = invoke("audit", "apr-cli-r1")
    assert audit.exit_code == 0
    assert MARKUP in audit.stdout  # the rejection's reason, as typed
    assert "vote_refused" in audit.stdout


@pytest.mark.integration
def test_audit_json_lines_for_one_approval(history: dict[str, str]) -> None:
    result = invoke("audit", "apr-cli-r1", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["kind"] for e in events] == ["created", "vote_refused", "voted", "decided"]
    assert {e["id"] for e in events} == {"apr-cli-r1"}
    assert events[1]["actor"] == "U0X" and "approver" in events[1]["detail"]["why"]
    assert events[2]["detail"]["reason"] == MARKUP


@pytest.mark.integration
def test_audit_json_lines_for_every_approval_since(history: dict[str, str]) -> None:
    result = invoke("audit", "--since", "2d", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert [e["id"] for e in events if e["kind"] == "created"] == ["apr-cli-a2", "apr-cli-p1"]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    longer = [json.loads(line) for line in invoke("audit", "--json").stdout.splitlines()]
    assert {e["id"] for e in longer} == set(history) - {"apr-cli-old"}  # 7 days by default
    assert sum(e["kind"] == "vote_refused" for e in longer) == 4


@pytest.mark.integration
def test_audit_of_an_unknown_id_is_an_error(history: dict[str, str]) -> None:
    result = invoke("audit", "apr-nobody", "--json")
    assert result.exit_code == 1
    assert "no approval with id 'apr-nobody'" in result.output
    assert result.stdout == ""
    # A known id with nothing in the window is not an error: no lines.
    quiet = invoke("audit", "apr-cli-old", "--since", "1h", "--json")
    assert quiet.exit_code == 0 and quiet.stdout == ""


@pytest.mark.parametrize("since", ["soon", "7", "0d", "367d", "-1d", "1w", "\uff17d", ""])
@pytest.mark.parametrize("command", [["list", "--status", "all"], ["audit"]])
def test_a_bad_since_is_a_usage_error(command: list[str], since: str) -> None:
    result = invoke(*command, "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.output and "7d" in result.output
    assert "Traceback" not in result.output


def test_help_describes_history_and_audit() -> None:
    listing = " ".join(invoke("list", "--help").output.split())
    for words in ("--status", "--since", "--limit", "--page", "next_page"):
        assert words in listing
    audit = " ".join(invoke("audit", "--help").output.split())
    assert "refused attempts included" in audit and "JSON lines" in audit
    assert "audit" in invoke("--help").output
