"""Once-only notices across a crash between the send and the claim's finish.

The in-memory store stands in for DynamoDB (the contract tests hold both to the same
rules); a subclass makes one `finish_once` fail, as a process killed right after the
send would leave it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from signoff.errors import BackendError
from signoff.events import Topic
from signoff.memstore import InMemoryApprovalStore
from signoff.model import AuditEvent, Decision
from signoff.notify import Notifier
from signoff.service import Approvals
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request

LEASE = timedelta(seconds=60)


class FinishFailsOnce(InMemoryApprovalStore):
    """Loses the first `finish_once` of a key: the send happened, its record did not."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self._lose = key

    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None:
        if key == self._lose:
            self._lose = ""
            raise BackendError("the process died here")
        super().finish_once(approval_id, key, now, event)


def test_a_reply_sent_before_a_crash_is_found_not_sent_again(slack: StandInServer) -> None:
    now = [datetime.now(UTC)]
    store = FinishFailsOnce("vote:U0A")
    approvals = Approvals(store, clock=lambda: now[0])
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    notifier = Notifier(store, client, LEASE, clock=lambda: now[0])
    approvals.open(start_request("apr-o1"))
    notifier.handle(Topic.REQUESTED, "apr-o1")
    approvals.decide("apr-o1", "U0A", Decision.APPROVE)

    with pytest.raises(BackendError, match="died"):
        notifier.handle(Topic.DECIDED, "apr-o1")
    # Redelivered at once: the claim is still live, so this delivery fails to be retried.
    with pytest.raises(BackendError, match="another delivery"):
        notifier.handle(Topic.DECIDED, "apr-o1")
    # After the lease, the next delivery takes the claim over and looks in the thread.
    now[0] += LEASE + timedelta(seconds=1)
    notifier.handle(Topic.DECIDED, "apr-o1")
    notifier.handle(Topic.DECIDED, "apr-o1")

    ts = approvals.get("apr-o1").message.ts  # type: ignore[union-attr]
    thread = [m for m in slack.standin.conversation()["messages"] if m.get("thread_ts") == ts]
    keys = [m["metadata"]["event_payload"]["key"] for m in thread]
    assert keys == ["vote:U0A", "outcome"]
    calls = [c["method"] for c in slack.standin.conversation()["calls"]]
    assert "conversations.replies" in calls  # the takeover looked before sending


def test_a_vote_that_leaves_the_request_open_replies_once_and_tells_no_outcome(
    slack: StandInServer,
) -> None:
    """`voted` (published for a vote under a quorum): the vote's reply, nothing more."""
    from dataclasses import replace

    from signoff.model import Status

    store = InMemoryApprovalStore()
    approvals = Approvals(store)
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    notifier = Notifier(store, client, LEASE)
    approvals.open(start_request("apr-q", approvers=("U0A", "U0B")))
    notifier.handle(Topic.REQUESTED, "apr-q")
    before = approvals.get("apr-q")
    voted, events = before.vote("U0A", Decision.APPROVE, datetime.now(UTC))
    still_open = replace(voted, status=Status.PENDING, decided_by="", decided_at=None)
    store.commit(before, still_open, events[:1], now=datetime.now(UTC), voter="U0A")
    for _ in range(2):
        notifier.handle(Topic.VOTED, "apr-q")

    ts = approvals.get("apr-q").message.ts  # type: ignore[union-attr]
    messages = slack.standin.conversation()["messages"]
    thread = [m["metadata"]["event_payload"]["key"] for m in messages if m.get("thread_ts") == ts]
    assert thread == ["vote:U0A"]
    dms = [m["text"] for m in messages if m["channel"] == "DU0REQ"]
    assert len(dms) == 1 and "posted" in dms[0]  # no outcome told: there is none yet
    (request,) = [m for m in messages if m["ts"] == ts]
    # Rendered once for this version of the record: the redelivery renders nothing new.
    assert request["edits"] == 1 and '"actions"' in str(request["blocks"]).replace("'", '"')
