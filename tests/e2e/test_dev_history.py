"""History and audit export through `signoff dev` and the CLI as subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_dev_stack import Dev, click, kickoff

pytestmark = pytest.mark.e2e


def test_history_and_audit_through_the_local_stack_and_after_a_restart(tmp_path: Path) -> None:
    dev = Dev(tmp_path / "state")
    dev.start()
    try:
        waiting = kickoff(dev, "apr-e2e-hist")
        message = dev.message_for("apr-e2e-hist")
        assert click(dev, "U0STRANGER", "signoff.approve", "apr-e2e-hist", message) == 200
        assert click(dev, "U0APPROVER", "signoff.approve", "apr-e2e-hist", message) == 200
        _, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err

        listed = dev.cli("list", "--status", "approved", "--since", "1h", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [a["id"] for a in json.loads(listed.stdout)] == ["apr-e2e-hist"]

        trail = dev.cli("audit", "apr-e2e-hist", "--json")
        assert trail.returncode == 0, trail.stderr
        events = [json.loads(line) for line in trail.stdout.splitlines()]
        refused = [e for e in events if e["kind"] == "vote_refused"]
        assert [e["actor"] for e in refused] == ["U0STRANGER"]
        assert {"created", "voted", "decided"} <= {e["kind"] for e in events}

        unknown = dev.cli("audit", "apr-e2e-nobody", "--json")
        assert unknown.returncode == 1 and "no approval with id" in unknown.stderr
        bad = dev.cli("audit", "--since", "a while")
        assert bad.returncode == 2 and "--since" in bad.stderr
    finally:
        dev.stop()

    dev.start()  # the same home: the table and its indexes are kept
    try:
        every = dev.cli("audit", "--since", "1h", "--json")
        assert every.returncode == 0, every.stderr
        ids = {json.loads(line)["id"] for line in every.stdout.splitlines()}
        assert ids == {"apr-e2e-hist"}
        listed = dev.cli("list", "--status", "all", "--since", "1h", "--json")
        assert [a["status"] for a in json.loads(listed.stdout)] == ["approved"]
    finally:
        dev.stop()
