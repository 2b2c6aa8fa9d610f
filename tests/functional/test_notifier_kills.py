"""A notifier killed between any two of its steps, then recovered: every effect once.

A delivery of "requested" or "decided" is a chain of store writes and Slack calls. Here
the process dies before or after each one in turn (a BaseException that nothing catches,
as a kill -9 runs no handler), and recovery does what the local stack does at start-up:
after the claims' lease it publishes again whatever `notify.unfinished` says is missing.
Each round then checks that the post, its `notified` event, every reply and DM and the
final render exist exactly once. The in-memory store stands in for DynamoDB (the contract
tests hold both to the same rules); the Slack stand-in is a real server on loopback.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.web.slack_response import SlackResponse

from signoff.events import Topic
from signoff.local.slack_standin.workspace import dm_channel
from signoff.memstore import InMemoryApprovalStore
from signoff.model import AuditEvent, Decision, OnceClaim, PostClaim, SlackRef
from signoff.notify import Notifier, unfinished
from signoff.service import Approvals
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request

LEASE = timedelta(seconds=60)
T = TypeVar("T")


class Killed(BaseException):
    """The process died here: no `except Exception` sees it, nothing after it runs."""


@dataclass
class Steps:
    """Counts the notifier's steps; dies before or after step `at` (None: never)."""

    at: int | None = None
    after: bool = False
    count: int = 0
    names: list[str] = field(default_factory=list)

    def step(self, name: str, do: Callable[[], T]) -> T:
        self.count += 1
        self.names.append(name)
        if self.count == self.at and not self.after:
            raise Killed(name)
        result = do()
        if self.count == self.at and self.after:
            raise Killed(name)
        return result


class KillableStore(InMemoryApprovalStore):
    """The in-memory store, every write of the notifier's a step that may be its last."""

    steps: Steps | None = None

    def _step(self, name: str, do: Callable[[], T]) -> T:
        return do() if self.steps is None else self.steps.step(name, do)

    def claim_message(self, approval_id: str, now: datetime, lease: timedelta) -> PostClaim:
        return self._step(
            "claim_message",
            lambda: super(KillableStore, self).claim_message(approval_id, now, lease),
        )

    def release_claim(self, approval_id: str) -> None:
        self._step("release_claim", lambda: super(KillableStore, self).release_claim(approval_id))

    def set_message(
        self, approval_id: str, ref: SlackRef, now: datetime, expires_at: Any = None
    ) -> Any:
        return self._step(
            "set_message",
            lambda: super(KillableStore, self).set_message(approval_id, ref, now, expires_at),
        )

    def record(self, approval_id: str, event: AuditEvent, expires_at: Any = None) -> None:
        self._step(
            "record", lambda: super(KillableStore, self).record(approval_id, event, expires_at)
        )

    def claim_once(self, approval_id: str, key: str, now: datetime, lease: timedelta) -> OnceClaim:
        return self._step(
            f"claim {key}",
            lambda: super(KillableStore, self).claim_once(approval_id, key, now, lease),
        )

    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None:
        self._step(
            f"finish {key}",
            lambda: super(KillableStore, self).finish_once(approval_id, key, now, event),
        )

    def release_once(self, approval_id: str, key: str) -> None:
        self._step(
            f"release {key}", lambda: super(KillableStore, self).release_once(approval_id, key)
        )

    def count_failure(self, approval_id: str, key: str, now: datetime) -> int:
        return self._step(
            "count_failure", lambda: super(KillableStore, self).count_failure(approval_id, key, now)
        )


class KillableSlack(WebClient):
    """slack-sdk's client, each Web API call a step; Home tabs (best effort, drawn again on
    the next event) are not counted."""

    steps: Steps | None = None

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        call = super().api_call
        if self.steps is None or api_method == "views.publish":
            return call(api_method, **kwargs)
        return self.steps.step(api_method, lambda: call(api_method, **kwargs))


class World:
    """One approval, its notifier (which may die) and the local stack's recovery."""

    def __init__(self, slack: StandInServer, approval_id: str) -> None:
        self.now = datetime.now(UTC)
        self.store = KillableStore()
        self.approvals = Approvals(self.store, clock=lambda: self.now)
        self.client = KillableSlack(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
        self.slack = slack
        self.id = approval_id
        self.approvals.open(start_request(approval_id, requester="U0REQ", approvers=("U0A",)))

    def deliver(self, topic: Topic, steps: Steps | None = None) -> bool:
        """One delivery; False when the process died in it."""
        self.store.steps = self.client.steps = steps
        try:
            Notifier(self.store, self.client, LEASE, clock=lambda: self.now).handle(topic, self.id)
        except Killed:
            return False
        finally:
            self.store.steps = self.client.steps = None
        return True

    def missing(self) -> list[Topic]:
        approval = self.store.get(self.id)
        return unfinished(approval, self.store.audit(self.id), self.store.finished_once(self.id))

    def recover(self) -> None:
        """A restart: once every claim the dead process held has lapsed, publish what is
        missing (the local stack's `_redrive_notices`) and deliver it."""
        self.now += LEASE + timedelta(seconds=1)
        for topic in self.missing():
            assert self.deliver(topic)

    def effects(self) -> Counter[str]:
        """What exists for this approval in Slack and the audit trail, counted."""
        found: Counter[str] = Counter()
        for message in self.slack.standin.conversation()["messages"]:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if payload.get("id") != self.id:
                continue
            if metadata.get("event_type") == "signoff_request":
                found["post"] += 1
            else:
                where = "dm" if message["channel"] == dm_channel("U0REQ") else "thread"
                found[f"{where} {payload['key']}"] += 1
        for event in self.store.audit(self.id):
            found[event.kind.value] += 1
        return found

    def message(self) -> dict[str, Any]:
        ref = self.approvals.get(self.id).message
        assert ref is not None
        messages: list[dict[str, Any]] = self.slack.standin.conversation()["messages"]
        (found,) = [m for m in messages if m["ts"] == ref.ts]
        return found


POSTED = {"post": 1, "notified": 1, "dm dm:requested": 1}
DECIDED = {
    **POSTED,
    "thread vote:U0A": 0,  # the deciding vote is told by the outcome's reply alone
    "thread outcome": 1,
    "dm dm:outcome": 1,
    "message_updated": 1,
    "slack_failed": 0,
}


def run(slack: StandInServer, phase: Topic, steps: Steps) -> World:
    world = World(
        slack, f"apr-k-{phase.value}-{steps.at or 0}-{'after' if steps.after else 'before'}"
    )
    world.deliver(Topic.REQUESTED, steps if phase is Topic.REQUESTED else None)
    if phase is Topic.REQUESTED:
        world.recover()
    world.approvals.decide(world.id, "U0A", Decision.APPROVE)
    world.deliver(Topic.DECIDED, steps if phase is Topic.DECIDED else None)
    world.recover()
    return world


def check_every_kill(slack: StandInServer, phase: Topic) -> None:
    dry = Steps()
    run(slack, phase, dry)
    assert dry.count >= 8, dry.names  # the delivery is a chain worth cutting
    broken = []
    for at in range(1, dry.count + 1):
        for after in (False, True):
            world = run(slack, phase, Steps(at, after))
            effects = world.effects()
            got = {kind: effects[kind] for kind in DECIDED}
            shown = json.dumps(world.message()["blocks"])
            if got != DECIDED or world.missing() or '"actions"' in shown:
                where = f"{'after' if after else 'before'} {dry.names[at - 1]} (step {at})"
                broken.append(f"killed {where}: {got}, still missing {world.missing()}")
    assert not broken, "\n".join(broken)
    print(f"\n{phase.value}: {dry.count} steps x before/after = {2 * dry.count} kills, all whole")


def test_a_notifier_killed_at_any_step_of_the_post_is_completed_once(
    slack: StandInServer,
) -> None:
    check_every_kill(slack, Topic.REQUESTED)


def test_a_notifier_killed_at_any_step_of_the_outcome_is_completed_once(
    slack: StandInServer,
) -> None:
    check_every_kill(slack, Topic.DECIDED)
