"""The GitHub gate on `signoff dev`, run as a subprocess: a signed deployment_protection_rule
webhook → the Slack message → votes → exactly one review on GitHub's stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dev_stack import Dev
from tests.e2e.test_policy_dev import press, wait_until

pytestmark = pytest.mark.e2e

POLICIES = """
policies:
  prod-deploy:
    approvers: [U0ALICE, U0BOB, U0CAROL]
    min_approvals: 2
github:
  users: {octocat: U0REQUESTER}
  routes:
    - {repository: octo-org/api, environment: production, policy: prod-deploy}
"""
SHA = "9f1c2e3d4b5a69788796a5b4c3d2e1f00f1e2d3c"


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    home = tmp_path / "state"
    home.mkdir()
    (home / "policies.yaml").write_text(POLICIES)
    stack = Dev(home)
    stack.start()
    yield stack
    stack.stop()


def reviews(dev: Dev, run_id: int) -> list[dict[str, Any]]:
    path = f"/repos/octo-org/api/actions/runs/{run_id}/deployment_protection_rule"
    return [c for c in dev.get("/local/github")["calls"] if c["path"] == path]


def landed(dev: Dev, run_id: int) -> list[dict[str, Any]]:
    return [c for c in reviews(dev, run_id) if c["status"] == 204]


def webhook(dev: Dev, run_id: int) -> str:
    sent = dev.post(
        "/local/github/webhook",
        {"repository": "octo-org/api", "environment": "production", "sha": SHA, "run_id": run_id},
    )
    assert sent["status"] == 202, sent
    return str(sent["answer"]["id"])


def test_a_deployment_waits_for_two_of_three_and_is_reviewed_once(dev: Dev) -> None:
    began = time.monotonic()
    dev.post("/local/github/faults", {"fail_callbacks": 2})
    approved_id = webhook(dev, 11)
    message = dev.message_for(approved_id)
    shown = json.dumps(message["blocks"])
    assert "octo-org/api" in shown and SHA in shown
    assert "https://github.com/octo-org/api/actions/runs/11" in shown
    # The deployment's creator, mapped to a Slack user, shown as the requester (a mention).
    origin = next(b for b in message["blocks"] if b.get("block_id") == "signoff.origin")
    line = [e for section in origin["elements"] for e in section["elements"]]
    requested_by = line.index({"type": "text", "text": "Requested by "})
    assert line[requested_by + 1] == {"type": "user", "user_id": "U0REQUESTER"}
    press(dev, "U0ALICE", "signoff.approve", message)
    press(dev, "U0BOB", "signoff.approve", message)
    # The first two reviews fail (502); the notifier's retries land the third, once.
    wait_until(lambda: landed(dev, 11), timeout=40)
    (review,) = landed(dev, 11)
    assert [c["status"] for c in reviews(dev, 11)] == [502, 502, 204]
    assert review["body"]["state"] == "approved"
    assert review["body"]["environment_name"] == "production"
    assert "U0ALICE" in review["body"]["comment"] and "U0BOB" in review["body"]["comment"]
    run = next(r for r in dev.get("/local/github")["runs"] if r["run_id"] == 11)
    assert run["state"] == "approved"

    rejected_id = webhook(dev, 12)
    dev.message_for(rejected_id)
    said = dev.cli("decide", rejected_id, "reject", "--as", "U0CAROL", "--reason", "change freeze")
    assert said.returncode == 0, said.stderr
    wait_until(lambda: landed(dev, 12), timeout=30)
    (review,) = reviews(dev, 12)
    assert review["body"]["state"] == "rejected"
    assert "U0CAROL" in review["body"]["comment"] and "change freeze" in review["body"]["comment"]

    # Redelivered outcomes and replays change nothing: still one review per run.
    time.sleep(1)
    assert len(landed(dev, 11)) == 1 and len(reviews(dev, 12)) == 1
    kinds = [e["kind"] for e in dev.show(approved_id)["audit"]]
    assert kinds.count("gate_released") == 1
    print(f"github gate e2e: {time.monotonic() - began:.1f} s after the stack was up")


def test_a_kill_between_the_outcome_and_the_review_still_reviews_once(tmp_path: Path) -> None:
    """SIGKILL right after the notifier read the App's key (the outcome committed, the
    release claimed, GitHub not called): the restart's re-drive reviews the run, once."""
    home = tmp_path / "state"
    home.mkdir()
    (home / "policies.yaml").write_text(POLICIES)
    stack = Dev(home)
    try:
        stack.start(SIGNOFF_DEV_CRASH_AT="after-call.secretsmanager.GetSecretValue@github-app")
        approval_id = webhook(stack, 21)
        message = stack.message_for(approval_id)
        press(stack, "U0ALICE", "signoff.approve", message)
        press(stack, "U0BOB", "signoff.approve", message)
        assert stack.proc is not None
        stack.proc.wait(timeout=60)  # died at the crash point
        stack.start()
        wait_until(lambda: landed(stack, 21), timeout=60)
        time.sleep(2)
        assert [c["status"] for c in reviews(stack, 21)] == [204]
        assert landed(stack, 21)[0]["body"]["state"] == "approved"
        kinds = [e["kind"] for e in stack.show(approval_id)["audit"]]
        assert kinds.count("gate_released") == 1
    finally:
        stack.stop()
