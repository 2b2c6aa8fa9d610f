from datetime import UTC, datetime, timedelta

import pytest

from signoff.errors import RefusedError, ValidationError
from signoff.model import (
    Approval,
    AuditKind,
    Decision,
    StartRequest,
    Status,
    format_duration,
    parse_duration,
    parse_fields,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def request(**overrides: object) -> StartRequest:
    values: dict[str, object] = {
        "id": "apr-abc123",
        "title": "Deploy api",
        "requester": "U0REQ",
        "approvers": ("U0A", "U0B"),
        "channel": "approvals",
        "timeout": timedelta(minutes=30),
    }
    values.update(overrides)
    return StartRequest(**values)  # type: ignore[arg-type]


def opened() -> Approval:
    approval, event = Approval.open(request(), T0)
    assert event.kind is AuditKind.CREATED
    return approval


def test_open_sets_deadline_from_timeout() -> None:
    approval = opened()
    assert approval.status is Status.PENDING
    assert approval.expires_at == T0 + timedelta(minutes=30)
    assert approval.version == 1


def test_an_approver_decides_alone() -> None:
    after, events = opened().vote("U0A", Decision.APPROVE, T0 + timedelta(minutes=1))
    assert after.status is Status.APPROVED
    assert after.decided_by == "U0A"
    assert after.version == 2
    assert [e.kind for e in events] == [AuditKind.VOTED, AuditKind.DECIDED]


def test_reject_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason"):
        opened().vote("U0A", Decision.REJECT, T0, "  ")
    after, _ = opened().vote("U0A", Decision.REJECT, T0, "not on a Friday")
    assert after.status is Status.REJECTED
    assert after.reason == "not on a Friday"


@pytest.mark.parametrize(
    ("user", "when", "why"),
    [
        ("U0X", T0, "not an approver"),
        ("U0A", T0 + timedelta(minutes=30), "expired"),
    ],
)
def test_refusals_say_why(user: str, when: datetime, why: str) -> None:
    with pytest.raises(RefusedError, match=why):
        opened().vote(user, Decision.APPROVE, when)


def test_self_approval_is_refused_unless_allowed() -> None:
    approval, _ = Approval.open(request(approvers=("U0REQ", "U0A")), T0)
    with pytest.raises(RefusedError, match="self-approval"):
        approval.vote("U0REQ", Decision.APPROVE, T0)
    allowed, _ = Approval.open(request(approvers=("U0REQ",), allow_self_approval=True), T0)
    assert allowed.vote("U0REQ", Decision.APPROVE, T0)[0].status is Status.APPROVED


def test_a_decided_request_takes_no_more_votes() -> None:
    decided, _ = opened().vote("U0A", Decision.APPROVE, T0)
    with pytest.raises(RefusedError, match="already approved"):
        decided.vote("U0B", Decision.REJECT, T0, "late")


def test_expire_only_when_due() -> None:
    approval = opened()
    with pytest.raises(RefusedError):
        approval.expire(T0 + timedelta(minutes=29))
    expired, events = approval.expire(T0 + timedelta(minutes=30))
    assert expired.status is Status.EXPIRED
    assert events[0].kind is AuditKind.EXPIRED


def test_cancel_by_requester_or_approver_only() -> None:
    with pytest.raises(RefusedError, match="only the requester"):
        opened().cancel("U0X", T0)
    cancelled, _ = opened().cancel("U0REQ", T0, "wrong ticket")
    assert cancelled.status is Status.CANCELLED
    assert cancelled.reason == "wrong ticket"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Approval.open(request(), datetime(2026, 1, 1))


def test_start_request_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        request(id="Bad Id", title=" ", approvers=(), timeout=timedelta(days=8))
    message = str(info.value)
    for part in ("id", "title", "approver", "timeout"):
        assert part in message


def test_no_channel_means_the_deployments_default() -> None:
    approval, _ = Approval.open(request(channel=""), T0, default_channel="C0OPS")
    assert approval.channel == "C0OPS"
    assert Approval.open(request(channel="C0DB"), T0, default_channel="C0OPS")[0].channel == "C0DB"


def test_payload_round_trip() -> None:
    original = request(fields=(("env", "prod"),), description="d")
    assert StartRequest.from_payload(original.to_payload()) == original
    with pytest.raises(ValidationError, match="malformed"):
        StartRequest.from_payload({"id": "apr-x"})


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_bad_duration_and_fields() -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(ValidationError, match="key=value"):
        parse_fields(["novalue"])
    assert parse_fields(["env=prod", "ticket = OPS-1"]) == (("env", "prod"), ("ticket", "OPS-1"))
    assert format_duration(timedelta(hours=2)) == "2h"
