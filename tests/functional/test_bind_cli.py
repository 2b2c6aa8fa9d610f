"""`start --bind`, `verify` and a policy's reuse window through the CLI, on the in-memory
store (the same rules run on DynamoDB Local in tests/integration/test_bind_races.py)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from signoff import cli
from signoff.cli import context
from signoff.errors import NotFoundError, ValidationError
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, StartRequest, Status
from signoff.policy import PolicyBook, resolve
from signoff.service import Approvals

runner = CliRunner()
SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"
DIGEST = "sha256:" + "ab" * 32
POLICIES = """
allow_ad_hoc: true
policies:
  prod-deploy:
    approvers: [U0A, U0B]
    reuse_for: 1h
"""


class NoGroups:
    def members(self, group_id: str) -> tuple[str, ...]:
        raise ValidationError(f"the user group {group_id} cannot be resolved")


@dataclass
class MemoryTarget:
    """The CLI's target in-process: `start` resolves and opens as the workflow's first steps."""

    approvals: Approvals
    book: PolicyBook
    started: list[str] = field(default_factory=list)

    def start(self, request: StartRequest) -> dict[str, Any]:
        self.started.append(request.id)
        self.approvals.open(resolve(request, self.book, NoGroups()))
        return {"id": request.id, "started": True}

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "running"}

    def policies(self) -> PolicyBook:
        return self.book

    def kickoff_refusal(self, approval_id: str) -> str | None:
        return None

    def cli_decisions(self) -> None:
        return None


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> MemoryTarget:
    found = MemoryTarget(
        Approvals(InMemoryApprovalStore()), PolicyBook.parse(POLICIES, source="policies.yaml")
    )
    monkeypatch.setattr(context, "target", lambda: found)
    return found


def invoke(*args: str) -> Result:
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "400"})


def start(approval_id: str, *extra: str) -> Result:
    return invoke(
        "start", "--id", approval_id, "--title", "Deploy api", "--requester", "U0R", *extra
    )


AD_HOC = ("--approver", "U0A")


def test_a_bound_request_shows_and_keeps_what_it_approves(target: MemoryTarget) -> None:
    assert (
        start("apr-b1", *AD_HOC, "--bind", f"sha={SHA}", "--bind", f"digest={DIGEST}").exit_code
        == 0
    )
    shown = json.loads(invoke("show", "apr-b1", "--json").stdout)
    assert shown["bindings"] == {"sha": SHA, "digest": DIGEST}
    text = invoke("show", "apr-b1").stdout
    assert f"bound sha   {SHA}" in text
    # The same id bound to another commit is a different request: refused, nothing changes.
    again = start("apr-b1", *AD_HOC, "--bind", f"sha={OTHER}", "--bind", f"digest={DIGEST}")
    assert again.exit_code == 2
    assert f"bindings was 'sha={SHA}, digest={DIGEST}', now 'sha={OTHER}, digest={DIGEST}'" in (
        again.stderr
    )
    assert target.started == ["apr-b1"]
    assert target.approvals.get("apr-b1").bindings[0].value == SHA


@pytest.mark.parametrize(
    ("bind", "said"),
    [
        ("sha=abc", "is not 7 to 64 hexadecimal digits"),
        ("digest=latest", "is not sha256: followed by 64 hexadecimal digits"),
        ("sha", "must look like sha=<commit>"),
    ],
)
def test_a_bad_binding_is_bad_usage_and_starts_nothing(
    target: MemoryTarget, bind: str, said: str
) -> None:
    result = start("apr-b2", *AD_HOC, "--bind", bind)
    assert result.exit_code == 2
    assert said in result.stderr
    assert target.started == []


def test_verify_exit_codes(target: MemoryTarget) -> None:
    assert start("apr-v1", *AD_HOC, "--bind", f"sha={SHA}").exit_code == 0
    assert invoke("verify", "apr-v1", "--sha", SHA).exit_code == 7  # pending, no wait
    assert invoke("verify", "apr-v1", "--sha", OTHER).exit_code == 6
    target.approvals.decide("apr-v1", "U0A", Decision.APPROVE)
    ok = invoke("verify", "apr-v1", "--sha", SHA.upper())
    assert (ok.exit_code, ok.stdout) == (0, f"apr-v1 approved for sha={SHA}\n")
    wrong = invoke("verify", "apr-v1", "--sha", OTHER)
    assert wrong.exit_code == 6
    assert wrong.stderr == (
        f"refused: apr-v1 does not cover this: sha {SHA} was approved, {OTHER} was given\n"
    )
    assert invoke("verify", "apr-v1", "--sha", SHA, "--digest", DIGEST).exit_code == 6
    assert start("apr-v2", *AD_HOC, "--bind", f"sha={SHA}").exit_code == 0
    target.approvals.decide("apr-v2", "U0A", Decision.REJECT, "not today")
    assert invoke("verify", "apr-v2", "--sha", SHA).exit_code == 3
    assert start("apr-v3", *AD_HOC, "--bind", f"sha={SHA}").exit_code == 0
    target.approvals.cancel("apr-v3", "U0R")
    assert invoke("verify", "apr-v3", "--sha", SHA).exit_code == 5
    assert invoke("verify", "apr-nope", "--sha", SHA).exit_code == 1
    assert invoke("verify", "apr-v1").exit_code == 2  # nothing to verify
    assert invoke("verify", "apr-v1", "--sha", "xyz").exit_code == 2
    verdict = json.loads(invoke("verify", "apr-v1", "--sha", SHA, "--json").stdout)
    assert verdict["code"] == 0 and verdict["bindings"] == {"sha": SHA}


def test_verify_wait_waits_for_the_outcome(target: MemoryTarget) -> None:
    assert start("apr-w1", *AD_HOC, "--bind", f"sha={SHA}").exit_code == 0
    decider = threading.Timer(
        0.3, lambda: target.approvals.decide("apr-w1", "U0A", Decision.APPROVE)
    )
    decider.start()
    try:
        waited = invoke("verify", "apr-w1", "--sha", SHA, "--wait")
    finally:
        decider.join()
    assert waited.exit_code == 0, waited.output


def test_verify_exit_codes_are_in_its_help_and_the_readme() -> None:
    help_text = " ".join(invoke("verify", "--help").stdout.split())
    for said in ("0 approved", "6 a value given differs", "3 rejected", "4 expired",
                 "5 cancelled", "7 still pending", "1 unknown id"):  # fmt: skip
        assert said in help_text
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "**6** what was given is not what was approved" in readme
    assert "**7** still pending" in readme


def test_a_rerun_of_the_same_commit_reuses_the_approval(target: MemoryTarget) -> None:
    policy = ("--policy", "prod-deploy", "--bind", f"sha={SHA}")
    assert start("apr-r1", *policy).exit_code == 0
    target.approvals.decide("apr-r1", "U0A", Decision.APPROVE)
    rerun = start("apr-r2", *policy, "--wait", "--json")
    assert rerun.exit_code == 0, rerun.output
    reused = target.approvals.get("apr-r2")
    assert (reused.status, reused.reused_from, reused.decided_by) == (
        Status.APPROVED,
        "apr-r1",
        "U0A",
    )
    kinds = [e.kind.value for e in target.approvals.audit("apr-r2")]
    assert kinds == ["created", "reused"]
    assert invoke("verify", "apr-r2", "--sha", SHA).exit_code == 0
    # A new commit is a new request, and so is the same commit without the policy's window.
    assert start("apr-r3", "--policy", "prod-deploy", "--bind", f"sha={OTHER}").exit_code == 0
    assert target.approvals.get("apr-r3").status is Status.PENDING
    assert start("apr-r4", *AD_HOC, "--bind", f"sha={SHA}").exit_code == 0
    assert target.approvals.get("apr-r4").status is Status.PENDING


def test_an_approval_older_than_the_window_is_not_reused(target: MemoryTarget) -> None:
    policy = ("--policy", "prod-deploy", "--bind", f"sha={SHA}")
    assert start("apr-o1", *policy).exit_code == 0
    target.approvals.decide("apr-o1", "U0A", Decision.APPROVE)
    now = target.approvals.clock()
    target.approvals.clock = lambda: now + timedelta(hours=1, seconds=1)
    assert start("apr-o2", *policy).exit_code == 0
    assert target.approvals.get("apr-o2").status is Status.PENDING


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(cli.app, args)
    return result.exit_code, result.stdout, result.stderr


ACTION_INPUTS = {
    "title": "Deploy api",
    "approvers": "U0A",
    "requester": "U0R",
    "bind-sha": SHA,
    "dispatch-repository": "o/r",
}


def test_the_actions_dispatch_mode_files_a_bound_request_and_ends_at_once(
    target: MemoryTarget,
) -> None:
    from signoff.github_action import run_step

    step = run_step({**ACTION_INPUTS, "mode": "dispatch", "id": "apr-act1"}, _invoke)
    assert (step.code, step.outputs) == (0, {"approval-id": "apr-act1", "status": "pending"})
    filed = target.approvals.get("apr-act1")
    assert filed.gate is not None
    assert (filed.gate.kind, dict(filed.gate.target)) == ("github-dispatch", {"repository": "o/r"})
    assert [b.value for b in filed.bindings] == [SHA]


def test_the_actions_wait_mode_ends_with_the_outcome(target: MemoryTarget) -> None:
    from signoff.github_action import run_step

    def reject_once_filed() -> None:
        for _ in range(300):  # the step files it first (slowly, on a loaded machine)
            try:
                target.approvals.decide("apr-act2", "U0A", Decision.REJECT, "freeze")
                return
            except NotFoundError:
                time.sleep(0.1)

    decider = threading.Thread(target=reject_once_filed)
    decider.start()
    try:
        step = run_step({**ACTION_INPUTS, "mode": "wait", "id": "apr-act2"}, _invoke)
    finally:
        decider.join()
    assert (step.code, step.outputs) == (3, {"approval-id": "apr-act2", "status": "rejected"})
    assert "freeze" in step.message
