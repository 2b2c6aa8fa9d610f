"""Approval policies on `signoff dev`, run as a subprocess: the policy file in its home,
groups served by the Slack stand-in, kickoff through the CLI, clicks through the stand-in."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.local.dynamodb import free_port
from tests.e2e.test_dev_stack import SIGNOFF, Dev

pytestmark = pytest.mark.e2e

POLICIES = """
allow_ad_hoc: false
admins: [U0BOSS]
policies:
  dba:
    description: Production database changes
    approver_groups: [S0DBA]
    min_approvals: 2
  gone-group:
    approver_groups: [S0GONE]
groups:
  S0DBA: [U0ALICE, U0BOB, U0CAROL]
"""


REFUSED_TITLE = "Refused at kickoff"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """One stack for the module (each start costs seconds); each test its own approvals."""
    home = tmp_path_factory.mktemp("policy") / "state"
    home.mkdir()
    (home / "policies.yaml").write_text(POLICIES)
    stack = Dev(home)
    stack.start()
    yield stack
    stack.stop()


def press(dev: Dev, user: str, action: str, message: dict[str, Any]) -> None:
    """A user clicks a button of the message, through the stand-in (a signed request)."""
    answer = dev.post(
        "/local/click",
        {"user": user, "channel": message["channel"], "ts": message["ts"], "action_id": action},
    )
    assert answer["status"] == 200, answer


def tracker_of(message: dict[str, Any]) -> dict[str, Any]:
    """The card's quorum tracker block."""
    return next(b for b in message["blocks"] if b.get("block_id") == "signoff.tracker")


def audit_kinds(dev: Dev, approval_id: str) -> list[str]:
    return [e["kind"] for e in dev.show(approval_id)["audit"]]


def wait_until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.3)


def test_kickoffs_the_policies_refuse_are_exit_2_and_write_nothing(dev: Dev) -> None:
    listed = dev.cli("policies", "--json")
    assert listed.returncode == 0, listed.stderr
    assert list(json.loads(listed.stdout)["policies"]) == ["dba", "gone-group"]
    for args, says in (
        (["--policy", "prod"], "no policy named 'prod' (known policies: dba, gone-group)"),
        (["--approver", "U0FRIEND"], "does not allow ad-hoc approvers"),
        (
            ["--policy", "gone-group", "--wait"],
            "refused at kickoff: the user group S0GONE cannot be resolved "
            "(Slack says no_such_subteam)",
        ),
    ):
        result = dev.cli("start", "--title", REFUSED_TITLE, "--requester", "U0ALICE", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr
    # The stack is the module's: nothing with this title, wherever it would be.
    assert REFUSED_TITLE not in dev.cli("list", "--json").stdout
    assert REFUSED_TITLE not in json.dumps(dev.get("/local/messages"))


def test_two_of_a_group_with_progress_in_the_message(dev: Dev) -> None:
    cli = dev.start_cli(
        "start", "--id", "apr-dba", "--title", "Migrate orders", "--policy", "dba",
        "--requester", "U0ALICE", "--wait",
    )  # fmt: skip
    message = dev.message_for("apr-dba")
    tracker = json.dumps(tracker_of(message), ensure_ascii=False)
    assert '"text": "0 of 2 approvals"' in tracker and '"usergroup_id": "S0DBA"' in tracker

    press(dev, "U0ALICE", "signoff.approve", message)  # the requester: no self-approval
    press(dev, "U0MALLORY", "signoff.approve", message)  # not in the group
    assert audit_kinds(dev, "apr-dba").count("vote_refused") == 2
    press(dev, "U0BOB", "signoff.approve", message)
    assert dev.show("apr-dba")["status"] == "pending"
    # The workflow wakes on the vote, publishes progress, and the notifier re-renders.
    wait_until(
        lambda: '"text": "1 of 2 approvals"' in json.dumps(tracker_of(dev.message_for("apr-dba")))
    )
    assert '"user_id": "U0BOB"' in json.dumps(tracker_of(dev.message_for("apr-dba")))
    press(dev, "U0CAROL", "signoff.approve", message)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "apr-dba approved by U0BOB, U0CAROL (2 of 2)" in out


def test_cancel_from_slack_by_a_stranger_then_the_requester_exits_5(dev: Dev) -> None:
    cli = dev.start_cli(
        "start", "--id", "apr-cx", "--title", "Drop a column", "--policy", "dba",
        "--requester", "U0ALICE", "--wait",
    )  # fmt: skip
    message = dev.message_for("apr-cx")
    press(dev, "U0BOB", "signoff.cancel", message)  # an approver, not an admin
    assert "cancel_refused" in audit_kinds(dev, "apr-cx")
    refusals = [e for e in dev.get("/local/messages")["ephemerals"] if "U0BOB" in json.dumps(e)]
    why = "only the requester (U0ALICE) or an admin can cancel"
    assert any(why in json.dumps(e) for e in refusals)
    press(dev, "U0ALICE", "signoff.cancel", message)  # the reason dialog opens
    (view,) = [v for v in dev.get("/local/messages")["views"] if v["open"]]
    submitted = dev.post(
        f"/local/views/{view['id']}/submit",
        {"user": "U0ALICE", "values": {"reason": {"reason": "wrong ticket"}}},
    )
    assert submitted["status"] == 200, submitted
    _out, err = cli.communicate(timeout=60)
    assert cli.returncode == 5, err
    shown = dev.show("apr-cx")
    assert (shown["decided_by"], shown["reason"]) == ("U0ALICE", "wrong ticket")


def test_a_policies_file_that_does_not_exist_refuses_to_start(tmp_path: Path) -> None:
    """A typo in --policies would start a stack with no policies at all (ad-hoc approvers
    allowed, no admins): `signoff dev` says so and exits 2 before starting anything."""
    typo = tmp_path / "polices.yaml"
    home = ["--home", str(tmp_path / "state")]
    done = subprocess.run(
        [*SIGNOFF, "dev", "--port", str(free_port()), *home, "--policies", str(typo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"error: the policy file {typo} does not exist: check the path "
        "(or leave --policies out to have none)\n"
    )
    assert not (tmp_path / "state").exists()  # nothing was started or written
