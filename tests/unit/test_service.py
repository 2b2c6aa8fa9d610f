"""The use cases over the in-memory store: the rules, in milliseconds, without Java."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signoff.errors import (
    AlreadyRecordedError,
    ConfigError,
    ConflictError,
    RefusedError,
    ValidationError,
)
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval, Decision, Status
from signoff.service import Approvals
from tests.factories import Bell, start_request

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> InMemoryApprovalStore:
    return InMemoryApprovalStore()


@pytest.fixture
def approvals(store: InMemoryApprovalStore, clock: Clock) -> Approvals:
    service = Approvals(store, clock)
    service.open(start_request("apr-s1", approvers=("U0A", "U0B")))
    clock.now += timedelta(seconds=1)
    return service


def kinds(approvals: Approvals) -> Counter[str]:
    return Counter(e.kind.value for e in approvals.store.audit("apr-s1"))


def test_a_repeated_click_by_the_decider_is_already_recorded_not_refused(
    approvals: Approvals,
) -> None:
    approvals.decide("apr-s1", "U0A", Decision.APPROVE)
    with pytest.raises(AlreadyRecordedError, match="approve is already recorded"):
        approvals.decide("apr-s1", "U0A", Decision.APPROVE)
    assert kinds(approvals) == Counter({"created": 1, "voted": 1, "decided": 1})


def test_the_decider_changing_their_mind_is_refused_and_audited(approvals: Approvals) -> None:
    approvals.decide("apr-s1", "U0A", Decision.APPROVE)
    with pytest.raises(RefusedError, match="already approved"):
        approvals.decide("apr-s1", "U0A", Decision.REJECT, "second thoughts")
    assert kinds(approvals)["vote_refused"] == 1


def test_a_refused_cancel_is_audited(approvals: Approvals) -> None:
    with pytest.raises(RefusedError, match="only the requester or an admin"):
        approvals.cancel("apr-s1", "U0STRANGER", "because")
    audit = approvals.store.audit("apr-s1")
    assert audit[-1].kind == "cancel_refused" and audit[-1].actor == "U0STRANGER"
    assert approvals.get("apr-s1").status is Status.PENDING


def test_expire_if_abandoned_waits_for_the_grace(approvals: Approvals, clock: Clock) -> None:
    deadline = approvals.get("apr-s1").expires_at
    clock.now = deadline + timedelta(seconds=119)
    assert approvals.expire_if_abandoned("apr-s1", timedelta(seconds=120)).status is Status.PENDING
    clock.now = deadline + timedelta(seconds=120)
    assert approvals.expire_if_abandoned("apr-s1", timedelta(seconds=120)).status is Status.EXPIRED
    assert kinds(approvals)["expired"] == 1


class LosesRaces(InMemoryApprovalStore):
    """A store where another writer gets in first `times` times (a fake, not a mock)."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def commit(self, before: Approval, after: Approval, events: Any, **kwargs: Any) -> None:
        if self.times:
            self.times -= 1
            raise ConflictError("someone else wrote first")
        super().commit(before, after, events, **kwargs)


def test_a_lost_race_is_retried_from_a_fresh_read() -> None:
    store = LosesRaces(times=3)
    service = Approvals(store, Clock())
    service.open(start_request("apr-s1"))
    assert service.decide("apr-s1", "U0A", Decision.APPROVE).status is Status.APPROVED


def test_a_write_that_keeps_losing_gives_up_with_a_conflict() -> None:
    store = LosesRaces(times=100)
    service = Approvals(store, Clock())
    service.open(start_request("apr-s1"))
    with pytest.raises(ConflictError, match="kept changing"):
        service.cancel("apr-s1", "U0REQ")
    assert store.times == 100 - 8  # MAX_ATTEMPTS tries, then it stops


def test_a_closing_commit_rings_the_doorbell_the_workflow_armed(
    store: InMemoryApprovalStore,
) -> None:
    bell = Bell()
    service = Approvals(store, Clock(), doorbell=bell)
    service.open(start_request("apr-s1"))
    service.cancel("apr-s1", "U0REQ")  # nothing armed yet: nothing to ring
    assert bell.rung == []
    service.open(start_request("apr-s2"))
    service.arm_doorbell("apr-s2", "cb-7")
    with pytest.raises(RefusedError):
        service.decide("apr-s2", "U0STRANGER", Decision.APPROVE)
    assert bell.rung == []  # a refusal changes nothing: no ring
    service.decide("apr-s2", "U0A", Decision.APPROVE)
    assert bell.rung == ["cb-7"]


def test_arming_expires_a_request_that_is_due(store: InMemoryApprovalStore) -> None:
    clock = Clock()
    service = Approvals(store, clock)
    service.open(start_request("apr-s1"))
    clock.now += timedelta(minutes=30)
    assert service.arm_doorbell("apr-s1", "cb-1").status is Status.EXPIRED


class Counted(InMemoryApprovalStore):
    """Counts every call that reaches the store (DynamoDB, on AWS)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if not callable(found) or name.startswith("_"):
            return found
        calls = super().__getattribute__("calls")

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return found(*args, **kwargs)

        return counted


NOT_IDS = ["x" * 3000, "", "APR-1", "apr-1\n", "apr-\u202e1", "apr-1\x00", "../etc"]


@pytest.mark.parametrize("bad", NOT_IDS)
def test_what_is_not_an_approval_id_is_refused_before_the_store_is_asked(bad: str) -> None:
    store = Counted()
    approvals = Approvals(store)
    for call in (
        lambda: approvals.get(bad),
        lambda: approvals.audit_trail(bad),
        lambda: approvals.check_vote(bad, "U0A"),
        lambda: approvals.decide(bad, "U0A", Decision.APPROVE),
        lambda: approvals.cancel(bad, "U0A"),
        lambda: approvals.expire_if_abandoned(bad, timedelta(0)),
    ):
        with pytest.raises(ValidationError, match="is not an approval id") as refused:
            call()
        assert len(str(refused.value)) < 200
        assert "\u202e" not in str(refused.value) and "\x00" not in str(refused.value)
    assert store.calls == []


@pytest.mark.parametrize("who", ["", "<!channel>", "U0A\n", "ci bot", "x" * 65])
def test_an_actor_that_is_not_a_person_is_refused_and_not_recorded(
    approvals: Approvals, who: str
) -> None:
    before = approvals.store.audit("apr-s1")
    for act in (
        lambda: approvals.decide("apr-s1", who, Decision.APPROVE),
        lambda: approvals.cancel("apr-s1", who),
    ):
        with pytest.raises(ValidationError, match="must be a Slack user id"):
            act()
    assert approvals.store.audit("apr-s1") == before


def test_a_broken_policy_document_refuses_a_strangers_cancel_and_audits_it(
    approvals: Approvals,
) -> None:
    def unreadable() -> tuple[str, ...]:
        raise ConfigError("policies.yaml, line 3, column 3: the key 'p-1' is given twice")

    approvals.admins = unreadable
    with pytest.raises(RefusedError, match="policy document cannot be read") as refused:
        approvals.cancel("apr-s1", "U0ADMIN", "wrong ticket")
    last = approvals.audit("apr-s1")[-1]
    assert (last.kind, last.actor) == ("cancel_refused", "U0ADMIN")
    assert last.detail == {"why": str(refused.value), "code": "policies_unreadable"}
    assert approvals.get("apr-s1").status is Status.PENDING
    # The requester needs no admin list; a closed request says so whatever the document.
    requester = approvals.get("apr-s1").requester
    assert approvals.cancel("apr-s1", requester).status is Status.CANCELLED
    with pytest.raises(RefusedError, match="already cancelled"):
        approvals.cancel("apr-s1", "U0ADMIN")
