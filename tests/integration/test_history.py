"""History and audit export on DynamoDB Local: items read against items returned, and TTLs.

A few hundred approvals of every status, created over 45 days (so across a month boundary),
with their audit events. Every Query the store sends is counted through botocore's own event
hooks: DynamoDB's ScannedCount is what it read (and bills); the listing must return all of it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signoff.errors import NotFoundError
from signoff.local.dynamodb import local_client
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Decision,
    MessageUpdated,
    SlackRef,
    Status,
)
from signoff.schema import TABLE_SCHEMA, add_missing_indexes, create_table
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
RECORDS = 300
SPREAD = timedelta(days=45)
CYCLE = (Status.APPROVED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED, Status.PENDING)


@dataclass
class Reads:
    """What the store asked DynamoDB for, as botocore saw each call complete."""

    operations: list[str] = field(default_factory=list)
    scanned: int = 0
    returned: int = 0
    capacity: float = 0.0

    def __call__(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.operations.append(model.name)
        self.scanned += int(parsed.get("ScannedCount", 0))
        self.returned += int(parsed.get("Count", 0))
        self.capacity += float(parsed.get("ConsumedCapacity", {}).get("CapacityUnits", 0))


@dataclass
class Loaded:
    client: Any
    store: DynamoApprovalStore
    approvals: dict[str, Approval]
    events: dict[str, list[datetime]]  # each approval's audit event times

    def counting(self) -> Reads:
        reads = Reads()
        self.client.meta.events.register("after-call.dynamodb", reads)
        return reads

    def stop_counting(self, reads: Reads) -> None:
        self.client.meta.events.unregister("after-call.dynamodb", reads)


def _load(store: DynamoApprovalStore) -> tuple[dict[str, Approval], dict[str, list[datetime]]]:
    approvals: dict[str, Approval] = {}
    events: dict[str, list[datetime]] = {}
    for n in range(RECORDS):
        created = NOW - SPREAD * n / RECORDS - timedelta(minutes=1)
        status = CYCLE[n % len(CYCLE)]
        if status is Status.PENDING and n > 40:  # pending only among the recent ones
            status = Status.APPROVED
        approval_id = f"apr-h{n:04d}"
        approval, created_event = Approval.open(start_request(approval_id), created)
        assert store.create(approval, created_event)
        times = [created]
        step = created + timedelta(seconds=30)
        if n % 7 == 0:  # a refused click, audited
            refused = AuditEvent(
                kind=AuditKind.VOTE_REFUSED, at=step, actor="U0X", detail={"why": "not an approver"}
            )
            store.record(approval_id, refused, approval.expires_at)
            times.append(step)
        step += timedelta(seconds=30)
        if status is Status.APPROVED:
            after, new = approval.vote("U0A", Decision.APPROVE, step)
        elif status is Status.REJECTED:
            after, new = approval.vote("U0A", Decision.REJECT, step, "not now")
        elif status is Status.CANCELLED:
            after, new = approval.cancel("U0REQ", step)
        elif status is Status.EXPIRED:
            step = approval.expires_at
            after, new = approval.expire(step)
        else:
            after, new = approval, []
        if new:
            store.commit(approval, after, new, now=step)
            times += [e.at for e in new]
        approvals[approval_id] = after
        events[approval_id] = times
    return approvals, events


@pytest.fixture(scope="module")
def loaded(ddb_endpoint: str) -> Iterator[Loaded]:
    client = local_client(ddb_endpoint)
    name = f"hist-{secrets.token_hex(4)}"
    create_table(client, name)
    store = DynamoApprovalStore(client, name)
    approvals, events = _load(store)
    yield Loaded(client, store, approvals, events)
    client.delete_table(TableName=name)


def _service(loaded: Loaded) -> Approvals:
    return Approvals(loaded.store, clock=lambda: NOW)


def _all_pages(
    service: Approvals, status: Status | None, since: timedelta, limit: int
) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        listing = service.listing(status, since, limit, token)
        ids += [a.id for a in listing.approvals]
        if listing.next_page is None:
            return ids
        token = listing.next_page


@pytest.mark.parametrize(
    ("status", "since"),
    [(None, timedelta(days=7)), (None, timedelta(days=40)), (Status.REJECTED, timedelta(days=30))],
)
def test_a_listing_reads_only_what_it_returns(
    loaded: Loaded, status: Status | None, since: timedelta
) -> None:
    expected = sorted(
        (
            a
            for a in loaded.approvals.values()
            if a.created_at >= NOW - since and (status is None or a.status is status)
        ),
        key=lambda a: a.created_at,
        reverse=True,
    )
    assert len(expected) >= 12  # enough to need several pages, and a few months' worth
    reads = loaded.counting()
    try:
        ids = _all_pages(_service(loaded), status, since, limit=10)
    finally:
        loaded.stop_counting(reads)
    assert ids == [a.id for a in expected]
    assert set(reads.operations) == {"Query"}  # no Scan, no GetItem per row
    assert reads.scanned == reads.returned == len(ids)


def test_the_first_page_reads_one_page(loaded: Loaded) -> None:
    """The window holds many more than a page: only the page is read."""
    reads = loaded.counting()
    try:
        listing = _service(loaded).listing(None, timedelta(days=40), limit=25)
    finally:
        loaded.stop_counting(reads)
    assert len(listing.approvals) == 25 and listing.next_page is not None
    assert reads.scanned == 25
    assert reads.operations == ["Query"]  # the newest month holds a page


def test_audit_export_reads_only_what_it_returns(loaded: Loaded) -> None:
    since = timedelta(days=9)
    expected = sorted(
        t.isoformat()
        for times in loaded.events.values()
        for t in times
        if t >= NOW - since and t <= NOW
    )
    assert len(expected) > 100
    reads = loaded.counting()
    try:
        events = list(_service(loaded).audit_events(since))
    finally:
        loaded.stop_counting(reads)
    assert len(events) == len(expected)
    assert [r.event.at for r in events] == sorted(r.event.at for r in events)  # oldest first
    assert {r.event.kind for r in events} >= {"created", "vote_refused", "decided", "expired"}
    assert set(reads.operations) == {"Query"}
    assert reads.scanned == reads.returned == len(events)


def test_one_approvals_audit_is_one_query(loaded: Loaded) -> None:
    reads = loaded.counting()
    try:
        trail = _service(loaded).audit_trail("apr-h0035")
    finally:
        loaded.stop_counting(reads)
    assert [r.event.kind for r in trail] == ["created", "vote_refused", "voted", "decided"]
    assert all(r.approval_id == "apr-h0035" for r in trail)
    assert reads.operations == ["Query"] and reads.scanned == 4
    with pytest.raises(NotFoundError, match="apr-h9999"):
        _service(loaded).audit_trail("apr-h9999")


# --- TTL: audit items expire with their approval ------------------------------------------


def _partition(client: Any, table: str, approval_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"APPROVAL#{approval_id}"}},
    )["Items"]
    return items


def test_every_audit_item_carries_its_approvals_ttl(table: tuple[Any, str]) -> None:
    """Events written while pending, at the close, and after it: all expire with the approval."""
    client, name = table
    retention = timedelta(days=30)
    store = DynamoApprovalStore(client, name, retention)
    approvals = Approvals(store)
    opened = approvals.open(start_request("apr-ttl", approvers=("U0A", "U0B")))
    with pytest.raises(Exception, match="not an approver"):
        approvals.decide("apr-ttl", "U0X", Decision.APPROVE)  # refused: audited while pending
    store.set_message("apr-ttl", SlackRef(channel="C1", ts="1.0"), datetime.now(UTC))  # notified
    approvals.decide("apr-ttl", "U0A", Decision.APPROVE)  # voted, decided
    updated = MessageUpdated(status=Status.APPROVED).detail()
    store.record(  # after the close
        "apr-ttl",
        AuditEvent(
            kind=AuditKind.MESSAGE_UPDATED, at=datetime.now(UTC), actor="signoff", detail=updated
        ),
    )
    items = _partition(client, name, "apr-ttl")
    meta = next(i for i in items if i["sk"]["S"] == "META")
    expected = int((opened.expires_at + retention).timestamp())
    assert int(meta["ttl"]["N"]) == expected
    audit = [i for i in items if i["sk"]["S"].startswith("AUDIT#")]
    kinds = sorted(i["kind"]["S"] for i in audit)
    assert kinds == ["created", "decided", "message_updated", "notified", "vote_refused", "voted"]
    assert {int(i["ttl"]["N"]) for i in audit} == {expected}


def test_a_pending_approval_already_carries_the_ttl_it_keeps(table: tuple[Any, str]) -> None:
    client, name = table
    store = DynamoApprovalStore(client, name)
    opened = Approvals(store).open(start_request("apr-ttl-p"))
    items = _partition(client, name, "apr-ttl-p")
    assert len(items) == 2
    assert {int(i["ttl"]["N"]) for i in items} == {
        int((opened.expires_at + timedelta(days=90)).timestamp())
    }


def test_a_table_from_before_the_history_indexes_gains_them(ddb_endpoint: str) -> None:
    """What the local stack does at start-up with a home an earlier version made."""
    client = local_client(ddb_endpoint)
    name = f"old-{secrets.token_hex(4)}"
    new_keys = {"hist_pk", "hist_sk", "status_pk", "inbox_pk", "inbox_sk"}
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            a for a in TABLE_SCHEMA["AttributeDefinitions"] if a["AttributeName"] not in new_keys
        ],
        KeySchema=TABLE_SCHEMA["KeySchema"],
        GlobalSecondaryIndexes=[
            i for i in TABLE_SCHEMA["GlobalSecondaryIndexes"] if i["IndexName"] == "pending"
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        assert add_missing_indexes(client, name) == ["history", "status_history", "inbox"]
        assert add_missing_indexes(client, name) == []
        store = DynamoApprovalStore(client, name)
        Approvals(store, clock=lambda: NOW).open(start_request("apr-upgraded"))
        listing = Approvals(store, clock=lambda: NOW).listing(Status.PENDING, timedelta(hours=1))
        assert [a.id for a in listing.approvals] == ["apr-upgraded"]
        assert [a.id for a in store.list_history(None, NOW - SPREAD, NOW, 10).items] == [
            "apr-upgraded"
        ]
    finally:
        client.delete_table(TableName=name)
