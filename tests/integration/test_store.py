"""The store on DynamoDB Local: one conditional write decides, whoever else races."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signoff.errors import NotFoundError, RefusedError
from signoff.model import Decision, StartRequest, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

pytestmark = pytest.mark.integration


def make_request(approval_id: str, approvers: tuple[str, ...] = ("U0A", "U0B")) -> StartRequest:
    return start_request(approval_id, approvers=approvers)


def race(
    approvals: Approvals, approval_id: str, voters: list[tuple[str, Decision]]
) -> Counter[str]:
    """Start every voter at the same instant; count accepted vs refused."""
    barrier = threading.Barrier(len(voters))
    results: Counter[str] = Counter()
    lock = threading.Lock()

    def vote(user: str, decision: Decision) -> None:
        barrier.wait()
        try:
            approvals.decide(
                approval_id, user, decision, "no" if decision is Decision.REJECT else ""
            )
            outcome = "won"
        except RefusedError:
            outcome = "refused"
        with lock:
            results[outcome] += 1

    threads = [threading.Thread(target=vote, args=v) for v in voters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_create_is_idempotent(approvals: Approvals, store: DynamoApprovalStore) -> None:
    first = approvals.open(make_request("apr-once"))
    second = approvals.open(make_request("apr-once"))
    assert first == second
    assert [e.kind for e in store.audit("apr-once")] == ["created"]


ROUNDS = 25


def test_racing_approvers_leave_exactly_one_outcome(
    approvals: Approvals, store: DynamoApprovalStore
) -> None:
    """Two approvers click at once (one approve, one reject), many rounds: one winner each time."""
    for n in range(ROUNDS):
        approval_id = f"apr-race-{n}"
        approvals.open(make_request(approval_id))
        results = race(
            approvals, approval_id, [("U0A", Decision.APPROVE), ("U0B", Decision.REJECT)]
        )
        assert results == Counter({"won": 1, "refused": 1}), results
        final = store.get(approval_id)
        assert final.status in (Status.APPROVED, Status.REJECTED)
        assert len(final.votes) == 1
        kinds = Counter(e.kind.value for e in store.audit(approval_id))
        assert kinds["decided"] == 1 and kinds["voted"] == 1 and kinds["vote_refused"] == 1


def test_twenty_clicks_at_once_one_decision(
    approvals: Approvals, store: DynamoApprovalStore
) -> None:
    voters = [f"U0V{i:02d}" for i in range(20)]
    approvals.open(make_request("apr-burst", approvers=tuple(voters)))
    results = race(approvals, "apr-burst", [(v, Decision.APPROVE) for v in voters])
    assert results == Counter({"won": 1, "refused": 19})
    final = store.get("apr-burst")
    assert final.status is Status.APPROVED and len(final.votes) == 1


def click_at_the_deadline(store: DynamoApprovalStore, approval_id: str) -> None:
    """A click one second before the deadline races the workflow's expiry at it."""
    opened_at = datetime.now(UTC) - timedelta(minutes=30)
    deadline = opened_at + timedelta(minutes=30)
    Approvals(store, clock=lambda: opened_at).open(make_request(approval_id))
    voter = Approvals(store, clock=lambda: deadline - timedelta(seconds=1))
    workflow = Approvals(store, clock=lambda: deadline)
    barrier = threading.Barrier(2)

    def click() -> None:
        barrier.wait()
        with contextlib.suppress(RefusedError):
            voter.decide(approval_id, "U0A", Decision.APPROVE)

    def expire() -> None:
        barrier.wait()
        workflow.expire_if_due(approval_id)

    threads = [threading.Thread(target=click), threading.Thread(target=expire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_expiry_racing_a_vote_leaves_one_outcome(store: DynamoApprovalStore) -> None:
    for n in range(10):
        approval_id = f"apr-edge-{n}"
        click_at_the_deadline(store, approval_id)
        final = store.get(approval_id)
        assert final.status in (Status.APPROVED, Status.EXPIRED)
        kinds = Counter(e.kind.value for e in store.audit(approval_id))
        assert kinds["decided"] + kinds["expired"] == 1


def test_pending_list_reads_the_sparse_index(
    approvals: Approvals, store: DynamoApprovalStore, table: tuple[Any, str]
) -> None:
    client, name = table
    for n in range(3):
        approvals.open(make_request(f"apr-list-{n}"))
    approvals.decide("apr-list-1", "U0A", Decision.APPROVE)
    pending = store.list_pending()
    assert sorted(a.id for a in pending) == ["apr-list-0", "apr-list-2"]
    # Only pending approvals are in the index at all: no audit items, no closed ones.
    indexed = client.scan(TableName=name, IndexName="pending")["Items"]
    assert sorted(i["id"]["S"] for i in indexed) == ["apr-list-0", "apr-list-2"]
    closed = client.get_item(
        TableName=name, Key={"pk": {"S": "APPROVAL#apr-list-1"}, "sk": {"S": "META"}}
    )["Item"]
    assert "pending_pk" not in closed and "ttl" in closed


def test_cancel_and_unknown_ids(approvals: Approvals, store: DynamoApprovalStore) -> None:
    approvals.open(make_request("apr-cancel"))
    with pytest.raises(RefusedError):
        approvals.cancel("apr-cancel", "U0X")
    assert approvals.cancel("apr-cancel", "U0REQ", "dup").status is Status.CANCELLED
    with pytest.raises(RefusedError, match="already cancelled"):
        approvals.decide("apr-cancel", "U0A", Decision.APPROVE)
    with pytest.raises(NotFoundError):
        approvals.decide("apr-missing", "U0A", Decision.APPROVE)


def test_cancel_racing_an_approve_leaves_one_outcome(
    approvals: Approvals, store: DynamoApprovalStore
) -> None:
    """The requester cancels while the approver approves, released together, 20 rounds."""
    outcomes: Counter[str] = Counter()
    for n in range(20):
        approval_id = f"apr-cancel-race-{n}"
        approvals.open(make_request(approval_id))
        barrier = threading.Barrier(2)

        def approve(approval_id: str = approval_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            with contextlib.suppress(RefusedError):
                approvals.decide(approval_id, "U0A", Decision.APPROVE)

        def cancel(approval_id: str = approval_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            with contextlib.suppress(RefusedError):
                approvals.cancel(approval_id, "U0REQ", "wrong ticket")

        threads = [threading.Thread(target=approve), threading.Thread(target=cancel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = store.get(approval_id)
        kinds = Counter(e.kind.value for e in store.audit(approval_id))
        assert kinds["decided"] + kinds["cancelled"] == 1, kinds
        assert final.status in (Status.APPROVED, Status.CANCELLED)
        # The loser was refused and audited as such.
        assert kinds["vote_refused"] + kinds["cancel_refused"] == 1, kinds
        outcomes[final.status.value] += 1
    print(f"cancel vs approve, 20 rounds: {dict(outcomes)}")
