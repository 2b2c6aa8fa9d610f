"""Policies through slack_handler.app.handler: signed clicks, DynamoDB Local, the stand-in.

Requests are resolved as the workflow's first step resolves them (signoff.policy.resolve),
groups through the stand-in's usergroups.users.list; then real signed clicks decide.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

import slack_handler.app
from signoff import blocks, wiring
from signoff.model import SlackRef, StartRequest, Status
from signoff.policy import PolicyBook, SlackGroups, resolve
from signoff.refusals import Refusal, RefusalCode
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import (
    ResponseRecorder,
    block_actions,
    block_actions_payload,
    payload_form,
    signed_event,
    slash_command,
    view_submission_payload,
)

pytestmark = pytest.mark.integration

POLICIES = PolicyBook.parse(
    """
policies:
  self-ok:
    approvers: [U0REQ, U0A]
    allow_self_approval: true
  two-of-three:
    approvers: [U0A, U0B, U0C]
    min_approvals: 2
  dba:
    approver_groups: [S0DBA]
""",
    source="test",
)


@pytest.fixture
def responses() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.stop()


def kickoff(
    approvals: Approvals,
    store: DynamoApprovalStore,
    slack: StandInServer,
    request: StartRequest,
    book: PolicyBook = POLICIES,
) -> str:
    """Resolve and open the request, and post its message as the notifier would; → ts."""
    groups = SlackGroups(lambda: WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/"))
    approvals.open(resolve(request, book, groups))
    posted = slack.standin.api("chat.postMessage", BOT_TOKEN, {"channel": "approvals", "text": "x"})
    store.set_message(request.id, SlackRef(channel="approvals", ts=posted["ts"]), datetime.now(UTC))
    return str(posted["ts"])


def click(user: str, action: str, approval_id: str, responses: ResponseRecorder, key: str) -> str:
    """A signed click; returns the private answer ('' when none was needed)."""
    body = block_actions(user, f"signoff.{action}", approval_id, responses.url(key))
    result = slack_handler.app.handler(signed_event(body, SIGNING_SECRET), _context())
    assert result["statusCode"] == 200
    answers = responses.responses(key)
    assert len(answers) <= 1
    assert all(a["response_type"] == "ephemeral" for a in answers)
    return str(answers[0]["text"]) if answers else ""


def cancel(
    user: str, approval_id: str, responses: ResponseRecorder, key: str, slack: StandInServer
) -> str:
    """The overflow's "Cancel request…" chosen (a signed click with a trigger the stand-in
    issued) and, when the reason dialog opens, its signed submission with a reason; returns
    the private refusal ('' when the dialog opened and was submitted)."""
    opened = len(slack.standin.conversation()["views"])
    payload = block_actions_payload(
        user,
        blocks.CANCEL_ACTION,
        approval_id,
        responses.url(key),
        trigger_id=slack.standin.trigger(user),
        overflow=True,
    )
    result = slack_handler.app.handler(
        signed_event(payload_form(payload), SIGNING_SECRET), _context()
    )
    assert result["statusCode"] == 200
    answers = responses.responses(key)
    assert len(answers) <= 1
    assert all(a["response_type"] == "ephemeral" for a in answers)
    views = slack.standin.conversation()["views"]
    if answers:  # refused: told privately, and no dialog opened
        assert len(views) == opened
        return str(answers[0]["text"])
    assert len(views) == opened + 1
    dialog = views[-1]["view"]
    assert (dialog["callback_id"], dialog["private_metadata"]) == (blocks.CANCEL_VIEW, approval_id)
    submit = payload_form(
        view_submission_payload(user, approval_id, "not needed after all", blocks.CANCEL_VIEW)
    )
    result = slack_handler.app.handler(signed_event(submit, SIGNING_SECRET), _context())
    assert result["statusCode"] == 200 and not result.get("body")
    return ""


def _context() -> Any:
    from signoff.local.stack import LambdaContext

    return LambdaContext("signoff-test")


def kinds(store: DynamoApprovalStore, approval_id: str) -> list[str]:
    return [e.kind for e in store.audit(approval_id)]


def test_the_requesters_own_approve_is_refused_by_default_and_accepted_where_allowed(
    lambda_env, approvals, store, slack, responses
) -> None:
    kickoff(approvals, store, slack, start_request("apr-adhoc", approvers=("U0REQ", "U0A")))
    said = click("U0REQ", "approve", "apr-adhoc", responses, "a")
    assert "(apr-adhoc) is your own request, and self-approval is off for it" in said
    assert "not an approver" not in said
    assert store.get("apr-adhoc").status is Status.PENDING
    assert kinds(store, "apr-adhoc")[-1] == "vote_refused"

    kickoff(approvals, store, slack, start_request("apr-selfok", approvers=(), policy="self-ok"))
    assert click("U0REQ", "approve", "apr-selfok", responses, "b") == ""
    approval = store.get("apr-selfok")
    assert approval.status is Status.APPROVED and approval.decided_by == "U0REQ"


def test_two_of_three_needs_two_distinct_approvers(
    lambda_env, approvals, store, slack, responses
) -> None:
    request = start_request("apr-q", approvers=(), policy="two-of-three")
    kickoff(approvals, store, slack, request)
    assert click("U0A", "approve", "apr-q", responses, "a1") == ""
    assert store.get("apr-q").status is Status.PENDING
    # The same person again does not count: told privately, nothing written.
    assert click("U0A", "approve", "apr-q", responses, "a2") == "Your approval is already recorded."
    assert click("U0X", "approve", "apr-q", responses, "x").startswith(
        "Your approval was not recorded: you are not an approver"
    )
    pending = store.get("apr-q")
    assert (pending.status, pending.approved_by, pending.version) == (
        Status.PENDING,
        ("U0A",),
        3,  # opened, message posted, one vote
    )
    assert click("U0B", "approve", "apr-q", responses, "b") == ""
    approved = store.get("apr-q")
    assert approved.status is Status.APPROVED and approved.approved_by == ("U0A", "U0B")
    assert Counter(kinds(store, "apr-q")) >= Counter(voted=2, decided=1, vote_refused=1)


def test_changing_a_vote_is_refused_and_one_reject_ends_the_request(
    lambda_env, approvals, store, slack, responses
) -> None:
    kickoff(approvals, store, slack, start_request("apr-r", approvers=(), policy="two-of-three"))
    assert click("U0A", "approve", "apr-r", responses, "a") == ""
    changed = click("U0A", "reject", "apr-r", responses, "a2")
    assert (
        "already approved \u201cDeploy api\u201d (apr-r), and a vote cannot be changed" in changed
    )
    submit = payload_form(view_submission_payload("U0C", "apr-r", "not during the freeze"))
    result = slack_handler.app.handler(signed_event(submit, SIGNING_SECRET), _context())
    assert result["statusCode"] == 200 and not result.get("body")
    rejected = store.get("apr-r")
    assert rejected.status is Status.REJECTED and rejected.decided_by == "U0C"


def test_a_group_member_may_approve_and_a_non_member_may_not(
    lambda_env, approvals, store, slack, responses
) -> None:
    slack.standin.define_group("S0DBA", ["U0ALICE", "U0BOB"])
    kickoff(approvals, store, slack, start_request("apr-g", approvers=(), policy="dba"))
    assert store.get("apr-g").policy.approvers == ("U0ALICE", "U0BOB")
    said = click("U0MALLORY", "approve", "apr-g", responses, "m")
    assert "you are not an approver" in said
    assert kinds(store, "apr-g")[-1] == "vote_refused"
    assert click("U0BOB", "approve", "apr-g", responses, "b") == ""
    assert store.get("apr-g").status is Status.APPROVED


def test_cancel_by_a_stranger_is_refused_privately_and_by_the_requester_accepted(
    lambda_env, approvals, store, slack, responses
) -> None:
    kickoff(approvals, store, slack, start_request("apr-c"))
    said = cancel("U0A", "apr-c", responses, "s", slack)  # an approver is no admin
    assert said == (
        "The request was not cancelled: only the requester (U0REQ) or an admin can cancel"
        " \u201cDeploy api\u201d (apr-c): ask them."
    )
    assert store.get("apr-c").status is Status.PENDING
    assert kinds(store, "apr-c")[-1] == "cancel_refused"
    assert cancel("U0REQ", "apr-c", responses, "r", slack) == ""
    cancelled = store.get("apr-c")
    assert cancelled.status is Status.CANCELLED and cancelled.decided_by == "U0REQ"


def test_an_admin_named_in_the_policy_file_may_cancel(
    lambda_env, approvals, store, slack, responses, tmp_path: Path, monkeypatch
) -> None:
    document = tmp_path / "policies.yaml"
    document.write_text("admins: [U0BOSS]\n")
    monkeypatch.setenv("SIGNOFF_POLICIES_FILE", str(document))
    wiring.reset()
    kickoff(approvals, store, slack, start_request("apr-adm"))
    assert cancel("U0BOSS", "apr-adm", responses, "b", slack) == ""
    assert store.get("apr-adm").status is Status.CANCELLED


def test_a_broken_policy_file_refuses_a_strangers_cancel_privately_and_audits_it(
    lambda_env, approvals, store, slack, responses, tmp_path: Path, monkeypatch
) -> None:
    document = tmp_path / "policies.yaml"
    # Edited into a broken state after the stack started (it refuses to start on one).
    document.write_text("admins: [U0BOSS, U0BOSS]\n")
    monkeypatch.setenv("SIGNOFF_POLICIES_FILE", str(document))
    wiring.reset()
    kickoff(approvals, store, slack, start_request("apr-broken"))
    said = cancel("U0BOSS", "apr-broken", responses, "b", slack)
    assert said == f"The request was not cancelled: {Refusal(RefusalCode.POLICIES_UNREADABLE)}."
    assert store.get("apr-broken").status is Status.PENDING
    refused = store.audit("apr-broken")[-1]
    assert (refused.kind, refused.actor) == ("cancel_refused", "U0BOSS")
    assert cancel("U0REQ", "apr-broken", responses, "r", slack) == ""  # needs no admins
    assert store.get("apr-broken").status is Status.CANCELLED


# -- 20 approvers at the same moment on a 2-of-20 request -------------------------------

RACERS = tuple(f"U0APR{i:02d}" for i in range(20))


def test_20_simultaneous_approvers_on_a_2_of_20_request_leave_exactly_two_votes(
    lambda_env, approvals, store, slack, responses, lambda_context
) -> None:
    kickoff(
        approvals,
        store,
        slack,
        start_request("apr-race2", approvers=RACERS, min_approvals=2),
        PolicyBook(),
    )
    warm = slack_handler.app.handler(
        signed_event(slash_command("U0X", "help"), SIGNING_SECRET), lambda_context
    )
    assert warm["statusCode"] == 200
    events = [
        signed_event(
            payload_form(
                block_actions_payload(user, "signoff.approve", "apr-race2", responses.url(user))
            ),
            SIGNING_SECRET,
        )
        for user in RACERS
    ]
    barrier = threading.Barrier(len(events))
    codes: list[int] = []

    def send(event: dict[str, Any]) -> None:
        barrier.wait()
        codes.append(slack_handler.app.handler(event, lambda_context)["statusCode"])

    threads = [threading.Thread(target=send, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == [200] * 20
    time.sleep(0.3)  # the last private answers in flight

    approval = store.get("apr-race2")
    audit = Counter(kinds(store, "apr-race2"))
    outcomes: Counter[str] = Counter()
    busy: list[str] = []
    for user in RACERS:
        answers = responses.responses(user)
        assert len(answers) <= 1 and all(a["response_type"] == "ephemeral" for a in answers)
        outcome = classify(answers[0]["text"] if answers else "")
        if outcome == "accepted":
            assert user in approval.approved_by, user  # silence means the vote stands
        elif outcome == "busy":
            busy.append(user)
        outcomes[outcome] += 1
    print(f"\n20 approvers at once on 2 of 20: {dict(outcomes)}; audit {dict(audit)}")

    # One consistent state: the votes on the record are exactly the votes audited, never
    # more than the quorum needed, and the request is approved exactly when it has two.
    assert len(approval.votes) <= 2
    assert audit["voted"] == len(approval.votes)
    assert (approval.status is Status.APPROVED) == (len(approval.votes) == 2)
    assert audit["decided"] == (1 if approval.status is Status.APPROVED else 0)
    assert outcomes["accepted"] <= len(approval.votes)
    assert sum(outcomes.values()) == 20  # every click was answered, privately or by the write
    assert audit["vote_refused"] == outcomes["refused"]

    # Those told "try again" (a read that timed out on a loaded machine) click again.
    again: Counter[str] = Counter()
    for n, user in enumerate(busy):
        text = click(user, "approve", "apr-race2", responses, f"{user}-again{n}")
        again[classify(text)] += 1
    print(f"their second clicks: {dict(again)}")
    final = store.get("apr-race2")
    final_audit = Counter(kinds(store, "apr-race2"))
    if busy:
        assert final.status is Status.APPROVED
    assert len(final.votes) == 2 and len(final.approved_by) == 2
    assert final.decided_by == final.approved_by[-1]
    assert (final_audit["voted"], final_audit["decided"]) == (2, 1)


def classify(text: str) -> str:
    if not text or "already recorded" in text:
        return "accepted"
    if "already approved" in text:
        return "refused"
    if "just now" in text:
        return "busy"  # a read or write timed out under the load: told to try again
    raise AssertionError(f"unexpected answer: {text!r}")
