"""Bindings and reuse on DynamoDB Local: what a record binds survives every write, and a
re-run that reuses an approval is approved exactly once, however many starts race."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from signoff.binding import Binding, BindingKind
from signoff.model import Decision, StartRequest, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

pytestmark = pytest.mark.integration

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def _request(approval_id: str, sha: str = SHA) -> StartRequest:
    return start_request(
        approval_id,
        approvers=("U0A", "U0B"),
        policy="prod-deploy",
        reuse_for=timedelta(hours=1),
        bindings=(Binding(BindingKind.SHA, sha),),
    )


def _at_once(calls: list[Callable[[], object]]) -> list[BaseException]:
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_bindings_survive_votes_and_the_outcome(store: DynamoApprovalStore) -> None:
    approvals = Approvals(store)
    approvals.open(_request("apr-keep"))
    approvals.decide("apr-keep", "U0A", Decision.APPROVE)
    stored = store.get("apr-keep")
    assert stored.status is Status.APPROVED
    assert stored.bindings == (Binding(BindingKind.SHA, SHA),)
    assert stored.reused_from == ""


def test_the_same_rerun_started_eight_times_at_once_is_reused_once(
    store: DynamoApprovalStore,
) -> None:
    approvals = Approvals(store)
    approvals.open(_request("apr-src"))
    approvals.decide("apr-src", "U0B", Decision.APPROVE)
    # A replayed or retried create step: the same request, opened again and again.
    errors = _at_once([lambda: approvals.open(_request("apr-rerun")) for _ in range(8)])
    assert errors == []
    rerun = store.get("apr-rerun")
    assert (rerun.status, rerun.reused_from, rerun.version) == (Status.APPROVED, "apr-src", 2)
    kinds = [e.kind.value for e in store.audit("apr-rerun")]
    assert kinds == ["created", "reused"]


def test_racing_reruns_each_reuse_and_a_new_commit_waits(store: DynamoApprovalStore) -> None:
    approvals = Approvals(store)
    approvals.open(_request("apr-src2"))
    approvals.decide("apr-src2", "U0A", Decision.APPROVE)
    ids = [f"apr-run{i}" for i in range(6)]
    calls: list[Callable[[], object]] = [
        functools.partial(approvals.open, _request(approval_id)) for approval_id in ids
    ]
    errors = _at_once([*calls, lambda: approvals.open(_request("apr-newcommit", OTHER))])
    assert errors == []
    for approval_id in ids:
        assert store.get(approval_id).reused_from == "apr-src2"
        assert [e.kind.value for e in store.audit(approval_id)] == ["created", "reused"]
    assert store.get("apr-newcommit").status is Status.PENDING
    # A reuse is never reused in turn: only the people's approval counts.
    assert store.get("apr-src2").reused_from == ""


def test_an_approval_older_than_the_window_is_not_reused(store: DynamoApprovalStore) -> None:
    approvals = Approvals(store)
    approvals.open(_request("apr-old"))
    approvals.decide("apr-old", "U0A", Decision.APPROVE)
    later = approvals.clock() + timedelta(hours=1, seconds=1)
    Approvals(store, clock=lambda: later).open(_request("apr-late"))
    assert store.get("apr-late").status is Status.PENDING
