"""The decision card's whole-message budget: kickoff refuses a request whose card could grow
past it, and no card of an accepted request, in any state it can reach, is past it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from signoff import blocks, model, notices
from signoff.binding import Binding, BindingKind
from signoff.cardtext import CARD_TEXT_BUDGET, SLACK_BLOCKS_TEXT, fullest_card, text_length
from signoff.ci import GateRef, Link
from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import ValidationError
from signoff.model import StartRequest, person_width
from signoff.reports import Report, Reported, Stage
from tests.card_shapes import fullest, largest_quorum, largest_request
from tests.unit.test_golden import check_limits

NAMED = tuple(f"person{n:02d}" + "n" * 56 for n in range(model.MAX_APPROVERS))
GROUPS = tuple(f"S{n:02d}" + "G" * 18 for n in range(model.MAX_GROUPS))
MEMBERS = tuple(f"W{n:03d}" + "M" * 60 for n in range(model.MAX_MEMBERS))
SHAPES: dict[str, dict[str, Any]] = {
    "one approval": {},
    "a 2-of-25": {"min_approvals": 2},
    "the largest quorum": {"min_approvals": largest_quorum()},
    "self-approval allowed": {
        "requester": "U0REQ",
        "approvers": ("U0REQ", "U0B", "U0C", "U0D", "U0E", "U0F"),
        "min_approvals": 5,
        "allow_self_approval": True,
    },
    "named people, not Slack ids": {"approvers": NAMED, "min_approvals": 3, "requester": "U0R"},
    "named people, self-approval": {
        "approvers": NAMED,
        "requester": NAMED[0],
        "min_approvals": 8,
        "allow_self_approval": True,
    },
    "groups of 500": {
        "approvers": ("U0A",),
        "approver_groups": GROUPS,
        "members": MEMBERS,
        "min_approvals": 4,
    },
    "an escalation and a policy": {
        "approvers": ("U0A", "U0B", "U0C"),
        "min_approvals": 2,
        "escalate_after": timedelta(minutes=45),
        "escalate_to": "S0ONCALL",
        "policy": "p" * 64,
    },
    "a gate's, bound and linked": {
        "approvers": ("U0A", "U0B"),
        "bindings": (
            Binding(kind=BindingKind.SHA, value="a" * 64),
            Binding(kind=BindingKind.DIGEST, value="sha256:" + "b" * 64),
            Binding(kind=BindingKind.PLAN, value="sha256:" + "c" * 64),
        ),
        "links": tuple(
            Link(name=f"{n}" + "l" * 74, url="https://ci.example.com/run") for n in range(5)
        ),
        "gate": GateRef(kind="codepipeline", target={"pipeline": "p"}),
        "reuse_for": timedelta(hours=1),
    },
}


def test_the_largest_request_fills_the_budget_and_one_character_more_is_refused() -> None:
    request = largest_request()
    assert fullest_card(request, model.MAX_REASON, person_width) == CARD_TEXT_BUDGET
    name, value = request.fields[-1]
    assert len(value) < model.MAX_FIELD_VALUE  # the field's own limit is not what refuses
    shorter = replace(request, fields=(*request.fields[:-1], (name, value[:-1])))
    assert fullest_card(shorter, model.MAX_REASON, person_width) == CARD_TEXT_BUDGET - 1
    with pytest.raises(ValidationError) as refused:
        replace(request, fields=(*request.fields[:-1], (name, value + "x")))
    said = str(refused.value)
    assert said.startswith("the request is too long for one Slack message")
    assert "its card would hold 10,001 characters of text, 1 over the 10,000" in said
    assert said.endswith("shorten the description or the fields by 1 characters")


def test_every_vote_the_quorum_allows_counts_against_the_card() -> None:
    quorum = largest_quorum()
    request = largest_request(min_approvals=quorum)
    with pytest.raises(ValidationError) as refused:
        replace(request, min_approvals=quorum + 1)
    said = str(refused.value)
    assert (
        f"with every vote it may get ({quorum + 1} approvals, each with a reason of up to " in said
    )
    assert said.endswith(f"ask for at most {quorum} approvals or shorten the text")
    # Short text with a quorum of 25: the quorum is what does not fit.
    with pytest.raises(ValidationError, match=r"ask for at most \d+ approvals"):
        StartRequest(
            id="apr-many",
            title="Deploy",
            requester="U0R",
            approvers=tuple(f"U0A{n:02d}" for n in range(25)),
            min_approvals=25,
            channel="c",
            timeout=timedelta(hours=1),
        )


def test_a_payload_past_the_budget_is_refused_as_it_is_read() -> None:
    # The local API and the workflow's input read a request through the codec: the same rule.
    assert request_from_payload(request_to_payload(largest_request())) == largest_request()
    over = request_to_payload(largest_request(min_approvals=largest_quorum()))
    over["min_approvals"] += 1
    with pytest.raises(ValidationError, match="too long for one Slack message"):
        request_from_payload(over)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("char", ["x", "&"])
def test_the_fullest_card_of_the_largest_request_fits_every_limit(shape: str, char: str) -> None:
    """Every state the card can reach with the most text on it (every vote with the longest
    reason, the outcome naming everyone): each block within its own limit, the whole message
    within the budget, and the bound kickoff used never below what was rendered."""
    request = largest_request(char, **SHAPES[shape])
    bound = fullest_card(request, model.MAX_REASON, person_width)
    assert bound <= CARD_TEXT_BUDGET
    reason = (char * model.MAX_REASON)[: model.MAX_REASON]
    sizes = []
    for state in fullest(request, reason):
        card = blocks.approval_message(state)
        check_limits({"blocks": card})
        sizes.append(text_length(card))
    assert max(sizes) <= bound <= CARD_TEXT_BUDGET
    # A close bound: kickoff refuses little that would have fitted.
    assert bound - max(sizes) <= 450, sizes


def test_text_is_counted_wherever_a_block_holds_it() -> None:
    card = [
        {"type": "header", "text": {"type": "plain_text", "text": "abc"}},
        {"type": "rich_text", "elements": [{"type": "text", "text": "de"}]},
        {"type": "actions", "elements": [{"type": "button", "text": {"text": "f"}, "value": "zz"}]},
    ]
    assert text_length(card) == 6


def test_the_pipelines_reports_take_only_the_room_the_card_has_left() -> None:
    """After approval a pipeline's reports go under the card: as many of the latest as the
    budget leaves room for, the rest counted (each is whole in the thread)."""
    quorum = largest_quorum()
    approved = fullest(largest_request(min_approvals=quorum))[2]
    assert approved.status is model.Status.APPROVED
    found = [
        Report(
            reported=Reported(
                key=f"k{n}",
                stage=Stage.SUCCEEDED,
                url=f"https://ci.example/runs/{n}",
                note="n" * 500,
            ),
            by="c" * 64,
            at=approved.created_at + timedelta(hours=n),
        )
        for n in range(12)
    ]
    every = [*blocks.approval_message(approved), notices.reports_block(found)]
    assert text_length(every) > SLACK_BLOCKS_TEXT  # all ten latest: Slack would refuse it
    card = notices.card(approved, found)
    assert text_length(card) <= CARD_TEXT_BUDGET
    check_limits({"blocks": card})
    shown = str(card[-1])
    assert "12 report(s) from the pipeline in the thread" in shown and runs(card) == []
    # With room, the latest ten, and the two before them counted.
    typical = fullest(largest_request(description=""))[0]
    short = [replace(r, reported=replace(r.reported, note="ok")) for r in found]
    roomy = notices.card(replace(typical, description="d"), short)[-1]
    assert "2 earlier report(s) in the thread" in str(roomy)
    assert runs(roomy) == [f"run #{n}" for n in range(2, 12)]


def runs(node: Any) -> list[str]:
    """The labels of the run links in a block, in order."""
    if isinstance(node, list):
        return [r for item in node for r in runs(item)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "link" else []
    return own + [r for v in node.values() for r in runs(v)]
