"""The CLI's input checks, error lines and comparison of a reused id, without servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from signoff import cli
from signoff.cli import context, dev, output
from signoff.errors import NotFoundError
from signoff.model import MAX_TITLE, Approval
from signoff.service import Approvals
from tests.factories import start_request

runner = CliRunner()
START = ["start", "--title", "t", "--approver", "U0A", "--requester", "U0R"]
UNREACHABLE = {"SIGNOFF_LOCAL_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    "timeout",
    [
        "99999999999999999999d",  # past timedelta's range
        "9" * 5000,  # past int()'s digit limit
        "9" * 4300 + "s",
        "999999999999d",
    ],
)
def test_an_absurd_timeout_is_a_one_line_usage_error(timeout: str) -> None:
    result = runner.invoke(cli.app, [*START, "--timeout", timeout], env=UNREACHABLE)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert "timeout" in result.output
    assert result.output.count("\n") == 1
    assert len(result.output) <= output.MAX_ERROR_LINE + 1


def test_an_error_quoting_input_shows_it_as_typed_on_one_line() -> None:
    result = runner.invoke(
        cli.app, [*START, "--timeout", "[red]soon[/red] :smile:\x1b[2J\nnext"], env=UNREACHABLE
    )
    assert result.exit_code == 2
    assert result.output == (
        "error: '[red]soon[/red] :smile:\\x1b[2J\\nnext' is not a duration: "
        "use e.g. 90s, 30m, 2h or 1d (a timeout is at most 7d)\n"
    )


def test_a_refused_field_is_quoted_as_typed() -> None:
    result = runner.invoke(cli.app, [*START, "--field", "[bold]oops[/]"], env=UNREACHABLE)
    assert result.exit_code == 2
    assert result.output == "error: field '[bold]oops[/]' must look like key=value\n"


class BrokenStore:
    """A store whose every read fails in a way no code path expects."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom\nsecond line [red]")

        return fail


class BrokenTarget:
    approvals = Approvals(BrokenStore())

    def start(self, request: Any) -> dict[str, Any]:
        return {}

    def workflow(self, approval: Any) -> dict[str, Any]:
        return {}

    def cli_decisions(self) -> None:
        return None


def test_an_unexpected_error_is_one_line_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "target", BrokenTarget)
    monkeypatch.delenv(output.DEBUG_ENV, raising=False)
    for args in (["list"], ["show", "apr-x"], ["wait", "apr-x"], ["cancel", "apr-x", "--as", "U"]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 1
        assert result.output == (
            "internal error: RuntimeError: boom\\nsecond line [red] "
            "(set SIGNOFF_DEBUG=1 to see the traceback)\n"
        )


def test_signoff_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "target", BrokenTarget)
    result = runner.invoke(cli.app, ["list"], env={output.DEBUG_ENV: "1"})
    assert isinstance(result.exception, RuntimeError)


def test_main_exits_with_the_mapped_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(context, "target", BrokenTarget)
    monkeypatch.delenv(output.DEBUG_ENV, raising=False)
    monkeypatch.setattr("sys.argv", ["signoff", "list"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith("internal error: RuntimeError: boom")


NOW = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def recorded(**overrides: Any) -> Approval:
    return Approval.open(start_request("apr-same", **overrides), NOW, "approvals")[0]


def test_the_same_request_has_no_differences() -> None:
    request = start_request("apr-same", fields=(("k", "v"),), approvers=("U0A", "U0B"))
    approval = recorded(fields=(("k", "v"),), approvers=("U0B", "U0A"))
    assert approval.differences(request, "approvals") == []
    assert approval.differences(replace(request, channel=""), "approvals") == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"title": "DROP production database"}, "title was 'Deploy api', now 'DROP production"),
        ({"description": "x"}, "description was '', now 'x'"),
        ({"fields": (("k", "v"),)}, "fields was '', now 'k=v'"),
        ({"requester": "U0X"}, "requester was 'U0REQ', now 'U0X'"),
        ({"approvers": ("U0A", "U0X")}, "approvers was 'U0A', now 'U0A, U0X'"),
        ({"channel": "ops"}, "channel was 'approvals', now 'ops'"),
        ({"timeout": timedelta(minutes=31)}, "timeout was '30m', now '31m'"),
        ({"allow_self_approval": True}, "self-approval was 'False', now 'True'"),
    ],
)
def test_each_difference_is_found(change: dict[str, Any], named: str) -> None:
    found = recorded().differences(start_request("apr-same", **change), "approvals")
    assert len(found) == 1
    assert found[0].startswith(named)


def test_an_empty_channel_means_the_default_one() -> None:
    approval = recorded(channel="")
    assert approval.channel == "approvals"
    assert approval.differences(start_request("apr-same", channel=""), "approvals") == []
    assert approval.differences(start_request("apr-same", channel=""), "ops") == [
        "channel was 'approvals', now 'ops'"
    ]


def test_long_values_are_shortened_in_the_difference() -> None:
    found = recorded().differences(start_request("apr-same", title="x" * MAX_TITLE), "approvals")
    assert found == [f"title was 'Deploy api', now '{'x' * 40}…'"]


@pytest.mark.parametrize("url", ["not a url", "http://127.0.0.1:99999", "ftp://127.0.0.1:9/"])
def test_an_unusable_local_url_says_how_to_start_the_stack(url: str) -> None:
    result = runner.invoke(cli.app, ["list"], env={"SIGNOFF_LOCAL_URL": url})
    assert result.exit_code == 1
    assert result.output.startswith("error: the local stack is not answering at ")
    assert result.output.count("\n") == 1


NOT_AN_ID = "x" * 3000


@pytest.mark.parametrize(
    "args",
    [
        ["show", NOT_AN_ID],
        ["wait", NOT_AN_ID],
        ["audit", NOT_AN_ID],
        ["decide", NOT_AN_ID, "approve", "--as", "U0A"],
        ["cancel", NOT_AN_ID, "--as", "U0A"],
        ["show", "--", "apr-\u202e1\x00"],
        ["show", "APR-1A2B3C4D5E"],
    ],
)
def test_what_is_not_an_approval_id_is_a_usage_error_before_the_stack_is_asked(
    args: list[str],
) -> None:
    result = runner.invoke(cli.app, args, env=UNREACHABLE)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: '") and "is not an approval id" in result.output
    assert result.output.count("\n") == 1 and len(result.output) < 200
    assert "\u202e" not in result.output and "\x00" not in result.output


@pytest.mark.parametrize("who", ["", "<!channel>", "U0A\n", "ci bot", "U0A\u200b"])
@pytest.mark.parametrize("command", [["decide", "apr-1", "approve"], ["cancel", "apr-1"]])
def test_as_must_name_a_person(command: list[str], who: str) -> None:
    result = runner.invoke(cli.app, [*command, "--as", who], env=UNREACHABLE)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --as ")
    assert "must be a Slack user id" in result.output
    assert result.output.count("\n") == 1


class EchoingTarget:
    """A target whose listing fails with a message quoting what someone typed."""

    class approvals:  # stands in for the Approvals attribute
        @staticmethod
        def listing(*args: Any) -> Any:
            raise NotFoundError("no approval with id 'apr-\u202e1\x00\u200b\u2066'")


def test_an_error_line_shows_bidi_nul_and_invisible_characters_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context, "target", EchoingTarget)
    result = runner.invoke(cli.app, ["list"])
    assert result.exit_code == 1
    assert result.output == "error: no approval with id 'apr-\\u202e1\\x00\\u200b\\u2066'\n"


def test_dev_with_a_policy_file_that_does_not_exist_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from signoff.local import stack

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the stack was started")

    monkeypatch.setattr(stack, "LocalStack", never)
    typo = tmp_path / "typo.yaml"
    args = ["dev", "--port", "9", "--home", str(tmp_path / "home"), "--policies", str(typo)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: the policy file {typo} does not exist: check the path "
        "(or leave --policies out to have none)\n"
    )
    typo.write_text("policies:\n  p-1: {approvers: [U0A]}\n  p-1: {approvers: [U0B]}\n")
    broken = runner.invoke(cli.app, args)
    assert broken.exit_code == 1, broken.output
    assert broken.output == (
        f"error: {typo}, line 3, column 3: the key 'p-1' is given twice (first on line 2); "
        "give each key once\n"
    )


def test_dev_on_another_port_says_how_to_point_the_cli_at_it() -> None:
    assert dev._point_the_cli("http://127.0.0.1:3000", 3000) == ""
    line = dev._point_the_cli("http://127.0.0.1:3123", 3123)
    assert line == "in another shell first: export SIGNOFF_LOCAL_URL=http://127.0.0.1:3123\n"
