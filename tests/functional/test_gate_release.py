"""The notifier releases an approval's CI gate once, retried, audited (in-memory store)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk import WebClient

from signoff.events import Topic
from signoff.gates import GateFailedError, GateRef, GateRetryError, Gates
from signoff.gates.release import GateFailed, GateReleased
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval, Decision
from signoff.notify import SLACK_TRIES, Notifier, unfinished
from signoff.service import Approvals
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request

LEASE = timedelta(seconds=60)
REF = GateRef(kind="fake", target={"run": "42"})


class FakeGate:
    """A CI system that records each release and fails the first `fail` of them."""

    kind = "fake"

    def __init__(self, fail: int = 0, error: type[Exception] = GateRetryError) -> None:
        self.released: list[tuple[str, str]] = []
        self.fail = fail
        self.error = error

    def release(self, approval: Approval, ref: GateRef) -> str:
        if self.fail:
            self.fail -= 1
            raise self.error("the CI system is down")
        self.released.append((approval.id, ref.target["run"]))
        return f"released run {ref.target['run']}"


@pytest.fixture
def store() -> InMemoryApprovalStore:
    return InMemoryApprovalStore()


@pytest.fixture
def approvals(store: InMemoryApprovalStore) -> Approvals:
    service = Approvals(store)
    service.open(start_request("apr-r1", approvers=("U0A", "U0B"), gate=REF))
    return service


def notifier(store: InMemoryApprovalStore, slack: StandInServer, gate: FakeGate) -> Notifier:
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    return Notifier(store, client, LEASE, gates=Gates(gate))


def kinds(approvals: Approvals) -> list[str]:
    return [e.kind.value for e in approvals.audit("apr-r1")]


def done(store: InMemoryApprovalStore, approval_id: str = "apr-r1") -> frozenset[str]:
    return store.finished_once(approval_id)


def test_the_outcome_releases_the_gate_once_however_often_it_is_delivered(
    approvals: Approvals, store: InMemoryApprovalStore, slack: StandInServer
) -> None:
    gate = FakeGate()
    n = notifier(store, slack, gate)
    n.handle(Topic.REQUESTED, "apr-r1")
    assert gate.released == []  # pending: nothing to release
    approvals.decide("apr-r1", "U0A", Decision.APPROVE)
    for _ in range(3):
        n.handle(Topic.DECIDED, "apr-r1")
    n.handle(Topic.REQUESTED, "apr-r1")
    assert gate.released == [("apr-r1", "42")]
    (released,) = [r for e in approvals.audit("apr-r1") if (r := e.read(GateReleased))]
    assert released.state == "approved" and released.answer == "released run 42"
    approval = approvals.get("apr-r1")
    assert unfinished(approval, [], done(store)) == []


def test_a_retryable_failure_is_retried_and_lands_once(
    approvals: Approvals, store: InMemoryApprovalStore, slack: StandInServer
) -> None:
    gate = FakeGate(fail=2)
    n = notifier(store, slack, gate)
    n.handle(Topic.REQUESTED, "apr-r1")
    approvals.decide("apr-r1", "U0A", Decision.REJECT, "freeze")
    for _ in range(2):
        with pytest.raises(GateRetryError):
            n.handle(Topic.DECIDED, "apr-r1")
        # Slack's part was done all the same: the outcome is in the thread.
        assert "outcome" in done(store)
        assert unfinished(approvals.get("apr-r1"), [], done(store)) == [Topic.DECIDED]
    n.handle(Topic.DECIDED, "apr-r1")
    n.handle(Topic.DECIDED, "apr-r1")
    assert gate.released == [("apr-r1", "42")]
    assert kinds(approvals).count("gate_released") == 1
    assert "gate_failed" not in kinds(approvals)


def test_the_last_of_the_bounded_tries_is_audited_and_a_redrive_still_releases(
    approvals: Approvals, store: InMemoryApprovalStore, slack: StandInServer
) -> None:
    gate = FakeGate(fail=SLACK_TRIES)
    n = notifier(store, slack, gate)
    approvals.decide("apr-r1", "U0A", Decision.APPROVE)
    for _ in range(SLACK_TRIES):
        with pytest.raises(GateRetryError):
            n.handle(Topic.DECIDED, "apr-r1")
    (failed,) = [f for e in approvals.audit("apr-r1") if (f := e.read(GateFailed))]
    assert failed.tries == SLACK_TRIES
    assert "signoff redrive" in failed.what_to_do
    n.handle(Topic.DECIDED, "apr-r1")  # the re-drive
    assert gate.released == [("apr-r1", "42")]


def test_a_permanent_failure_is_audited_once_and_not_tried_again(
    approvals: Approvals, store: InMemoryApprovalStore, slack: StandInServer
) -> None:
    gate = FakeGate(fail=1, error=GateFailedError)
    n = notifier(store, slack, gate)
    approvals.cancel("apr-r1", "U0REQ", "wrong ticket")
    n.handle(Topic.DECIDED, "apr-r1")
    n.handle(Topic.DECIDED, "apr-r1")
    assert gate.released == []
    assert kinds(approvals).count("gate_failed") == 1


def test_an_approval_without_a_gate_releases_nothing(slack: StandInServer) -> None:
    store = InMemoryApprovalStore()
    approvals = Approvals(store)
    approvals.open(start_request("apr-r2"))
    gate = FakeGate()
    approvals.decide("apr-r2", "U0A", Decision.APPROVE)
    notifier(store, slack, gate).handle(Topic.DECIDED, "apr-r2")
    assert gate.released == []
