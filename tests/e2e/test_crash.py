"""Kill `signoff dev` (SIGKILL) at each boundary of an approval's life, restart it on the
same home, and check that the approval still ends exactly once.

Each round starts `signoff dev` with SIGNOFF_DEV_CRASH_AT (signoff/local/faults.py) set
to one point and that round's approval id (only calls about it count), drives the
approval through it like a user would (the CLI, a click through the Slack stand-in),
waits for the process to die by SIGKILL, restarts it on the same home (armed for the
next round; the last restart is not), finishes the approval if it is still open, and
then asserts:

- one outcome: the record's status, and ONE decided/expired/cancelled audit event;
- the workflow "succeeded";
- ONE Slack message for the approval, re-rendered after the outcome (a
  `message_updated` audit event after it), showing the outcome and no buttons.

SIGNOFF_CRASH_ROUNDS (default 1) rounds per point, SIGNOFF_CRASH_POINTS (names,
comma-separated, or `all`) to choose the points; `make soak` runs every point, more rounds,
and prints the counts (pytest -s). Without SIGNOFF_CRASH_POINTS (`make test`) the points
inside the notifier are left out (SOAK_ONLY): tests/functional/test_notifier_kills.py kills
the notifier before and after each of its steps in-process, and the points kept here
still restart the stack on lost notifier work (after-requested, mid-outcome-published). One `signoff dev` process recovers the last round's approval and
is killed in the next round, as each start costs seconds (DynamoDB Local's JVM).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
import urllib.error
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signoff.codec import event_json
from signoff.config import Settings
from signoff.errors import NotFoundError
from signoff.local.faults import CRASH_ENV
from signoff.targets import LocalTarget
from tests.e2e.test_dev_stack import Dev

pytestmark = pytest.mark.e2e

ROUNDS = int(os.environ.get("SIGNOFF_CRASH_ROUNDS", "1"))
REQUESTER, APPROVER = "U0REQUESTER", "U0APPROVER"
OUTCOMES = {"decided", "expired", "cancelled"}
SETTLE_SECONDS = 60  # after the restart: a lost notice comes back within ~10 s


@dataclass(frozen=True)
class Point:
    name: str
    spec: str  # SIGNOFF_DEV_CRASH_AT
    click: bool  # the kill comes from a click: the decision must be an approval


POINTS = [
    # The workflow's create-record step wrote the record (and its "created" event).
    Point("after-create", "after-call.dynamodb.TransactWriteItems#1", click=False),
    # "requested" is on the topic; the in-memory queue loses it with the process.
    Point("after-requested", "after-call.sns.Publish#1", click=False),
    # The notifier took "requested" off the queue and read the record, and dies before
    # its post claim: the workflow is past its publish, the queue's copy is gone.
    Point("notifier-received", "before-call.dynamodb.UpdateItem#1@SET post_claim", click=False),
    # Slack has the message, the notifier never hears its ts (its post claim stays).
    Point("mid-post", "slack.chat.postMessage#1", click=False),
    # The message's ts is stored with its `notified` event (set_message's transaction).
    Point("after-post", "after-call.dynamodb.TransactWriteItems#1@message_channel", click=False),
    # The vote's write is done; the clicker gets no answer.
    Point("mid-click", "after-call.dynamodb.TransactWriteItems#1@votes.#voter", click=True),
    # The workflow armed its doorbell; the vote will ring it after a restart.
    Point("after-arming", "after-call.dynamodb.UpdateItem#1@SET doorbell", click=False),
    # The workflow saw the outcome and is about to publish it.
    Point("after-decision", "before-call.sns.Publish#2", click=False),
    # "decided" is on the topic, not delivered.
    Point("mid-outcome-published", "after-call.sns.Publish#2", click=False),
    # The notifier's re-render reached Slack; message_updated is not recorded.
    Point("mid-outcome-update", "slack.chat.update#1", click=True),
    # A notice (the vote's thread reply, or a DM) reached Slack; its once-claim is not
    # finished: after the lease, the takeover finds it instead of sending it again.
    Point("mid-notice", "slack.chat.postMessage#3", click=True),
]
# Run by `make soak` (or SIGNOFF_CRASH_POINTS=all), not by `make test`: each is a kill inside
# the notifier, which tests/functional/test_notifier_kills.py tries at every step.
SOAK_ONLY = {"notifier-received", "mid-post", "after-post", "mid-outcome-update", "mid-notice"}
# How a round ends when the point does not need a click: cycled over rounds and points.
DECISIONS = ["approve", "cancel", "expire"]
EXPECTED = {"approve": "approved", "cancel": "cancelled", "expire": "expired"}

# Per point: (seconds to start `signoff dev`, seconds from then until all settled),
# printed at the end of the module (seen with pytest -s).
FIGURES: dict[str, list[tuple[float, float]]] = defaultdict(list)
FAILED: dict[str, int] = defaultdict(int)

# Until the notifier adopts a message already posted when it takes over a stale post
# claim (and the lease is a setting), a mid-post kill leaves two messages.
ADOPTS_POSTED = "post_claim_lease_seconds" in Settings.__dataclass_fields__


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if not FIGURES and not FAILED:
        return
    print(f"\ncrash rounds ({ROUNDS} per point): seconds to restart, then until all settled")
    for point in POINTS:
        if point.name not in FIGURES and point.name not in FAILED:
            continue
        figures = FIGURES.get(point.name, [])
        line = f"  {point.name:22} {len(figures):3} ok {FAILED.get(point.name, 0):3} failed"
        if figures:
            starts = sorted(f[0] for f in figures)
            settles = sorted(f[1] for f in figures)
            line += (
                f"  restart median {starts[len(starts) // 2]:5.1f} max {starts[-1]:5.1f}"
                f"  settle median {settles[len(settles) // 2]:5.1f} max {settles[-1]:5.1f}"
            )
        print(line)


def decision_for(point: Point, round_no: int) -> str:
    if point.click:
        return "approve"
    return DECISIONS[(POINTS.index(point) + round_no) % len(DECISIONS)]


def messages_for(dev: Dev, approval_id: str) -> list[dict[str, Any]]:
    """The request messages posted for `approval_id` (not its thread replies, not DMs)."""
    return [
        m
        for m in dev.get("/local/messages")["messages"]
        if (m.get("metadata") or {}).get("event_type") == "signoff_request"
        and m["metadata"]["event_payload"]["id"] == approval_id
    ]


def has_buttons(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in message["blocks"])


def act(dev: Dev, approval_id: str, decision: str) -> None:
    """Decide as a person would, if the approval is still open; errors are the crash's."""
    try:
        messages = messages_for(dev, approval_id)
        if decision == "approve" and messages and has_buttons(messages[0]):
            dev.post(
                "/local/click",
                {
                    "user": APPROVER,
                    "channel": messages[0]["channel"],
                    "ts": messages[0]["ts"],
                    "action_id": "signoff.approve",
                },
            )
        elif decision == "cancel" and messages:
            dev.cli("cancel", approval_id, "--as", REQUESTER, "--reason", "not now", timeout=20)
    except (OSError, http.client.HTTPException, urllib.error.URLError, subprocess.TimeoutExpired):
        pass  # a response cut short by the kill is an HTTPException


def show(dev: Dev, approval_id: str) -> dict[str, Any]:
    """What `signoff show --json` prints, read in this process (a CLI process costs ~1 s)."""
    target = LocalTarget(dev.url)
    approval = target.approvals.get(approval_id)
    return {
        "status": approval.status.value,
        # The deciding vote: the last of a request a vote closed (its outcome reply says it).
        "votes": [
            {
                "user": v.user,
                "decisive": approval.status.value in ("approved", "rejected")
                and n == len(approval.votes) - 1,
            }
            for n, v in enumerate(approval.votes)
        ],
        "message": (
            {"channel": approval.message.channel, "ts": approval.message.ts}
            if approval.message
            else None
        ),
        "audit": [event_json(e) for e in target.approvals.store.audit(approval_id)],
        "workflow": target.workflow(approval),
    }


def settled(dev: Dev, approval_id: str) -> dict[str, Any] | None:
    try:
        shown = show(dev, approval_id)
    except NotFoundError:
        return None
    kinds = [e["kind"] for e in shown["audit"]]
    ends = [i for i, kind in enumerate(kinds) if kind in OUTCOMES]
    if shown["workflow"]["status"] != "succeeded" or not ends:
        return None
    if "message_updated" not in kinds[ends[-1] + 1 :]:
        return None
    return shown


def drive_until_killed(dev: Dev, approval_id: str, decision: str) -> None:
    """Start the approval and act on it until `dev` dies at its crash point."""
    assert dev.proc is not None
    cli = dev.start_cli(
        "start",
        "--id",
        approval_id,
        "--title",
        "Survive a kill",
        "--requester",
        REQUESTER,
        "--approver",
        APPROVER,
        "--timeout",
        "8s" if decision == "expire" else "10m",
    )
    try:
        deadline = time.monotonic() + 60
        while dev.proc.poll() is None and time.monotonic() < deadline:
            act(dev, approval_id, decision)
            time.sleep(0.3)
    finally:
        cli.kill()
        cli.communicate()


def settle(dev: Dev, approval_id: str, decision: str) -> dict[str, Any]:
    """Finish the approval if it is still open; what it shows once all is done."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        act(dev, approval_id, decision)
        time.sleep(0.5)
        shown = settled(dev, approval_id)
        if shown is not None:
            return shown
    return show(dev, approval_id)


def check(dev: Dev, approval_id: str, decision: str, shown: dict[str, Any]) -> None:
    kinds = [e["kind"] for e in shown["audit"]]
    assert shown["status"] == EXPECTED[decision], kinds
    assert sum(kinds.count(kind) for kind in OUTCOMES) == 1, kinds
    assert kinds.count("created") == 1, kinds
    assert shown["workflow"]["status"] == "succeeded", shown["workflow"]
    ends = max(i for i, kind in enumerate(kinds) if kind in OUTCOMES)
    assert "message_updated" in kinds[ends + 1 :], kinds
    messages = messages_for(dev, approval_id)
    assert len(messages) == 1, messages
    assert not has_buttons(messages[0]), messages[0]["blocks"]
    assert EXPECTED[decision] in json.dumps(messages[0]["blocks"]).lower()
    assert shown["message"] == {"channel": messages[0]["channel"], "ts": messages[0]["ts"]}
    if decision == "approve":
        assert [v["user"] for v in shown["votes"]] == [APPROVER]
    # Each thread reply and DM once: no key twice, the outcome told in both places.
    keys = [
        m["metadata"]["event_payload"]["key"]
        for m in dev.get("/local/messages")["messages"]
        if (m.get("metadata") or {}).get("event_type") == "signoff_notice"
        and m["metadata"]["event_payload"].get("id") == approval_id
    ]
    assert len(keys) == len(set(keys)), keys
    assert {"outcome", "dm:outcome"} <= set(keys), keys


def points() -> list[Point]:
    """Those named in SIGNOFF_CRASH_POINTS (comma-separated), all of them (`all`), or
    without it those not in SOAK_ONLY."""
    named = os.environ.get("SIGNOFF_CRASH_POINTS", "")
    chosen = [p for p in named.split(",") if p and p != "all"]
    unknown = set(chosen) - {p.name for p in POINTS}
    assert not unknown, f"no such crash point: {unknown}"
    if chosen:
        selected = [p for p in POINTS if p.name in chosen]
    else:
        selected = [p for p in POINTS if named == "all" or p.name not in SOAK_ONLY]
    if ADOPTS_POSTED:
        return selected
    # Until the notifier adopts a message already posted when it takes over a stale
    # post claim, a mid-post kill leaves two messages (and waits out a 60 s lease).
    return [p for p in selected if p.name != "mid-post"]


@pytest.mark.timeout(120 + 90 * len(POINTS) * ROUNDS)
def test_killed_at_every_point_each_approval_still_ends_exactly_once(tmp_path: Path) -> None:
    """Round after round on one home: each start of `signoff dev` recovers the approval
    the last one was killed on, and is itself killed at the next point (the crash point
    counts only the next approval's calls, so the recovery traffic does not trip it)."""
    plan = [(point, r) for r in range(ROUNDS) for point in points()]
    dev = Dev(tmp_path / "state")
    failures: list[str] = []
    previous: tuple[Point, str, str] | None = None
    restarted = 0.0
    for step in [*plan, None]:
        env = {}
        if step is not None:
            point, round_no = step
            # No id is a part of another: the crash point counts calls mentioning it.
            approval_id = f"apr-{round_no:03d}{POINTS.index(point):02d}-{point.name}"
            env[CRASH_ENV] = f"{point.spec}@{approval_id}"
        restarted = time.monotonic()
        dev.start(**env)
        up = time.monotonic()
        try:
            if previous is not None:
                last_point, last_id, last_decision = previous
                try:
                    check(dev, last_id, last_decision, settle(dev, last_id, last_decision))
                    FIGURES[last_point.name].append((up - restarted, time.monotonic() - up))
                except AssertionError as exc:
                    FAILED[last_point.name] += 1
                    failures.append(f"{last_point.name} ({last_id}): {exc}")
            if step is None:
                break
            decision = decision_for(point, round_no)
            drive_until_killed(dev, approval_id, decision)
            assert dev.proc is not None
            if dev.proc.poll() != -signal.SIGKILL:
                FAILED[point.name] += 1
                failures.append(f"{point.name}: {point.spec} was never reached")
            previous = (point, approval_id, decision)
        finally:
            dev.stop()
    assert not failures, "\n".join(failures)
