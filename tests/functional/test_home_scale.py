"""A Home tab costs what its person's first requests cost: read from their own inbox, the
first of each list and a count, never the whole pending index."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from signoff import messages
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval
from signoff.schema import InboxRole
from signoff.service import Approvals
from tests.factories import start_request

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class Reads(InMemoryApprovalStore):
    """The in-memory store, counting the approvals each read hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.handed: dict[str, int] = {"pending index": 0, "inbox": 0}

    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]:
        found = super().list_pending(limit, after)
        self.handed["pending index"] += len(found)
        return found

    def inbox(self, user: str, role: InboxRole, now: datetime, limit: int = 1000) -> list[Approval]:
        found = super().inbox(user, role, now, limit)
        self.handed["inbox"] += len(found)
        return found


class Slack:
    """A Web API client that keeps the views it was asked to publish."""

    def __init__(self) -> None:
        self.views: dict[str, dict[str, Any]] = {}

    def views_publish(self, *, user_id: str, view: dict[str, Any]) -> None:
        self.views[user_id] = view


def test_a_home_reads_its_persons_first_requests_whatever_else_is_pending() -> None:
    store = Reads()
    approvals = Approvals(store, clock=lambda: T0)
    for n in range(300):  # everybody else's
        approvals.open(start_request(f"apr-o{n:03d}", approvers=("U0BOB",), requester="U0CAROL"))
    for n in range(40):  # waiting for Alice's vote
        approvals.open(
            start_request(f"apr-a{n:03d}", approvers=("U0ALICE",), timeout=timedelta(hours=1))
        )
    slack = Slack()
    assert messages.publish_home(slack, approvals, "U0ALICE")  # type: ignore[arg-type]
    assert store.handed == {"pending index": 0, "inbox": 15}  # the first 15 only
    text = json.dumps(slack.views["U0ALICE"])
    assert "apr-a000" in text and "apr-a014" in text and "apr-a015" not in text
    assert "and 25 more" in text  # the count, from the index alone
    assert "apr-o" not in text
