"""The tally: the one account of an approval's votes that every surface renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from signoff.model import Approval, Decision, Status
from signoff.tally import EscalationState, tally
from tests.factories import start_request

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _quorum(**overrides: Any) -> Approval:
    values: dict[str, Any] = {
        "approvers": ("U0ALICE", "U0BOB", "U0CAROL"),
        "min_approvals": 2,
        "timeout": timedelta(hours=2),
    }
    values.update(overrides)
    approval, _ = Approval.open(start_request(**values), T0)
    return approval


def test_a_fresh_quorum_waits_for_everyone_but_the_requester() -> None:
    facts = tally(_quorum(approvers=("U0ALICE", "U0BOB", "U0REQ")))
    assert facts.status is Status.PENDING
    assert facts.votes == ()
    assert facts.waiting == ("U0ALICE", "U0BOB")
    assert (facts.needed, facts.approved, facts.missing, facts.progress) == (2, 0, 2, "0 of 2")
    assert facts.is_quorum
    assert facts.deadline == T0 + timedelta(hours=2)
    assert facts.escalation is None


def test_a_two_of_three_keeps_every_approval_in_order_with_its_time() -> None:
    approval = _quorum()
    approval, _ = approval.vote("U0ALICE", Decision.APPROVE, T0 + timedelta(minutes=1))
    half = tally(approval)
    assert [v.user for v in half.votes] == ["U0ALICE"]
    assert half.progress == "1 of 2" and half.missing == 1
    assert half.waiting == ("U0BOB", "U0CAROL")
    assert not half.votes[0].decisive
    assert half.completes(Decision.APPROVE) and half.completes(Decision.REJECT)

    approval, _ = approval.vote("U0BOB", Decision.APPROVE, T0 + timedelta(minutes=2))
    done = tally(approval)
    assert done.status is Status.APPROVED
    assert [(v.user, v.at) for v in done.approvals] == [
        ("U0ALICE", T0 + timedelta(minutes=1)),
        ("U0BOB", T0 + timedelta(minutes=2)),
    ]
    assert [v.decisive for v in done.votes] == [False, True]
    assert done.progress == "2 of 2" and done.missing == 0
    assert done.waiting == ()  # closed: nobody may vote any more
    assert (done.closed_by, done.closed_at) == ("U0BOB", T0 + timedelta(minutes=2))
    assert not done.completes(Decision.APPROVE)


def test_a_first_approval_of_two_does_not_complete_the_rule() -> None:
    facts = tally(_quorum(min_approvals=3))
    assert not facts.completes(Decision.APPROVE)
    assert facts.completes(Decision.REJECT)


def test_an_expiry_after_a_partial_quorum_keeps_the_approval() -> None:
    approval = _quorum()
    approval, _ = approval.vote("U0ALICE", Decision.APPROVE, T0 + timedelta(minutes=1))
    approval, _ = approval.expire(T0 + timedelta(hours=2))
    facts = tally(approval)
    assert facts.status is Status.EXPIRED
    assert [v.user for v in facts.approvals] == ["U0ALICE"]
    assert facts.progress == "1 of 2"
    assert facts.closed_by == ""
    assert not any(v.decisive for v in facts.votes)


def test_a_rejection_keeps_its_reason_and_the_earlier_approval() -> None:
    approval = _quorum()
    approval, _ = approval.vote("U0ALICE", Decision.APPROVE, T0 + timedelta(minutes=1))
    approval, _ = approval.vote(
        "U0BOB", Decision.REJECT, T0 + timedelta(minutes=3), "freeze\nuntil *Monday*"
    )
    facts = tally(approval)
    assert facts.status is Status.REJECTED
    assert [(v.user, v.decision) for v in facts.votes] == [
        ("U0ALICE", Decision.APPROVE),
        ("U0BOB", Decision.REJECT),
    ]
    assert [v.reason for v in facts.rejections] == ["freeze\nuntil *Monday*"]
    assert facts.votes[1].decisive
    assert facts.reason == "freeze\nuntil *Monday*"


def test_a_self_approval_is_marked() -> None:
    approval = _quorum(approvers=("U0REQ", "U0BOB"), allow_self_approval=True)
    approval, _ = approval.vote("U0REQ", Decision.APPROVE, T0 + timedelta(minutes=1))
    approval, _ = approval.vote("U0BOB", Decision.APPROVE, T0 + timedelta(minutes=2))
    assert [v.self_approval for v in tally(approval).votes] == [True, False]


def test_the_requester_may_still_vote_where_self_approval_is_allowed() -> None:
    approval = _quorum(approvers=("U0REQ", "U0BOB"), allow_self_approval=True)
    assert tally(approval).waiting == ("U0REQ", "U0BOB")


def test_a_cancel_says_who_and_why() -> None:
    approval, _ = _quorum().cancel("U0REQ", T0 + timedelta(minutes=5), "wrong ticket")
    facts = tally(approval)
    assert (facts.status, facts.closed_by, facts.reason) == (
        Status.CANCELLED,
        "U0REQ",
        "wrong ticket",
    )
    assert facts.waiting == ()


def _escalating(**overrides: Any) -> Approval:
    return _quorum(escalate_after=timedelta(minutes=45), escalate_to="S0DBA", **overrides)


def test_an_escalation_is_due_at_creation_plus_its_delay() -> None:
    facts = tally(_escalating())
    assert facts.escalation is not None
    assert facts.escalation.state is EscalationState.DUE
    assert facts.escalation.due_at == T0 + timedelta(minutes=45)
    assert facts.escalation.due_in(T0 + timedelta(minutes=3)) == timedelta(minutes=42)
    assert facts.escalation.due_in(T0 + timedelta(hours=1)) == timedelta(0)


def test_an_escalation_that_fired_added_its_members() -> None:
    approval, _ = _escalating().escalate(["U0DAN", "U0ALICE"], T0 + timedelta(minutes=45))
    facts = tally(approval)
    assert facts.escalation is not None
    assert facts.escalation.state is EscalationState.ESCALATED
    assert facts.escalation.due_in(T0) is None
    assert facts.waiting == ("U0ALICE", "U0BOB", "U0CAROL", "U0DAN")


def test_an_escalation_whose_group_failed_is_marked_failed() -> None:
    approval, _ = _escalating().escalate([], T0 + timedelta(minutes=45), "no such group")
    facts = tally(approval)
    assert facts.escalation is not None
    assert facts.escalation.state is EscalationState.FAILED


def test_an_escalation_is_moot_once_decided_or_past_the_deadline() -> None:
    approval, _ = _escalating().vote("U0ALICE", Decision.REJECT, T0, "no")
    facts = tally(approval)
    assert facts.escalation is not None and facts.escalation.state is EscalationState.MOOT
    late = tally(_escalating(timeout=timedelta(minutes=30)))
    assert late.escalation is not None and late.escalation.state is EscalationState.MOOT


def test_time_left_never_goes_negative() -> None:
    facts = tally(_quorum())
    assert facts.time_left(T0) == timedelta(hours=2)
    assert facts.time_left(T0 + timedelta(days=1)) == timedelta(0)
