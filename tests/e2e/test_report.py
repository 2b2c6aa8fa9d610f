"""`signoff report` on `signoff dev`: the pipeline's result in the request's thread and on
its message, once per report key; refused before approval, saying why."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.test_dev_stack import Dev, click, dev, kickoff

pytestmark = pytest.mark.e2e
__all__ = ["dev"]  # the fixture, used by name

NOTE = "migrations *0042* ran\n<!here> nothing to do"


def replies(dev: Dev, ts: str, key: str) -> list[dict[str, Any]]:
    return [
        m
        for m in dev.get("/local/messages")["messages"]
        if m.get("thread_ts") == ts
        and (m.get("metadata") or {}).get("event_payload", {}).get("key") == key
    ]


def wait_for(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise TimeoutError("not shown in time")


def test_a_report_shows_in_the_thread_and_on_the_card_once(dev: Dev) -> None:
    cli = kickoff(dev, "apr-e2e-rep")
    message = dev.message_for("apr-e2e-rep")
    early = dev.cli("report", "apr-e2e-rep", "started", "--key", "early")
    assert early.returncode == 1
    assert "is pending, not approved: a pipeline reports only on an approved request" in (
        early.stderr
    )

    assert click(dev, "U0APPROVER", "signoff.approve", "apr-e2e-rep", message) == 200
    assert cli.wait(timeout=60) == 0
    args = ("report", "apr-e2e-rep", "succeeded", "--url", "https://ci.example/runs/123")
    for said in ("reported", "was reported already with this --key"):  # a CI retry
        done = dev.cli(*args, "--note", NOTE, "--key", "run-123-deploy", "--as", "ci-bot")
        assert done.returncode == 0, done.stderr
        assert said in done.stdout

    (reply,) = wait_for(lambda: replies(dev, message["ts"], "report:run-123-deploy"))
    assert reply["text"].startswith("\u2705 Pipeline succeeded (run #123), reported by ci-bot:")
    shown = json.dumps(reply["blocks"])
    assert json.dumps(NOTE) in shown  # the note as typed, in a rich text element

    def card_shows() -> bool:
        card = dev.message_for("apr-e2e-rep")
        return any(b.get("block_id") == "signoff.reports" for b in card["blocks"])

    wait_for(card_shows)
    card = dev.message_for("apr-e2e-rep")
    reports = next(b for b in card["blocks"] if b.get("block_id") == "signoff.reports")
    assert "Pipeline succeeded" in json.dumps(reports) and "run #123" in json.dumps(reports)
    time.sleep(2)  # anything the second call could still have caused
    assert len(replies(dev, message["ts"], "report:run-123-deploy")) == 1
    audit = [e for e in dev.show("apr-e2e-rep")["audit"] if e["kind"] == "reported"]
    assert [(e["actor"], e["detail"]["stage"]) for e in audit] == [("ci-bot", "succeeded")]
