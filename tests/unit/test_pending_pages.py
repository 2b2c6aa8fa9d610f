"""Pages of the pending list (`Approvals.pending_page`), as `/signoff list` and the Home tab
read them, over the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision
from signoff.service import Approvals
from tests.factories import start_request

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def service(count: int) -> Approvals:
    """`count` pending requests; apr-p000 is due first, each next one a minute later."""
    approvals = Approvals(InMemoryApprovalStore(), lambda: T0)
    for n in range(count):
        approvals.open(start_request(f"apr-p{n:03}", timeout=timedelta(minutes=30 + n)))
    return approvals


def read_all(approvals: Approvals, size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: str | None = ""
    while after is not None:
        page = approvals.pending_page(size, after)
        pages.append([a.id for a in page.approvals])
        after = page.next_page
    return pages


def test_pages_follow_the_deadlines_and_the_last_says_so() -> None:
    pages = read_all(service(25), 10)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for page in pages for i in page] == [f"apr-p{n:03}" for n in range(25)]


def test_a_list_that_ends_on_a_page_boundary_offers_no_empty_page() -> None:
    assert [len(p) for p in read_all(service(20), 10)] == [10, 10]
    assert read_all(service(0), 10) == [[]]


def test_a_decided_request_leaves_the_pages() -> None:
    approvals = service(3)
    approvals.decide("apr-p001", "U0A", Decision.APPROVE)
    assert read_all(approvals, 10) == [["apr-p000", "apr-p002"]]


def test_a_page_holds_at_least_one_approval() -> None:
    with pytest.raises(ValueError, match="at least one"):
        service(1).pending_page(0)


def test_what_waits_for_a_vote_is_read_past_the_first_hundred_up_to_the_limit() -> None:
    approvals = service(205)
    waiting, asked = approvals.pending_for("U0A")
    assert len(waiting) == 205 and asked == []
    assert [a.id for a in waiting] == [f"apr-p{n:03}" for n in range(205)]
    waiting, asked = approvals.pending_for("U0REQ", limit=150)
    assert waiting == [] and len(asked) == 150
