"""What signoff says besides the card (`signoff.notices`): outcomes that name everyone who
decided, fallback texts that name the request, the person and the act, reminders for
those who must act, the escalation group only when it must act; golden files under
tests/golden/notices/ (`SIGNOFF_UPDATE_GOLDEN=1` rewrites them), validated as Block Kit."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from signoff import blocks, notices
from signoff.model import Approval, Decision, Status
from signoff.reports import Report, Reported, Stage
from signoff.slack.commands import help_answer, parse
from tests.slack_text import MRKDWN, of_kind, shown_as_typed
from tests.unit.test_blocks import longest_request
from tests.unit.test_golden import ENTITY, LINK, REASON, T0, T1, check_limits

GOLDEN = Path(__file__).parent.parent / "golden" / "notices"
TITLE = "Run migration 0042_*_backfill on *prod* <!channel> & co"


def quorum(**changes: Any) -> Approval:
    """A 2-of-3 (Alice, Bob, Carol) asked by Req, with an escalation to S0ONCALL."""
    request = replace(
        longest_request(),
        id="apr-quorum",
        title=TITLE,
        requester="U0REQ",
        approvers=("U0ALICE", "U0BOB", "U0CAROL"),
        min_approvals=2,
        escalate_after=timedelta(minutes=45),
        escalate_to="S0ONCALL",
        **changes,
    )
    return Approval.open(request, T0)[0]


def alice() -> Approval:
    return quorum().vote("U0ALICE", Decision.APPROVE, T1, "looks right\n*ship it*")[0]


def alice_and_bob() -> Approval:
    return alice().vote("U0BOB", Decision.APPROVE, T1 + timedelta(minutes=1))[0]


def expired_partway() -> Approval:
    partway = alice()
    return partway.expire(partway.expires_at)[0]


def rejected() -> Approval:
    return alice().vote("U0CAROL", Decision.REJECT, T1, REASON)[0]


def cancelled() -> Approval:
    return quorum().cancel("U0REQ", T1, "wrong ticket\nsee INC-42")[0]


def report(stage: Stage = Stage.SUCCEEDED) -> Report:
    found = Reported(
        key="run-123", stage=stage, url="https://ci.example/runs/123", note="*all* green\n<ok>"
    )
    return Report(reported=found, by="U0CI", at=T1 + timedelta(minutes=5))


def sent(notice: blocks.Notice) -> dict[str, Any]:
    return {"text": notice.text, "blocks": notice.blocks}


STATES: dict[str, Callable[[], Approval]] = {
    "pending": quorum,
    "one_of_two": alice,
    "approved_by_two": alice_and_bob,
    "expired_partway": expired_partway,
    "expired_unvoted": lambda: quorum().expire(quorum().expires_at)[0],
    "rejected": rejected,
    "cancelled": cancelled,
}
CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "card_texts": lambda: {name: notices.card_text(a()) for name, a in STATES.items()},
    "reply_vote_in_quorum": lambda: sent(notices.vote_notice(alice(), alice().votes[0])),
    "reply_outcome_approved_by_two": lambda: sent(notices.outcome_notice(alice_and_bob())),
    "reply_outcome_expired_partway": lambda: sent(notices.outcome_notice(expired_partway())),
    "reply_outcome_rejected": lambda: sent(notices.outcome_notice(rejected())),
    "reply_escalated": lambda: sent(notices.escalation_notice(alice(), 2)),
    "reply_escalation_failed": lambda: sent(
        notices.escalation_notice(alice(), 0, "the group S0ONCALL cannot be resolved <here>")
    ),
    "reply_report": lambda: sent(notices.report_notice(alice_and_bob(), report())),
    "card_reported": lambda: {
        "text": notices.card_text(alice_and_bob()),
        "blocks": notices.card(alice_and_bob(), [report(Stage.STARTED), report()]),
    },
    "dm_requested": lambda: sent(notices.requested_dm(quorum(), LINK)),
    "dm_outcome_approved_by_two": lambda: sent(notices.outcome_dm(alice_and_bob(), LINK)),
    "dm_outcome_expired_partway": lambda: sent(notices.outcome_dm(expired_partway(), LINK)),
    "dm_reminder": lambda: sent(notices.reminder_dm(alice(), "U0BOB", 2, LINK)),
    "snoozed": lambda: sent(notices.snoozed_notice(alice(), T1 + timedelta(hours=1))),
    "help_not_understood": lambda: help_answer(parse("approve apr-quorum").not_understood),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = CASES[name]()
    if "blocks" in rendered:
        check_limits(rendered)
        # The fallback text is Slack text: user text in it is escaped, every & an entity.
        assert not ENTITY.search(rendered["text"]), name
        for text in of_kind(rendered, MRKDWN):  # no user text where Slack parses mrkdwn
            assert TITLE not in text and "*all* green" not in text and "ship it" not in text
    path = GOLDEN / f"{name}.json"
    text = json.dumps(rendered, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("SIGNOFF_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with SIGNOFF_UPDATE_GOLDEN=1"
    assert json.loads(path.read_text()) == json.loads(text), f"{name} differs from {path.name}"


def test_every_notices_golden_file_is_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


def test_a_quorum_outcome_names_everyone_who_approved_everywhere() -> None:
    approval = alice_and_bob()
    said = [
        notices.card_text(approval),
        notices.outcome_notice(approval).text,
        notices.outcome_dm(approval, LINK).text,
    ]
    for text in said:
        assert "<@U0ALICE> and <@U0BOB>" in text and approval.id in text, text
    for notice in (notices.outcome_notice(approval), notices.outcome_dm(approval, LINK)):
        users = [e["user_id"] for e in _elements(notice.blocks) if e.get("type") == "user"]
        assert users[:2] == ["U0ALICE", "U0BOB"]


def test_an_expiry_after_a_partial_quorum_says_who_approved_and_that_it_fell_short() -> None:
    for text in (
        notices.card_text(expired_partway()),
        notices.outcome_notice(expired_partway()).text,
    ):
        assert "1 of 2 approvals (from <@U0ALICE>), short of its quorum" in text
        assert "nobody" not in text
    unvoted = quorum().expire(quorum().expires_at)[0]
    assert notices.card_text(unvoted).startswith("Expired, nobody voted before the deadline")


def test_only_the_vote_that_decides_goes_without_a_reply_of_its_own() -> None:
    single = Approval.open(replace(longest_request(), id="apr-one"), T0)[0]
    voter = single.policy.approvers[0]
    decided = single.vote(voter, Decision.APPROVE, T1)[0]
    assert notices.decisive(decided, decided.votes[0])  # its outcome reply says it
    both = alice_and_bob()
    assert [notices.decisive(both, v) for v in both.votes] == [False, True]
    assert not notices.decisive(alice(), alice().votes[0])  # still pending
    assert [notices.decisive(rejected(), v) for v in rejected().votes] == [False, True]


def test_the_escalation_group_is_mentioned_only_when_the_escalation_fires() -> None:
    posted = {"text": notices.card_text(alice()), "blocks": notices.card(alice())}
    assert "S0ONCALL" not in json.dumps(posted)  # not in the rule line: no early page
    fired = notices.escalation_notice(alice(), 2)
    assert "<!subteam^S0ONCALL>" in fired.text
    assert "<!subteam^S0ONCALL>" in json.dumps(fired.blocks)


def test_every_fallback_text_names_the_request_the_person_and_the_act() -> None:
    approval = alice()
    named = {
        notices.vote_notice(approval, approval.votes[0]).text: ("<@U0ALICE>", "approved"),
        notices.reminder_dm(approval, "U0BOB", 1, None).text: ("<@U0BOB>", "Reminder"),
        notices.report_notice(alice_and_bob(), report()).text: ("<@U0CI>", "succeeded"),
        notices.requested_dm(approval, None).text: ("<@U0ALICE>", "posted"),
        notices.escalation_notice(approval, 2).text: ("<!subteam^S0ONCALL>", "Escalated"),
    }
    for text, (person, act) in named.items():
        assert "apr-quorum" in text and "&lt;!channel&gt;" in text, text
        assert person in text and act in text, text
    assert notices.vote_notice(approval, approval.votes[0]).text == (
        "<@U0ALICE> approved — 1 of 2: Run migration 0042_*_backfill on *prod* "
        "&lt;!channel&gt; &amp; co (apr-quorum)"
    )


def test_a_reminder_carries_the_buttons_a_snooze_and_the_user_text_as_typed() -> None:
    dm = sent(notices.reminder_dm(alice(), "U0BOB", 2, LINK))
    assert shown_as_typed(dm, TITLE)
    (actions,) = [b for b in dm["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        blocks.APPROVE_ACTION,
        blocks.REJECT_ACTION,
        notices.SNOOZE_ACTION,
    ]


def test_a_report_is_shown_with_its_note_as_typed_and_its_run_labelled() -> None:
    card = {"blocks": notices.card(alice_and_bob(), [report()])}
    assert shown_as_typed(card, "*all* green\n<ok>")
    links = [e for e in _elements(card["blocks"]) if e.get("type") == "link"]
    assert {"type": "link", "url": "https://ci.example/runs/123", "text": "run #123"} in links
    assert notices.card(alice_and_bob()) == blocks.approval_message(alice_and_bob())
    assert alice_and_bob().status is Status.APPROVED


def _elements(found: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(found, list):
        for item in found:
            out += _elements(item)
    elif isinstance(found, dict):
        out.append(found)
        for value in found.values():
            out += _elements(value)
    return out
