"""action.yml against the CLI it wraps: every input reaches a real option of `signoff start`
(parsed by the CLI's own Click command), the outputs are the ones the step writes, and no
input is pasted into a script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]

from signoff import cli, github_action
from signoff.github_action import ActionInputError, json_objects, run_step, start_args

ACTION = yaml.safe_load((Path(__file__).parents[2] / "action.yml").read_text())
SHA = "0123456789abcdef0123456789abcdef01234567"
FULL = {
    "mode": "wait",
    "title": "Deploy $(rm -rf /) `now`",
    "description": "more",
    "approvers": "U0A, U0B\nU0C",
    "approver-groups": "S0OPS",
    "min-approvals": "2",
    "fields": "env=prod\nregion=eu-west-1",
    "links": "Run=https://github.com/o/r/actions/runs/1",
    "bind-sha": SHA,
    "bind-digest": "sha256:" + "ab" * 32,
    "bind-plan": "",
    "requester": "octocat",
    "channel": "deploys",
    "timeout": "2h",
    "id": "apr-gh-1",
    "dispatch-repository": "o/r",
    "stack": "signoff",
    "region": "eu-west-1",
    "local-url": "",
}


def _parsed(args: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The group's and `start`'s parameters as the CLI's Click command parses `args`."""
    group: Any = typer.main.get_command(cli.app)
    ctx = group.make_context("signoff", list(args))
    rest = [*ctx._protected_args, *ctx.args]
    name, command, remaining = group.resolve_command(ctx, rest)
    assert name == "start" and command is not None
    sub = command.make_context(name, remaining, parent=ctx)
    return ctx.params, sub.params


def test_every_input_is_declared_and_passed_to_the_step() -> None:
    declared = set(ACTION["inputs"])
    assert declared == set(github_action.INPUTS)
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "signoff")
    for name in declared:
        env = f"SIGNOFF_INPUT_{name.upper().replace('-', '_')}"
        assert step["env"][env] == f"${{{{ inputs.{name} }}}}"
    assert ACTION["inputs"]["bind-sha"]["default"] == "${{ github.sha }}"
    assert ACTION["runs"]["using"] == "composite"


def test_no_input_is_pasted_into_a_script() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step


def test_the_outputs_are_the_ones_the_step_writes() -> None:
    assert set(ACTION["outputs"]) == {"approval-id", "status"}
    for name, output in ACTION["outputs"].items():
        assert output["value"] == f"${{{{ steps.signoff.outputs.{name} }}}}"
    done = run_step(
        FULL,
        lambda args: (
            0,
            '{"id": "apr-gh-1", "status": "pending"}\n{"id": "apr-gh-1", "status": "approved"}',
            "",
        ),
    )
    assert set(done.outputs) == set(ACTION["outputs"])


def test_every_input_reaches_a_real_option_of_signoff_start() -> None:
    top, start = _parsed(start_args(FULL))
    assert (top["stack"], top["region"]) == ("signoff", "eu-west-1")
    assert start["title"] == FULL["title"]  # as typed: no shell in between
    assert start["approver"] == ["U0A", "U0B", "U0C"]
    assert start["approver_group"] == ["S0OPS"]
    assert start["min_approvals"] == 2
    assert start["field"] == ["env=prod", "region=eu-west-1"]
    assert start["link"] == ["Run=https://github.com/o/r/actions/runs/1"]
    assert start["bind"] == [f"sha={SHA}", "digest=sha256:" + "ab" * 32]
    assert (start["requester"], start["channel"], start["timeout"]) == ("octocat", "deploys", "2h")
    assert (start["approval_id"], start["wait"], start["as_json"]) == ("apr-gh-1", True, True)
    assert start["on_approve"] is None


def test_dispatch_mode_files_a_dispatch_gate_and_does_not_wait() -> None:
    _, start = _parsed(
        start_args({**FULL, "mode": "dispatch", "local-url": "http://127.0.0.1:3000", "stack": ""})
    )
    assert start["wait"] is False
    assert start["on_approve"] == "github-dispatch:o/r"
    with pytest.raises(ActionInputError, match="dispatch-repository"):
        start_args({**FULL, "mode": "dispatch", "dispatch-repository": ""})
    with pytest.raises(ActionInputError, match="mode must be wait or dispatch"):
        start_args({**FULL, "mode": "later"})


@pytest.mark.parametrize(
    ("code", "status", "step"),
    [(0, "approved", 0), (3, "rejected", 3), (4, "expired", 4), (5, "cancelled", 5)],
)
def test_wait_mode_maps_the_outcome_to_the_step(code: int, status: str, step: int) -> None:
    printed = (
        '{"id": "apr-1", "status": "pending"}\n'
        f'{{\n  "id": "apr-1",\n  "status": "{status}",\n  "decided_by": "U0B",\n'
        '  "reason": "freeze"\n}\n'
    )
    done = run_step(FULL, lambda args: (code, printed, "Waiting for a decision on apr-1"))
    assert done.code == step
    assert done.outputs == {"approval-id": "apr-1", "status": status}
    if code:
        assert done.message == f"apr-1 {status} by U0B: freeze"


def test_an_error_before_any_request_fails_the_step_with_the_cli_sentence() -> None:
    done = run_step(FULL, lambda args: (2, "", "error: the title is empty\n"))
    assert (done.code, done.outputs, done.message) == (2, {}, "error: the title is empty")


def test_json_objects_reads_pretty_and_compact_objects() -> None:
    assert json_objects('{"a": 1}\n{\n  "b": 2\n}\n') == [{"a": 1}, {"b": 2}]
