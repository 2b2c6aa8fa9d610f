"""Kill `signoff dev` with a real SIGKILL, sent from outside at a random instant while
several approvals are in flight; restart it on the same home; check that every approval
ended exactly once and that every side effect the table claims exists in Slack.

Unlike tests/e2e/test_crash.py (named points, the process kills itself), nothing in the
process knows the kill is coming: it lands wherever the approvals happen to be — a
kickoff half-written, a post answered but not recorded, a click's vote written but not
answered, a reply sent but its once-claim not finished, the stand-in mid-journal.

Each round on one home: kick off APPROVALS requests at once (the call `signoff start` makes),
each ending its own way (a click on Approve, Reject with a reason through the modal,
`signoff decide`, `signoff cancel`, the deadline), act on them as people would, and send
SIGKILL at a random instant of the round. Then restart, kick off again what may not
have started (`--id` makes it idempotent, as a CI retry would), keep acting until each
has settled, and check each approval:

- one outcome, the one its ending asked for; one `created`; the workflow "succeeded";
- one request message in Slack, the one the record names; re-rendered after the outcome
  (`message_updated`), showing it, without buttons;
- for each `notified` event, the message it names exists; at most one `notified`;
- every thread reply and DM the table marks done (its once-claim) exists in Slack, and
  no notice key twice (a re-render's claim is checked on the message);
- the notices a finished approval owes exist: the requester's "posted" DM, the outcome in
  the thread and by DM, a reply for each vote; and its `notified` event.

The last group is what the re-drive of every unfinished side effect makes good after a
restart (signoff/redrive.py): failures there are reported apart, labelled "re-drive", so
that they read as that and not as lost state.

SIGNOFF_KILL_ROUNDS rounds (default 1; `make soak` runs more), SIGNOFF_KILL_SEED to
replay a run (the seed is printed; each round's kill instant follows from it).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.error
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signoff.codec import approval_pk
from signoff.errors import NotFoundError, SignoffError
from signoff.local.dynamodb import local_client
from signoff.model import StartRequest, parse_duration
from signoff.store.claims import ONCE_PREFIX
from signoff.targets import LocalTarget
from tests.e2e.test_crash import has_buttons, messages_for, show
from tests.e2e.test_dev_stack import Dev

pytestmark = pytest.mark.e2e

ROUNDS = int(os.environ.get("SIGNOFF_KILL_ROUNDS", "1"))
SEED = int(os.environ.get("SIGNOFF_KILL_SEED") or random.randrange(1 << 30))
REQUESTER, APPROVER = "U0REQUESTER", "U0APPROVER"
OUTCOMES = {"decided", "expired", "cancelled"}
# How each approval of a round ends, and the status it ends in.
ENDINGS = {
    "click": "approved",
    "reject": "rejected",
    "decide": "approved",
    "cancel": "cancelled",
    "expire": "expired",
}
APPROVALS = [*ENDINGS, "click", "click"]
# When the kill comes: up to WITHIN seconds after one of the round's moments, picked at
# random — its kickoffs began (records and workflows being made), its first message was
# posted (posts, DMs, clicks under way), its first approval ended (votes, thread replies,
# DMs and re-renders under way).
MOMENTS = ("kickoffs began", "first post", "first outcome")
WITHIN = 2.0
SETTLE_SECONDS = 120
EXPIRE_AFTER = "6s"

COUNTS: Counter[str] = Counter()


@dataclass(frozen=True)
class Planned:
    approval_id: str
    ending: str

    @property
    def timeout(self) -> str:
        return EXPIRE_AFTER if self.ending == "expire" else "10m"


def kickoff(dev: Dev, planned: Planned) -> None:
    """Start it as `signoff start --id` does (the same call to the stack, from this process,
    so that a round's kickoffs come at once); it may fail while the stack is dead."""
    request = StartRequest(
        id=planned.approval_id,
        title=f"Survive a kill ({planned.ending})",
        requester=REQUESTER,
        approvers=(APPROVER,),
        channel="",
        timeout=parse_duration(planned.timeout),
    )
    with contextlib.suppress(SignoffError, OSError):
        LocalTarget(dev.url).start(request)


def act(dev: Dev, planned: Planned) -> None:
    """One step of what a person does about this approval; errors are the kill's."""
    try:
        if show(dev, planned.approval_id)["status"] != "pending":
            return
        messages = messages_for(dev, planned.approval_id)
        if not messages or not has_buttons(messages[0]):
            return
        message = messages[0]
        if planned.ending == "click":
            click(dev, message, "signoff.approve")
        elif planned.ending == "reject":
            reject(dev, message)
        elif planned.ending == "decide":
            dev.cli("decide", planned.approval_id, "approve", "--as", APPROVER, timeout=30)
        elif planned.ending == "cancel":
            dev.cli("cancel", planned.approval_id, "--as", REQUESTER, "--reason", "no", timeout=30)
    except (
        OSError,
        http.client.HTTPException,  # a response cut short by the kill
        urllib.error.URLError,
        subprocess.TimeoutExpired,
        ValueError,
        SignoffError,
    ):
        pass


def click(dev: Dev, message: dict[str, Any], action_id: str) -> None:
    dev.post(
        "/local/click",
        {
            "user": APPROVER,
            "channel": message["channel"],
            "ts": message["ts"],
            "action_id": action_id,
        },
    )


def reject(dev: Dev, message: dict[str, Any]) -> None:
    """Reject… opens the reason modal; submit it (the last open one of the approver)."""
    click(dev, message, "signoff.reject")
    views = [v for v in dev.get("/local/messages")["views"] if v["open"] and v["user"] == APPROVER]
    if views:
        dev.post(
            f"/local/views/{views[-1]['id']}/submit",
            {"user": APPROVER, "values": {"reason": {"reason": "not in this window"}}},
        )


def drive(dev: Dev, planned: Planned, stop: threading.Event) -> None:
    kickoff(dev, planned)
    while not stop.is_set():
        act(dev, planned)
        stop.wait(0.3)


def settled(dev: Dev, planned: Planned) -> bool:
    try:
        shown = show(dev, planned.approval_id)
    except NotFoundError:
        return False
    kinds = [e["kind"] for e in shown["audit"]]
    ends = [i for i, kind in enumerate(kinds) if kind in OUTCOMES]
    return (
        shown["workflow"]["status"] == "succeeded"
        and bool(ends)
        and "message_updated" in kinds[ends[-1] + 1 :]
    )


def settle(dev: Dev, plan: list[Planned]) -> None:
    for planned in plan:
        kickoff(dev, planned)  # idempotent: a start the kill swallowed is made now
    deadline = time.monotonic() + SETTLE_SECONDS
    waiting = list(plan)
    while waiting and time.monotonic() < deadline:
        for planned in waiting:
            act(dev, planned)
        time.sleep(0.5)
        waiting = [p for p in waiting if not settled(dev, p)]
    time.sleep(2)  # the last notices of the last one to settle


def once_claims(dev: Dev, approval_id: str) -> dict[str, bool]:
    """The approval's once-claims in the table: key -> done."""
    client = local_client(dev.get("/local/config")["dynamodb_endpoint"])
    items = client.query(
        TableName=dev.get("/local/config")["table"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :once)",
        ExpressionAttributeValues={
            ":pk": {"S": approval_pk(approval_id)},
            ":once": {"S": ONCE_PREFIX},
        },
        ConsistentRead=True,
    )["Items"]
    return {item["sk"]["S"].removeprefix(ONCE_PREFIX): "done_at" in item for item in items}


def notices(dev: Dev, approval_id: str) -> list[str]:
    """The keys of the thread replies and DMs in Slack for the approval."""
    return [
        m["metadata"]["event_payload"]["key"]
        for m in dev.get("/local/messages")["messages"]
        if (m.get("metadata") or {}).get("event_type") == "signoff_notice"
        and m["metadata"]["event_payload"].get("id") == approval_id
    ]


def check(dev: Dev, planned: Planned) -> tuple[list[str], list[str]]:
    """(what must hold, what needs the re-drive of unfinished notices) that does not."""
    wrong: list[str] = []
    redrive: list[str] = []
    try:
        shown = show(dev, planned.approval_id)
    except NotFoundError:
        return [f"{planned.approval_id}: no record after a kickoff and a retry"], []
    kinds = [e["kind"] for e in shown["audit"]]
    said = f"{planned.approval_id} ({planned.ending}; audit {kinds})"
    if shown["status"] != ENDINGS[planned.ending]:
        wrong.append(f"{said}: {shown['status']}, not {ENDINGS[planned.ending]}")
    if sum(kinds.count(k) for k in OUTCOMES) != 1 or kinds.count("created") != 1:
        wrong.append(f"{said}: not one outcome and one created")
    if shown["workflow"]["status"] != "succeeded":
        wrong.append(f"{said}: workflow {shown['workflow']}")
    wrong += _message_wrongs(dev, planned, shown, said)
    sent = Counter(notices(dev, planned.approval_id))
    twice = [key for key, count in sent.items() if count > 1]
    if twice:
        wrong.append(f"{said}: notices sent twice: {twice}")
    claims = once_claims(dev, planned.approval_id)
    if "slack_failed" not in kinds:
        # Each done claim is a thread reply or DM in Slack; a re-render's claim (render:…)
        # is a chat.update, checked on the message above.
        missing = [
            key
            for key, done in claims.items()
            if done and key not in sent and not key.startswith("render:")
        ]
        if missing:
            wrong.append(f"{said}: marked done in the table, not in Slack: {missing}")
    owed = {"dm:requested", "outcome", "dm:outcome"}
    # A reply per vote, but the deciding one: the outcome's reply says it.
    owed |= {f"vote:{v['user']}" for v in shown["votes"] if not v["decisive"]}
    lacking = sorted(owed - set(sent))
    if lacking:
        redrive.append(f"{said}: owed notices never sent: {lacking} (claims {claims})")
    if "notified" not in kinds:
        redrive.append(f"{said}: the message exists but no notified event")
    return wrong, redrive


def _message_wrongs(dev: Dev, planned: Planned, shown: dict[str, Any], said: str) -> list[str]:
    """What does not hold about the request's one message and the places the record names."""
    wrong: list[str] = []
    kinds = [e["kind"] for e in shown["audit"]]
    posted = messages_for(dev, planned.approval_id)
    if len(posted) != 1:
        wrong.append(f"{said}: {len(posted)} request messages")
    else:
        message = posted[0]
        if shown["message"] != {"channel": message["channel"], "ts": message["ts"]}:
            wrong.append(f"{said}: the record names {shown['message']}, Slack has {message['ts']}")
        ends = [i for i, kind in enumerate(kinds) if kind in OUTCOMES]
        if ends and "message_updated" in kinds[ends[-1] + 1 :]:
            if has_buttons(message) or shown["status"] not in json.dumps(message["blocks"]).lower():
                wrong.append(f"{said}: message_updated, but the message shows {message['blocks']}")
        else:
            wrong.append(f"{said}: the outcome was never shown (no message_updated after it)")
    conversation = dev.get("/local/messages")["messages"]
    places = {(m["channel"], m["ts"]) for m in conversation}
    named = shown["message"]
    if named is not None and (named["channel"], named["ts"]) not in places:
        wrong.append(f"{said}: the record names the message {named}, which Slack does not have")
    for event in shown["audit"]:
        if event["kind"] == "notified":
            where = (event["detail"].get("channel"), event["detail"].get("ts"))
            if where not in places:
                wrong.append(f"{said}: notified {where}, which Slack does not have")
    if kinds.count("notified") > 1:
        wrong.append(f"{said}: notified {kinds.count('notified')} times")
    return wrong


def ended(dev: Dev, planned: Planned) -> bool:
    try:
        return bool(show(dev, planned.approval_id)["status"] != "pending")
    except SignoffError:
        return False


def wait_for(moment: str, dev: Dev, plan: list[Planned], timeout: float = 60) -> None:
    """Wait until the round's `moment` (one of MOMENTS) has come."""
    deadline = time.monotonic() + timeout
    while moment != MOMENTS[0] and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if moment == "first post" and any(messages_for(dev, p.approval_id) for p in plan):
                return
            if moment == "first outcome" and any(ended(dev, p) for p in plan):
                return
        time.sleep(0.05)


def run_round(dev: Dev, round_no: int, rng: random.Random) -> tuple[list[Planned], str]:
    """Start this round's approvals, kill `dev` at a random instant; (plan, when)."""
    plan = [
        Planned(f"apr-k{SEED % 100000:05d}-{round_no:02d}-{n}-{ending}", ending)
        for n, ending in enumerate(APPROVALS)
    ]
    moment = rng.choice(MOMENTS)
    delay = rng.uniform(0, WITHIN)
    stop = threading.Event()
    drivers = [threading.Thread(target=drive, args=(dev, p, stop)) for p in plan]
    for driver in drivers:
        driver.start()
    wait_for(moment, dev, plan)
    time.sleep(delay)
    when = f"{delay:.2f} s after {moment}"
    assert dev.proc is not None
    os.kill(dev.proc.pid, signal.SIGKILL)  # from outside: no code of its own runs after
    dev.proc.wait()
    stop.set()
    for driver in drivers:
        driver.join()
    return plan, when


@pytest.mark.timeout(300 + 240 * ROUNDS)
def test_sigkill_at_random_instants_loses_no_outcome_and_no_side_effect(tmp_path: Path) -> None:
    print(f"\nSIGNOFF_KILL_SEED={SEED} rounds={ROUNDS}")
    rng = random.Random(SEED)
    dev = Dev(tmp_path / "state")
    wrong: list[str] = []
    redrive: list[str] = []
    dev.start()
    try:
        for round_no in range(ROUNDS):
            plan, when = run_round(dev, round_no, rng)
            assert dev.proc is not None and dev.proc.returncode == -signal.SIGKILL
            began = time.monotonic()
            dev.start()
            restarted = time.monotonic() - began
            settle(dev, plan)
            for planned in plan:
                failed, owed = check(dev, planned)
                wrong += failed
                redrive += owed
                COUNTS["approvals"] += 1
                COUNTS["ended once, side effects whole" if not failed else "failed"] += 1
                COUNTS["owed notices missing (re-drive)"] += bool(owed)
            COUNTS["rounds"] += 1
            print(
                f"round {round_no}: killed {when}; restarted in "
                f"{restarted:.1f} s, settled {time.monotonic() - began - restarted:.1f} s later"
            )
    finally:
        dev.stop()
        print(f"SIGNOFF_KILL_SEED={SEED}: {dict(COUNTS)}")
    problems = [f"must hold: {w}" for w in wrong]
    problems += [
        f"owed, and not re-driven after the restart (see the module doc): {r}" for r in redrive
    ]
    assert not problems, f"SIGNOFF_KILL_SEED={SEED}\n" + "\n".join(problems)
