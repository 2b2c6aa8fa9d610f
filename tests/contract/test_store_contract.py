"""One contract, two stores: DynamoDB (on DynamoDB Local) and the in-memory fake.

Every rule the service leans on is a condition of the store's write; both adapters must
keep them, for every port: the approvals (`ApprovalRecords`), their history
(`HistoryReader`) and the notifier's claims (`Claims`). Races between real concurrent
writers are tried on DynamoDB Local only (tests/integration/test_store.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from signoff.claims import Claims
from signoff.errors import ConflictError, NotFoundError
from signoff.memstore import InMemoryApprovalStore
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Decision,
    OnceClaim,
    PostClaim,
    Refused,
    SlackRef,
    Status,
)
from signoff.refusals import RefusalCode
from signoff.schema import InboxRole
from signoff.service import ApprovalRecords, HistoryReader
from tests.factories import start_request

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
DENIED, TAKEOVER = PostClaim.DENIED, PostClaim.TAKEOVER


class AnyStore(ApprovalRecords, HistoryReader, Claims, Protocol):
    """Every port of the one table: what both stores implement."""


@pytest.fixture(params=[pytest.param("dynamodb", marks=pytest.mark.dynamodb), "memory"])
def any_store(request: pytest.FixtureRequest) -> AnyStore:
    if request.param == "memory":
        return InMemoryApprovalStore()
    store: AnyStore = request.getfixturevalue("store")
    return store


Opener = Callable[..., Approval]


@pytest.fixture
def opened(any_store: AnyStore) -> Opener:
    def open_one(approval_id: str = "apr-c1", **overrides: object) -> Approval:
        approval, event = Approval.open(start_request(approval_id, **overrides), T0)
        assert any_store.create(approval, event)
        return approval

    return open_one


def test_create_once(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    again, event = Approval.open(start_request("apr-c1", title="Something else"), T0)
    assert any_store.create(again, event) is False
    assert any_store.get("apr-c1") == approval
    assert [e.kind for e in any_store.audit("apr-c1")] == ["created"]


def test_get_unknown_is_not_found(any_store: AnyStore) -> None:
    with pytest.raises(NotFoundError):
        any_store.get("apr-missing")


def test_round_trip_keeps_every_field(any_store: AnyStore, opened: Opener) -> None:
    approval = opened(
        description="line one\nline two",
        fields=(("env", "prod"), ("ticket", "OPS-1")),
        approvers=("U0A", "U0B"),
    )
    assert any_store.get(approval.id) == approval


def test_commit_from_a_stale_read_conflicts(any_store: AnyStore, opened: Opener) -> None:
    before = opened()
    t1 = T0 + timedelta(seconds=1)  # audit events in the same millisecond have no order
    after, events = before.vote("U0A", Decision.APPROVE, t1)
    any_store.commit(before, after, events, now=t1, voter="U0A")
    other, other_events = before.cancel("U0REQ", t1)
    with pytest.raises(ConflictError):
        any_store.commit(before, other, other_events, now=t1)
    assert any_store.get(before.id).status is Status.APPROVED
    kinds = [e.kind for e in any_store.audit(before.id)]
    assert kinds == ["created", "voted", "decided"]  # the loser's events are not written


def test_a_vote_at_or_after_the_deadline_conflicts(any_store: AnyStore, opened: Opener) -> None:
    before = opened()
    after, events = before.vote("U0A", Decision.APPROVE, T0)
    with pytest.raises(ConflictError):
        any_store.commit(before, after, events, now=before.expires_at, voter="U0A")
    assert any_store.get(before.id).status is Status.PENDING


def test_a_vote_in_the_last_second_before_the_deadline_is_committed(
    any_store: AnyStore,
) -> None:
    """The write holds the deadline exactly as the rule does (to the millisecond): a vote
    0.5 s before a deadline that falls inside a second is accepted by both."""
    opened_at = T0 + timedelta(milliseconds=700)  # the deadline is 12:30:00.700
    before, event = Approval.open(start_request("apr-c1"), opened_at)
    assert any_store.create(before, event)
    now = before.expires_at - timedelta(milliseconds=500)  # 12:30:00.200: same whole second
    assert before.vote_refusal("U0A", now) is None
    after, events = before.vote("U0A", Decision.APPROVE, now)
    any_store.commit(before, after, events, now=now, voter="U0A")
    assert any_store.get(before.id).status is Status.APPROVED
    # And one millisecond after the deadline the rule and the write both say no.
    late_before, late_event = Approval.open(start_request("apr-c2"), opened_at)
    assert any_store.create(late_before, late_event)
    late = late_before.expires_at + timedelta(milliseconds=1)
    refusal = late_before.vote_refusal("U0A", late)
    assert refusal is not None and refusal.code is RefusalCode.EXPIRED
    voted, voted_events = late_before.vote("U0A", Decision.APPROVE, now)
    with pytest.raises(ConflictError):
        any_store.commit(late_before, voted, voted_events, now=late, voter="U0A")


def test_a_second_vote_by_the_same_person_conflicts(any_store: AnyStore, opened: Opener) -> None:
    """The write itself holds "has not voted yet", not only the read before it."""
    before = opened()
    voted, events = before.vote("U0A", Decision.APPROVE, T0)
    # A pending approval that already holds U0A's vote (as a quorum will have).
    from dataclasses import replace

    still_pending = replace(voted, status=Status.PENDING, decided_by="", decided_at=None)
    any_store.commit(before, still_pending, events[:1], now=T0, voter="U0A")
    again = replace(still_pending, version=still_pending.version + 1)
    with pytest.raises(ConflictError):
        any_store.commit(still_pending, again, [], now=T0, voter="U0A")


def test_a_closed_approval_takes_no_commit(any_store: AnyStore, opened: Opener) -> None:
    before = opened()
    expired, events = before.expire(before.expires_at)
    any_store.commit(before, expired, events, now=before.expires_at)
    from dataclasses import replace

    # A writer that read it before it closed, or one that ignores the status, is refused.
    with pytest.raises(ConflictError):
        any_store.commit(expired, replace(expired, version=expired.version + 1), [], now=T0)
    assert any_store.get(before.id).status is Status.EXPIRED


def test_pending_list_holds_only_pending_soonest_first(any_store: AnyStore, opened: Opener) -> None:
    later = opened("apr-later", timeout=timedelta(hours=2))
    sooner = opened("apr-sooner", timeout=timedelta(minutes=5))
    decided = opened("apr-decided")
    after, events = decided.vote("U0A", Decision.APPROVE, T0)
    any_store.commit(decided, after, events, now=T0, voter="U0A")
    assert [a.id for a in any_store.list_pending()] == [sooner.id, later.id]
    assert [a.id for a in any_store.list_pending(limit=1)] == [sooner.id]


def test_audit_is_in_the_order_written(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    for n in range(3):
        any_store.record(
            approval.id,
            AuditEvent(
                kind=AuditKind.VOTE_REFUSED,
                at=T0 + timedelta(seconds=n + 1),
                actor=f"U0X{n}",
                detail={"why": "no"},
            ),
        )
    audit = any_store.audit(approval.id)
    assert [e.actor for e in audit] == ["U0REQ", "U0X0", "U0X1", "U0X2"]
    assert audit[1].detail == {"why": "no"}


def test_post_claim_lease_and_message(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    assert any_store.claim_message(approval.id, T0, LEASE) is PostClaim.FIRST
    assert any_store.claim_message(approval.id, T0 + timedelta(seconds=30), LEASE) is DENIED
    # A claim older than the lease (its holder died) can be taken over, and says so.
    assert any_store.claim_message(approval.id, T0 + timedelta(seconds=61), LEASE) is TAKEOVER
    stored = any_store.set_message(
        approval.id, SlackRef(channel="C1", ts="1.0"), T0 + timedelta(seconds=62)
    )
    assert stored.message == SlackRef(channel="C1", ts="1.0")
    assert stored.version == approval.version + 1
    assert any_store.claim_message(approval.id, T0 + timedelta(hours=1), LEASE) is DENIED
    with pytest.raises(ConflictError):
        any_store.set_message(
            approval.id, SlackRef(channel="C1", ts="2.0"), T0 + timedelta(seconds=63)
        )
    assert any_store.get(approval.id).message == SlackRef(channel="C1", ts="1.0")
    assert [e.kind for e in any_store.audit(approval.id)] == ["created", "notified"]


def test_release_lets_the_next_delivery_claim(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    assert any_store.claim_message(approval.id, T0, LEASE) is PostClaim.FIRST
    any_store.release_claim(approval.id)
    assert any_store.claim_message(approval.id, T0, LEASE) is PostClaim.FIRST
    any_store.release_claim("apr-missing")  # nothing to release: no error, nothing created
    with pytest.raises(NotFoundError):
        any_store.get("apr-missing")
    assert any_store.claim_message("apr-missing", T0, LEASE) is DENIED


def test_a_decision_keeps_the_notifiers_post_claim(any_store: AnyStore, opened: Opener) -> None:
    """A vote committed while a notifier holds the post claim must not drop it, or a
    redelivered "requested" could post a second message."""
    before = opened()
    assert any_store.claim_message(before.id, T0, LEASE) is PostClaim.FIRST
    after, events = before.vote("U0A", Decision.APPROVE, T0)
    any_store.commit(before, after, events, now=T0, voter="U0A")
    assert any_store.claim_message(before.id, T0 + timedelta(seconds=1), LEASE) is DENIED


def test_arming_the_doorbell_keeps_it_outside_the_version(
    any_store: AnyStore, opened: Opener
) -> None:
    before = opened()
    armed = any_store.arm_doorbell(before.id, "cb-1")
    assert armed.doorbell == "cb-1" and armed.version == before.version
    with pytest.raises(NotFoundError):
        any_store.arm_doorbell("apr-missing", "cb-1")


def test_a_commit_from_a_read_before_the_workflow_rearmed_conflicts(
    any_store: AnyStore, opened: Opener
) -> None:
    """So the writer re-reads and rings the doorbell the workflow is waiting on now."""
    opened()
    read = any_store.arm_doorbell("apr-c1", "cb-1")
    any_store.arm_doorbell("apr-c1", "cb-2")
    after, events = read.vote("U0A", Decision.APPROVE, T0)
    with pytest.raises(ConflictError):
        any_store.commit(read, after, events, now=T0, voter="U0A")
    fresh = any_store.get("apr-c1")
    after, events = fresh.vote("U0A", Decision.APPROVE, T0)
    any_store.commit(fresh, after, events, now=T0, voter="U0A")
    stored = any_store.get("apr-c1")
    assert stored.status is Status.APPROVED and stored.doorbell == "cb-2"


ONCE = OnceClaim


def test_claim_once_grants_one_claim_per_key(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    assert any_store.claim_once(approval.id, "reply:outcome", T0, LEASE) is ONCE.FIRST
    # A second delivery while the first is at work is told so, not granted.
    assert any_store.claim_once(approval.id, "reply:outcome", T0, LEASE) is ONCE.BUSY
    # Keys are independent, and so are approvals.
    assert any_store.claim_once(approval.id, "dm:outcome", T0, LEASE) is ONCE.FIRST
    assert any_store.claim_once("apr-other", "reply:outcome", T0, LEASE) is ONCE.FIRST
    any_store.finish_once(approval.id, "reply:outcome", T0)
    later = T0 + timedelta(days=30)
    assert any_store.claim_once(approval.id, "reply:outcome", later, LEASE) is ONCE.DONE
    # The claims are not audit events and not approvals.
    assert [e.kind for e in any_store.audit(approval.id)] == ["created"]
    assert [a.id for a in any_store.list_pending()] == [approval.id]
    with pytest.raises(NotFoundError):
        any_store.get("apr-other")


def test_an_unfinished_claim_lapses_after_the_lease(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    assert any_store.claim_once(approval.id, "k", T0, LEASE) is ONCE.FIRST
    assert any_store.claim_once(approval.id, "k", T0 + timedelta(seconds=60), LEASE) is ONCE.BUSY
    # Its holder died: the next caller takes it over, and is told it may have happened.
    assert (
        any_store.claim_once(approval.id, "k", T0 + timedelta(seconds=61), LEASE) is ONCE.TAKEOVER
    )
    assert any_store.claim_once(approval.id, "k", T0 + timedelta(seconds=62), LEASE) is ONCE.BUSY
    any_store.finish_once(approval.id, "k", T0 + timedelta(seconds=62))
    assert any_store.claim_once(approval.id, "k", T0 + timedelta(hours=1), LEASE) is ONCE.DONE


def test_a_released_claim_is_granted_again_but_a_done_one_is_not(
    any_store: AnyStore, opened: Opener
) -> None:
    approval = opened()
    assert any_store.claim_once(approval.id, "k", T0, LEASE) is ONCE.FIRST
    any_store.release_once(approval.id, "k")
    assert any_store.claim_once(approval.id, "k", T0, LEASE) is ONCE.FIRST
    any_store.finish_once(approval.id, "k", T0)
    any_store.release_once(approval.id, "k")  # too late: it is done
    assert any_store.claim_once(approval.id, "k", T0, LEASE) is ONCE.DONE
    any_store.release_once(approval.id, "never-claimed")  # nothing to release: no error


def test_a_released_claim_taken_after_the_lease_is_first_not_a_takeover(
    any_store: AnyStore, opened: Opener
) -> None:
    """Released means nothing was sent: the next holder need not look for it."""
    approval = opened()
    assert any_store.claim_once(approval.id, "k", T0, LEASE) is ONCE.FIRST
    any_store.release_once(approval.id, "k")
    later = T0 + LEASE + timedelta(seconds=1)
    assert any_store.claim_once(approval.id, "k", later, LEASE) is ONCE.FIRST


def test_finished_once_lists_only_what_was_finished(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    other = opened("apr-c2")
    for key in ("vote:U0A", "outcome", "dm:outcome", "released"):
        assert any_store.claim_once(approval.id, key, T0, LEASE) is ONCE.FIRST
    any_store.finish_once(approval.id, "vote:U0A", T0)
    any_store.finish_once(approval.id, "outcome", T0)
    any_store.release_once(approval.id, "released")
    any_store.finish_once(approval.id, "render:v3", T0)  # marked done without a claim
    any_store.finish_once(other.id, "outcome", T0)
    assert any_store.finished_once(approval.id) == {"vote:U0A", "outcome", "render:v3"}
    assert any_store.finished_once("apr-missing") == frozenset()
    assert any_store.claim_once(approval.id, "render:v3", T0, LEASE) is ONCE.DONE


def test_finishing_with_an_event_writes_the_event_once(any_store: AnyStore, opened: Opener) -> None:
    """The mark and its audit event are one write: finishing again adds no second event."""
    approval = opened()
    assert any_store.claim_once(approval.id, "render:v2", T0, LEASE) is ONCE.FIRST
    for n in range(3):
        updated = AuditEvent(
            kind=AuditKind.MESSAGE_UPDATED,
            at=T0 + timedelta(seconds=n + 1),
            actor="signoff",
            detail={"status": "x"},
        )
        any_store.finish_once(approval.id, "render:v2", T0, updated)
    kinds = [e.kind for e in any_store.audit(approval.id)]
    assert kinds == ["created", "message_updated"]
    assert "render:v2" in any_store.finished_once(approval.id)


def test_a_failed_set_message_writes_no_notified_event(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    with pytest.raises(ConflictError):
        any_store.set_message("apr-missing", SlackRef(channel="C1", ts="1.0"), T0)
    t1 = T0 + timedelta(seconds=1)
    any_store.set_message(approval.id, SlackRef(channel="C1", ts="1.0"), t1, approval.expires_at)
    with pytest.raises(ConflictError):
        any_store.set_message(approval.id, SlackRef(channel="C1", ts="2.0"), t1)
    assert [e.kind for e in any_store.audit(approval.id)] == ["created", "notified"]
    assert any_store.audit("apr-missing") == []


def test_the_same_event_recorded_twice_is_kept_once(any_store: AnyStore, opened: Opener) -> None:
    """A write whose answer was lost is written again: the audit keeps it once."""
    approval = opened()
    at = T0 + timedelta(seconds=1)  # events in the same millisecond have no order
    refused = AuditEvent(
        kind=AuditKind.VOTE_REFUSED, at=at, actor="U0X", detail={"why": "not an approver"}
    )
    any_store.record(approval.id, refused, approval.expires_at)
    any_store.record(approval.id, refused, approval.expires_at)
    twin = AuditEvent(
        kind=AuditKind.VOTE_REFUSED, at=at, actor="U0X", detail={"why": "not an approver"}
    )
    any_store.record(approval.id, twin, approval.expires_at)  # another click, same instant
    kinds = [e.kind for e in any_store.audit(approval.id)]
    assert kinds == ["created", "vote_refused", "vote_refused"]


def test_failures_are_counted_per_key(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    counts = [any_store.count_failure(approval.id, "render:v2:internal_error", T0) for _ in "abc"]
    assert counts == [1, 2, 3]
    assert any_store.count_failure(approval.id, "render:v2:ratelimited", T0) == 1
    assert any_store.count_failure("apr-c2", "render:v2:internal_error", T0) == 1
    assert any_store.finished_once(approval.id) == frozenset()  # counters are not claims


# --- history: listings by status and time, audit events across approvals ---------------------


def _history(any_store: AnyStore) -> dict[str, Approval]:
    """Six approvals created over 40 days (two months), in every status."""
    made: dict[str, Approval] = {}
    for name, age in (
        ("apr-h-old", timedelta(days=40)),  # October: outside a 30-day window
        ("apr-h-approved", timedelta(days=20)),
        ("apr-h-rejected", timedelta(days=3)),
        ("apr-h-cancelled", timedelta(days=2)),
        ("apr-h-expired", timedelta(days=1)),
        ("apr-h-pending", timedelta(minutes=5)),
    ):
        created = T0 - age
        approval, event = Approval.open(start_request(name), created)
        assert any_store.create(approval, event)
        step = created + timedelta(minutes=1)
        if name in ("apr-h-old", "apr-h-approved"):
            after, events = approval.vote("U0A", Decision.APPROVE, step)
        elif name == "apr-h-rejected":
            after, events = approval.vote("U0A", Decision.REJECT, step, "no")
        elif name == "apr-h-cancelled":
            after, events = approval.cancel("U0REQ", step)
        elif name == "apr-h-expired":
            step = approval.expires_at
            after, events = approval.expire(step)
        else:
            after, events = approval, []
        if events:
            any_store.commit(approval, after, events, now=step)
        made[name] = after
    return made


def test_history_lists_a_status_or_all_newest_first_within_the_window(
    any_store: AnyStore,
) -> None:
    _history(any_store)
    month_ago = T0 - timedelta(days=30)
    every = any_store.list_history(None, month_ago, T0, 100)
    assert [a.id for a in every.items] == [
        "apr-h-pending",
        "apr-h-expired",
        "apr-h-cancelled",
        "apr-h-rejected",
        "apr-h-approved",
    ]
    assert every.after is None  # fewer than the limit: nothing more
    assert [a.status for a in every.items][:2] == [Status.PENDING, Status.EXPIRED]
    approved = any_store.list_history(Status.APPROVED, month_ago, T0, 100)
    assert [a.id for a in approved.items] == ["apr-h-approved"]
    two_months = any_store.list_history(Status.APPROVED, T0 - timedelta(days=60), T0, 100)
    assert [a.id for a in two_months.items] == ["apr-h-approved", "apr-h-old"]
    pending = any_store.list_history(Status.PENDING, T0 - timedelta(hours=1), T0, 100)
    assert [a.id for a in pending.items] == ["apr-h-pending"]
    # The window's end bounds it too.
    earlier = any_store.list_history(None, month_ago, T0 - timedelta(days=2), 100)
    assert [a.id for a in earlier.items] == ["apr-h-cancelled", "apr-h-rejected", "apr-h-approved"]


def test_history_pages_continue_after_the_last_item(any_store: AnyStore) -> None:
    _history(any_store)
    since = T0 - timedelta(days=60)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = any_store.list_history(None, since, T0, 2, after)
        pages += 1
        seen += [a.id for a in page.items]
        if page.after is None:
            break
        assert len(page.items) == 2
        after = page.after
    # A full last page cannot know it is the last (that would cost a read): one empty page.
    assert pages == 4 and len(seen) == 6 and len(set(seen)) == 6
    assert seen[0] == "apr-h-pending" and seen[-1] == "apr-h-old"  # across the two months


def test_audit_history_holds_every_event_oldest_first_with_its_approval(
    any_store: AnyStore,
) -> None:
    made = _history(any_store)
    refused = AuditEvent(
        kind=AuditKind.VOTE_REFUSED, at=T0 - timedelta(minutes=1), actor="U0X", detail={"why": "no"}
    )
    any_store.record("apr-h-pending", refused, made["apr-h-pending"].expires_at)
    since = T0 - timedelta(days=2, minutes=30)
    page = any_store.audit_history(since, T0, 100)
    assert page.after is None
    assert [(r.approval_id, r.event.kind) for r in page.items] == [
        ("apr-h-cancelled", "created"),
        ("apr-h-cancelled", "cancelled"),
        ("apr-h-expired", "created"),
        ("apr-h-expired", "expired"),
        ("apr-h-pending", "created"),
        ("apr-h-pending", "vote_refused"),
    ]
    last = page.items[-1].event
    assert last.actor == "U0X" and last.read(Refused) == Refused(why="no")
    # Page by page, across both months, nothing lost or repeated.
    seen: list[tuple[datetime, str, str]] = []
    after = None
    while True:
        part = any_store.audit_history(T0 - timedelta(days=60), T0, 3, after)
        seen += [(r.event.at, r.approval_id, r.event.kind) for r in part.items]
        if part.after is None:
            break
        after = part.after
    # 6 created; voted + decided for 3 votes; cancelled, expired; 1 refusal.
    assert len(seen) == 15 and len(set(seen)) == 15
    assert seen == sorted(seen, key=lambda e: e[0])


def test_audit_of_one_approval_since_a_time(any_store: AnyStore, opened: Opener) -> None:
    approval = opened()
    for n in range(3):
        any_store.record(
            approval.id,
            AuditEvent(
                kind=AuditKind.VOTE_REFUSED,
                at=T0 + timedelta(minutes=n + 1),
                actor=f"U0X{n}",
                detail={},
            ),
        )
    recent = any_store.audit(approval.id, T0 + timedelta(minutes=2))
    assert [e.actor for e in recent] == ["U0X1", "U0X2"]
    assert len(any_store.audit(approval.id)) == 4
    assert any_store.audit("apr-missing", T0) == []


def test_pending_list_continues_after_a_key(any_store: AnyStore, opened: Opener) -> None:
    for n in range(3):
        opened(f"apr-p{n}", timeout=timedelta(minutes=10 + n))
    first = any_store.list_pending(limit=2)
    assert [a.id for a in first] == ["apr-p0", "apr-p1"]
    from signoff.model import iso

    rest = any_store.list_pending(2, f"{iso(first[-1].expires_at)}#{first[-1].id}")
    assert [a.id for a in rest] == ["apr-p2"]


# -- policies and quorum ----------------------------------------------------------------


def test_round_trip_keeps_the_policy(any_store: AnyStore, opened: Opener) -> None:
    approval = opened(
        approvers=("U0A",),
        approver_groups=("S0DBA",),
        members=("U0B", "U0C"),
        min_approvals=2,
        policy="prod-deploy",
    )
    stored = any_store.get(approval.id)
    assert stored == approval
    assert stored.policy.approvers == ("U0A", "U0B", "U0C")
    assert (stored.policy.groups, stored.policy.named, stored.policy.name) == (
        ("S0DBA",),
        ("U0A",),
        "prod-deploy",
    )
    assert stored.policy.min_approvals == 2


def test_a_vote_short_of_the_quorum_is_committed_under_the_version_guard(
    any_store: AnyStore, opened: Opener
) -> None:
    before = opened(approvers=("U0A", "U0B", "U0C"), min_approvals=2)
    t1 = T0 + timedelta(seconds=1)
    first, events = before.vote("U0A", Decision.APPROVE, t1)
    any_store.commit(before, first, events, now=t1, voter="U0A")
    assert any_store.get(before.id) == first and first.status is Status.PENDING
    # A second approver who read the same version counted from a stale tally: refused.
    stale, stale_events = before.vote("U0B", Decision.APPROVE, t1)
    with pytest.raises(ConflictError):
        any_store.commit(before, stale, stale_events, now=t1, voter="U0B")
    t2 = t1 + timedelta(seconds=1)
    second, events = first.vote("U0B", Decision.APPROVE, t2)
    any_store.commit(first, second, events, now=t2, voter="U0B")
    stored = any_store.get(before.id)
    assert stored.status is Status.APPROVED and stored.approved_by == ("U0A", "U0B")
    kinds = [e.kind for e in any_store.audit(before.id)]
    assert kinds == ["created", "voted", "voted", "decided"]


def test_a_vote_by_someone_not_on_the_record_conflicts(any_store: AnyStore, opened: Opener) -> None:
    """The write itself holds "is an approver", not only the rules before it."""
    from dataclasses import replace

    before = opened()
    forged, events = before.vote("U0A", Decision.APPROVE, T0)
    forged = replace(forged, votes=(replace(forged.votes[0], user="U0X"),), decided_by="U0X")
    with pytest.raises(ConflictError):
        any_store.commit(before, forged, events, now=T0, voter="U0X")
    assert any_store.get(before.id).status is Status.PENDING


def test_a_gate_and_links_survive_every_commit(any_store: AnyStore, opened: Opener) -> None:
    from signoff.gates import GateRef, Link
    from signoff.model import Decision

    gate = GateRef(kind="github", target={"callback_url": "https://api.github.com/x", "n": "1"})
    links = (
        Link(name="Run", url="https://github.com/o/r/actions/runs/1"),
        Link(name="Diff", url="http://d.example/"),
    )
    approval = opened("apr-gate", gate=gate, links=links, approvers=("U0A", "U0B"), min_approvals=2)
    assert any_store.get("apr-gate") == approval
    voted, events = approval.vote("U0A", Decision.APPROVE, T0)
    any_store.commit(approval, voted, events, now=T0)
    stored = any_store.get("apr-gate")
    assert stored.gate == gate and stored.links == links


def inbox_ids(
    store: AnyStore, user: str, role: InboxRole = InboxRole.WAITING, now: datetime = T0
) -> list[str]:
    listed = [a.id for a in store.inbox(user, role, now)]
    assert store.inbox_count(user, role, now) == len(listed)
    return listed


def test_a_persons_inbox_holds_the_pending_requests_that_list_them(
    any_store: AnyStore, opened: Opener
) -> None:
    later = opened("apr-i2", approvers=("U0A", "U0B"), timeout=timedelta(hours=2))
    sooner = opened("apr-i1", approvers=("U0B",), timeout=timedelta(hours=1))
    assert inbox_ids(any_store, "U0B") == [sooner.id, later.id]  # soonest deadline first
    assert inbox_ids(any_store, "U0A") == [later.id]
    assert inbox_ids(any_store, "U0REQ", InboxRole.ASKED) == [sooner.id, later.id]
    assert (
        inbox_ids(any_store, "U0REQ") == [] and inbox_ids(any_store, "U0A", InboxRole.ASKED) == []
    )
    assert inbox_ids(any_store, "U0NOBODY") == []
    # A vote short of the quorum takes it out of the voter's list only.
    quorum = opened("apr-i3", approvers=("U0A", "U0B"), min_approvals=2)
    voted, events = quorum.vote("U0A", Decision.APPROVE, T0)
    any_store.commit(quorum, voted, events, now=T0, voter="U0A")
    assert inbox_ids(any_store, "U0A") == [later.id]
    assert quorum.id in inbox_ids(any_store, "U0B")
    # Closed: it leaves every inbox at once, the requester's too.
    decided, events = sooner.vote("U0B", Decision.APPROVE, T0)
    any_store.commit(sooner, decided, events, now=T0, voter="U0B")
    assert sooner.id not in inbox_ids(any_store, "U0B")
    assert sooner.id not in inbox_ids(any_store, "U0REQ", InboxRole.ASKED)
    # Past its deadline (not yet expired by its workflow), a request is no longer listed.
    assert inbox_ids(any_store, "U0B", now=T0 + timedelta(hours=3)) == []


def test_an_escalation_and_a_close_past_one_transactions_room_keep_every_inbox(
    any_store: AnyStore, opened: Opener
) -> None:
    """More people than one DynamoDB transaction holds (100 items): all are listed, and
    all are cleared once the request closes."""
    before = opened("apr-big", escalate_after=timedelta(minutes=5), escalate_to="S0ONCALL")
    members = [f"U0M{n:03d}" for n in range(150)]
    escalated, events = before.escalate(members, T0)
    any_store.commit(before, escalated, events, now=T0)
    assert all(inbox_ids(any_store, m) == ["apr-big"] for m in members)
    closed, events = escalated.vote("U0M149", Decision.REJECT, T0, "no")
    any_store.commit(escalated, closed, events, now=T0, voter="U0M149")
    assert not any(inbox_ids(any_store, m) for m in (*members, "U0A"))
    assert inbox_ids(any_store, "U0REQ", InboxRole.ASKED) == []
