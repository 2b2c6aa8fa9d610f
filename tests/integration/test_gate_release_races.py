"""Releasing a CI gate exactly once on DynamoDB Local, with deliveries racing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from signoff.gates import GateRef, GateRetryError, Gates
from signoff.gates.release import release_gate
from signoff.model import Approval, Decision
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

ROUNDS = 10
RACERS = 6


class SlowGate:
    kind = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def release(self, approval: Approval, ref: GateRef) -> str:
        time.sleep(0.02)  # long enough for every racer to reach its claim
        with self._lock:
            self.calls.append(approval.id)
        return "ok"


def test_racing_deliveries_release_each_gate_once(
    approvals: Approvals, store: DynamoApprovalStore
) -> None:
    gate = SlowGate()
    gates = Gates(gate)
    for round_ in range(ROUNDS):
        approval_id = f"apr-race-{round_}"
        approvals.open(
            start_request(approval_id, gate=GateRef(kind="fake", target={"n": str(round_)}))
        )
        approvals.decide(approval_id, "U0A", Decision.APPROVE)
        closed = approvals.get(approval_id)
        start = threading.Barrier(RACERS)

        def deliver(closed: Approval = closed, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                release_gate(
                    store,
                    gates,
                    closed,
                    clock=approvals.clock,
                    lease=timedelta(seconds=60),
                    tries=3,
                )
            except GateRetryError:
                return "busy"  # another delivery holds the claim: SNS would deliver again
            return "done"

        with ThreadPoolExecutor(RACERS) as pool:
            answers = list(pool.map(lambda _: deliver(), range(RACERS)))
        assert "done" in answers
        events = [e.kind.value for e in approvals.audit(approval_id)]
        assert events.count("gate_released") == 1
    assert sorted(gate.calls) == sorted(f"apr-race-{n}" for n in range(ROUNDS))
