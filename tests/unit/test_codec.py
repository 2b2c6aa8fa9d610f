"""The codec: model ↔ DynamoDB items, both ways, and items as earlier versions wrote them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signoff.codec import (
    OPTIONAL_ATTRIBUTES,
    PENDING_KEY,
    approval_from_item,
    approval_to_item,
    event_from_item,
    event_json,
    event_key,
    event_to_item,
    recorded_from_item,
)
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Decision,
    Policy,
    Refused,
    SlackRef,
    Status,
    Vote,
)
from signoff.schema import TTL_ATTRIBUTE

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=90)


def decided() -> Approval:
    """An approval with every optional part set: two votes, a message, a named policy."""
    return Approval(
        id="apr-c1",
        title="Deploy api",
        description="v2.3 to prod",
        fields=(("service", "api"), ("env", "prod")),
        requester="U0REQ",
        policy=Policy(
            approvers=("U0A", "U0B", "U0C"),
            allow_self_approval=True,
            min_approvals=2,
            groups=("S0OPS",),
            named=("U0A",),
            name="prod-deploy",
            remind_every=timedelta(minutes=15),
            escalate_after=timedelta(hours=1),
            escalate_to="S0LEADS",
            escalated=True,
        ),
        channel="C0DEPLOY",
        status=Status.APPROVED,
        created_at=T0,
        expires_at=T0 + timedelta(hours=2),
        votes=(
            Vote(user="U0A", decision=Decision.APPROVE, at=T0 + timedelta(minutes=1)),
            Vote(user="U0B", decision=Decision.APPROVE, at=T0 + timedelta(minutes=2), reason="ok"),
        ),
        decided_by="U0B",
        decided_at=T0 + timedelta(minutes=2),
        reason="ok",
        message=SlackRef(channel="C0DEPLOY", ts="1700000000.000100"),
        execution_id="arn:aws:lambda:eu-west-1:123456789012:function:wf/durable-execution/x",
        version=3,
    )


def test_an_approval_reads_back_as_written() -> None:
    approval = decided()
    assert approval_from_item(approval_to_item(approval, RETENTION)) == approval


def test_a_pending_approval_is_in_the_pending_index_and_a_closed_one_is_not() -> None:
    closed = approval_to_item(decided(), RETENTION)
    assert "pending_pk" not in closed and "pending_sk" not in closed
    pending = approval_to_item(
        Approval(
            id="apr-c2",
            title="t",
            description="",
            fields=(),
            requester="U0REQ",
            policy=Policy(approvers=("U0A",)),
            channel="approvals",
            status=Status.PENDING,
            created_at=T0,
            expires_at=T0 + timedelta(minutes=30),
        ),
        RETENTION,
    )
    assert pending["pending_pk"] == PENDING_KEY
    assert "decided_at" not in pending
    # What is written only in some states is what a commit removes when it is absent.
    assert {"pending_pk", "pending_sk", "decided_at"} <= set(OPTIONAL_ATTRIBUTES)
    assert pending[TTL_ATTRIBUTE] == int((T0 + timedelta(minutes=30) + RETENTION).timestamp())


# An approval item as the first release wrote it: no groups, quorum, policy name,
# reminders, execution id or doorbell.
FIRST_RELEASE_ITEM: dict[str, Any] = {
    "pk": "APPROVAL#apr-old",
    "sk": "META",
    "id": "apr-old",
    "title": "Deploy api",
    "requester": "U0REQ",
    "approvers": ["U0A", "U0B"],
    "channel": "approvals",
    "status": "rejected",
    "created_at": "2026-01-05T09:00:00.000Z",
    "expires_at": "2026-01-05T10:00:00.000Z",
    "votes": {"U0A": {"decision": "reject", "at": "2026-01-05T09:10:00.000Z"}},
    "decided_by": "U0A",
    "version": 1,
}


def test_an_item_the_first_release_wrote_still_reads() -> None:
    approval = approval_from_item(FIRST_RELEASE_ITEM)
    assert approval.status is Status.REJECTED
    assert approval.policy == Policy(approvers=("U0A", "U0B"))
    assert approval.votes == (
        Vote(
            user="U0A",
            decision=Decision.REJECT,
            at=datetime(2026, 1, 5, 9, 10, tzinfo=UTC),
        ),
    )
    assert (approval.description, approval.fields, approval.reason) == ("", (), "")
    assert (approval.decided_at, approval.message, approval.execution_id) == (None, None, "")
    assert approval.doorbell == ""


def test_an_audit_event_reads_back_as_written_with_its_ref() -> None:
    event = AuditEvent(
        kind=AuditKind.VOTE_REFUSED,
        at=T0,
        actor="U0X",
        detail=Refused(why="you are not an approver", code="not_approver").detail(),
    )
    item = event_to_item("apr-c1", event, seq=1, ttl=123)
    back = event_from_item(item)
    assert back == event and back.ref == event.ref
    assert back.read(Refused) == Refused(why="you are not an approver", code="not_approver")
    assert item[TTL_ATTRIBUTE] == 123
    assert TTL_ATTRIBUTE not in event_to_item("apr-c1", event, seq=1, ttl=None)
    recorded = recorded_from_item(item)
    assert (recorded.approval_id, recorded.event) == ("apr-c1", event)
    # A listing continues from an event's history key: the key leads back to the item.
    assert event_key(item["hist_sk"]) == {k: item[k] for k in ("pk", "sk", "hist_pk", "hist_sk")}


def test_a_refusal_audited_before_codes_existed_reads_without_one() -> None:
    item = {
        "pk": "APPROVAL#apr-old",
        "sk": "AUDIT#2026-01-05T09:10:00.000Z#a1b2c3",
        "kind": "vote_refused",
        "at": "2026-01-05T09:10:00.000Z",
        "actor": "U0X",
        "detail": {"why": "you are not an approver of this request"},
    }
    event = event_from_item(item)
    assert event.ref == "a1b2c3"
    assert event.read(Refused) == Refused(why="you are not an approver of this request")
    assert event_json(event)["detail"] == {"why": "you are not an approver of this request"}


@pytest.mark.parametrize("missing", ["id", "title", "requester", "approvers", "status"])
def test_an_item_without_what_every_version_wrote_is_not_read_as_an_approval(
    missing: str,
) -> None:
    item = {k: v for k, v in FIRST_RELEASE_ITEM.items() if k != missing}
    with pytest.raises(KeyError):
        approval_from_item(item)
