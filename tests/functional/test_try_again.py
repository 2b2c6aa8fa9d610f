"""When a click is told "try again", and when it is told the refusal (no Java, no AWS).

The rule: a refusal is told exactly when it is audited, and "try again" only when a retry
can change the answer (the races kept winning, or a service failed before anything was
audited). Signed requests through the Function URL adapter, over the in-memory store with
store doubles that lose races or answers the way DynamoDB can (fakes, not mocks). A write
that keeps the rules' answer and only loses races ends in "try again": tests/unit/
test_service.py. Two audit writes that both go unanswered cannot be told apart from two
that failed; docs/architecture.md says what is told then.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from slack_sdk import WebClient

from signoff.errors import BackendError, ConflictError, RefusedError, UnansweredError
from signoff.local.stack import LambdaContext
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval, AuditEvent, Decision, Status
from signoff.service import MAX_ATTEMPTS, Approvals
from signoff.slack.app import build_app
from signoff.slack.request import handle_function_url
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import (
    block_actions_payload,
    payload_form,
    signed_event,
    view_submission_payload,
)


class LosesEveryRace(InMemoryApprovalStore):
    """Another writer gets in first on every commit; the last time it is U0A deciding."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def commit(self, before: Approval, after: Approval, events: Any, **kwargs: Any) -> None:
        if kwargs.get("voter") == "U0A":
            return super().commit(before, after, events, **kwargs)
        self.lost += 1
        if self.lost == MAX_ATTEMPTS:  # the race that kept winning was U0A's approval
            now: datetime = kwargs["now"]
            decided, decided_events = before.vote("U0A", Decision.APPROVE, now)
            super().commit(before, decided, decided_events, now=now, voter="U0A")
        raise ConflictError("someone else wrote first")


class LosesAnswers(InMemoryApprovalStore):
    """Writes fail as listed, one fault per write: "lost" (written, but the answer never
    came back: a read timeout), "failed" (not written: throttled) or "unwritten" (sent,
    unanswered, and not written). `commits` are the faults of commits, `records` those of
    single audit events."""

    def __init__(self, records: tuple[str, ...] = (), commits: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.records = list(records)
        self.commits = list(commits)

    @staticmethod
    def fail(fault: str | None, do: Any) -> None:
        if fault == "failed":
            raise BackendError("DynamoDB failed: ThrottlingException")
        if fault != "unwritten":
            do()
        if fault in ("lost", "unwritten"):
            raise UnansweredError("DynamoDB failed: Read timeout on endpoint URL")

    def record(self, approval_id: str, event: AuditEvent, expires_at: Any = None) -> None:
        fault = self.records.pop(0) if self.records else None
        self.fail(fault, lambda: super(LosesAnswers, self).record(approval_id, event, expires_at))

    def commit(self, before: Approval, after: Approval, events: Any, **kwargs: Any) -> None:
        fault = self.commits.pop(0) if self.commits else None
        self.fail(fault, lambda: super(LosesAnswers, self).commit(before, after, events, **kwargs))


def refusals(approvals: Approvals, approval_id: str) -> int:
    return Counter(e.kind.value for e in approvals.store.audit(approval_id))["vote_refused"]


def test_after_the_last_lost_race_a_decided_request_is_refused_not_try_again() -> None:
    store = LosesEveryRace()
    approvals = Approvals(store)
    approvals.open(start_request("apr-t1", approvers=("U0A", "U0B")))
    with pytest.raises(RefusedError, match="already approved"):
        approvals.decide("apr-t1", "U0B", Decision.APPROVE)
    assert store.lost == MAX_ATTEMPTS
    assert approvals.get("apr-t1").decided_by == "U0A"
    assert refusals(approvals, "apr-t1") == 1


# -- through the Slack listeners: what the person is told, against what is audited ------


CLICKS = ("approve", "reject", "reason")


def click(
    approvals: Approvals, slack: StandInServer, kind: str, user: str, approval_id: str
) -> str:
    """One signed click (or reason submitted) by `user`; the private answer it got."""
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    app = build_app(approvals, signing_secret=SIGNING_SECRET, client=client)
    if kind == "reason":
        body = payload_form(view_submission_payload(user, approval_id, "not now"))
    else:
        url = slack.standin.response_url("approvals", user)
        action = "signoff.approve" if kind == "approve" else "signoff.reject"
        body = payload_form(block_actions_payload(user, action, approval_id, url))
    before = len(slack.standin.conversation()["ephemerals"])
    result = handle_function_url(app, signed_event(body, SIGNING_SECRET), LambdaContext("t"))
    assert result["statusCode"] == 200
    if kind == "reason":
        answer = json.loads(result["body"]) if result.get("body") else {}
        return str(answer.get("errors", {}).get("reason", ""))
    told = slack.standin.conversation()["ephemerals"][before:]
    assert len(told) <= 1
    return str(told[0]["text"]) if told else ""


def said(text: str) -> str:
    if "try again" in text or "Reject again" in text:
        return "try again"
    if "not an approver" in text or "already approved" in text:
        return "refused"
    raise AssertionError(f"unexpected answer: {text!r}")


@pytest.mark.parametrize("kind", CLICKS)
def test_a_click_after_the_last_lost_race_is_told_the_refusal(
    slack: StandInServer, kind: str
) -> None:
    approvals = Approvals(LosesEveryRace())
    approvals.open(start_request("apr-t3", approvers=("U0A", "U0B")))
    if kind == "reject":  # the reject click only checks; the request is decided meanwhile
        approvals.decide("apr-t3", "U0A", Decision.APPROVE)
    text = click(approvals, slack, kind, "U0B", "apr-t3")
    assert said(text) == "refused" and "already approved" in text
    assert refusals(approvals, "apr-t3") == 1


@pytest.mark.parametrize("kind", CLICKS)
@pytest.mark.parametrize(
    ("faults", "told", "audited"),
    [
        (("lost",), "refused", 1),  # written, answer lost: it stands
        (("failed",), "refused", 1),  # not written: the second write lands
        (("unwritten",), "refused", 1),  # a 5xx, not written: the second write lands
        (("failed", "lost"), "refused", 1),
        (("lost", "failed"), "refused", 1),  # the first may stand: it did
        (("failed", "failed"), "try again", 0),  # nothing audited: a retry is honest
        (("unwritten", "unwritten"), "refused", 0),  # what is left (docs/architecture.md)
    ],
    ids=[
        "lost",
        "failed",
        "unwritten",
        "failed-then-lost",
        "lost-then-failed",
        "failed-twice",
        "unwritten-twice",
    ],
)
def test_a_refusal_is_told_exactly_when_it_is_audited(
    slack: StandInServer, kind: str, faults: tuple[str, ...], told: str, audited: int
) -> None:
    approvals = Approvals(LosesAnswers(records=faults))
    approvals.open(start_request("apr-t4"))
    text = click(approvals, slack, kind, "U0STRANGER", "apr-t4")
    assert said(text) == told, text
    assert refusals(approvals, "apr-t4") == audited
    assert approvals.get("apr-t4").status is Status.PENDING


@pytest.mark.parametrize(
    ("fault", "told", "voted"),
    [("lost", "", 1), ("unwritten", "try again", 0), ("failed", "try again", 0)],
    ids=["lost", "unwritten", "failed"],
)
def test_an_approve_whose_write_went_unanswered_is_told_what_the_record_says(
    slack: StandInServer, fault: str, told: str, voted: int
) -> None:
    """The vote's write was sent and its answer lost: the record is read once more. The
    vote stands (the winner sees the message change, nothing else) or it does not (try
    again, nothing recorded)."""
    approvals = Approvals(LosesAnswers(commits=(fault,)))
    approvals.open(start_request("apr-t5"))
    text = click(approvals, slack, "approve", "U0A", "apr-t5")
    assert (said(text) if text else "") == told, text
    kinds = Counter(e.kind.value for e in approvals.store.audit("apr-t5"))
    assert kinds["voted"] == voted and kinds["vote_refused"] == 0
    assert (approvals.get("apr-t5").status is Status.APPROVED) == bool(voted)
