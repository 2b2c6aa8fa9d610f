"""The CLI's one time format and its lines about votes, pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from signoff import cli_views as views
from signoff.model import Approval, Decision, Status
from signoff.tally import tally
from tests.factories import start_request

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(seconds=30), "in 30 s"),
        (timedelta(minutes=42, seconds=59), "in 42 min"),
        (timedelta(hours=-3), "3 h ago"),
        (timedelta(hours=1, minutes=20), "in 1 h 20 min"),
        (timedelta(hours=-30, minutes=-5), "30 h ago"),
        (timedelta(days=3, hours=4), "in 3 d 4 h"),
        (timedelta(milliseconds=300), "now"),
    ],
)
def test_relative_times_read_as_people_say_them(delta: timedelta, said: str) -> None:
    assert views.ago(NOW + delta, NOW) == said


def test_when_is_local_time_with_its_zone_then_relative() -> None:
    berlin = timezone(timedelta(hours=1), "CET")
    assert (
        views.when(NOW + timedelta(minutes=42), NOW, berlin) == "2026-12-06 10:42 CET (in 42 min)"
    )
    assert views.when(None, NOW) == ""


def quorum() -> Approval:
    request = start_request(
        approvers=("alice", "bob", "carol"), min_approvals=2, timeout=timedelta(hours=1)
    )
    approval, _ = Approval.open(request, NOW, "approvals")
    return approval


def test_the_standing_line_says_progress_who_is_awaited_and_time_left() -> None:
    approval, _ = quorum().vote("alice", Decision.APPROVE, NOW + timedelta(minutes=2))
    line = views.standing(tally(approval), NOW + timedelta(minutes=32))
    assert line == "1 of 2 — waiting for bob, carol — 28 min left"


def test_a_closed_quorum_names_every_approver_and_quotes_every_reason_line() -> None:
    approval, _ = quorum().vote("alice", Decision.APPROVE, NOW, "one\ntwo")
    approval, _ = approval.vote("bob", Decision.APPROVE, NOW + timedelta(minutes=1))
    counted = tally(approval)
    assert views.outcome(counted) == "approved by alice, bob (2 of 2)"
    lines = list(views.vote_lines(counted, NOW + timedelta(minutes=3), UTC))
    assert lines == [
        "approved by alice 2026-12-06 09:00 UTC (3 min ago)",
        "  > one",
        "  > two",
        "approved by bob 2026-12-06 09:01 UTC (2 min ago) [decided it]",
    ]


def test_an_expiry_after_a_partial_quorum_says_who_approved() -> None:
    approval, _ = quorum().vote("alice", Decision.APPROVE, NOW)
    expired = replace(approval, status=Status.EXPIRED)
    assert views.outcome(tally(expired)) == "expired with 1 of 2 approvals (approved by alice)"
    nobody = replace(quorum(), status=Status.EXPIRED)
    assert "nobody voted" in views.outcome(tally(nobody))


def test_a_rejection_after_an_approval_names_both() -> None:
    approval, _ = quorum().vote("alice", Decision.APPROVE, NOW)
    approval, _ = approval.vote("bob", Decision.REJECT, NOW, "freeze")
    assert views.outcome(tally(approval)) == "rejected by bob; approved before: alice"
