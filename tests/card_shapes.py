"""Requests at the edge of what kickoff accepts, now that the card as a whole has a budget.

Each text has its own limit (the title 148, the description 2,900, a field's value 1,900),
and the card all together must stay within `cardtext.CARD_TEXT_BUDGET` with every vote the
quorum allows cast with the longest reason. `largest_request` fills that budget exactly:
the title at its limit, then the description, then the fields, as far as the room goes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from signoff import model
from signoff.cardtext import CARD_TEXT_BUDGET, fullest_card
from signoff.errors import ValidationError
from signoff.model import Approval, Decision, StartRequest, person_width
from signoff.text import slack_length

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def text(limit: int, char: str = "x") -> str:
    """`limit` characters as Slack's per-text limits count them (`&` counts 5)."""
    width = slack_length(char)
    return char * (limit // width) + "x" * (limit % width)


def room(request: StartRequest) -> int:
    """How many more characters of text the request's card can take."""
    return CARD_TEXT_BUDGET - fullest_card(request, model.MAX_REASON, person_width)


def largest_request(char: str = "x", **shape: Any) -> StartRequest:
    """The request that fills the budget to its last character: `shape` sets the rest
    (the quorum, approvers, groups, links), the title is at its limit, and what room is
    left goes to the description, then to ten fields with names at their limit."""
    base: dict[str, Any] = {
        "id": "apr-" + "z" * 60,
        "title": text(model.MAX_TITLE, char),
        "requester": "R" * 64,
        "approvers": tuple(f"W{n:02d}" + "A" * 61 for n in range(model.MAX_APPROVERS)),
        "channel": "c" * 80,
        "timeout": timedelta(days=7),
    }
    request = StartRequest(**{**base, **shape})
    left = room(request)
    assert left >= 0, f"the shape alone is {-left} over the budget"
    description = min(left, model.MAX_DESCRIPTION, len(text(model.MAX_DESCRIPTION, char)))
    request = replace(request, description=text(description, char)[:description])
    fields: list[tuple[str, str]] = []
    for n in range(model.MAX_FIELDS):
        left = room(request) - model.MAX_FIELD_KEY - 1  # the name and its newline
        if left <= 0:
            break
        value = text(model.MAX_FIELD_VALUE, char)[:left]
        fields.append((text(model.MAX_FIELD_KEY - 2) + f"{n:02d}", value))
        request = replace(request, fields=tuple(fields))
    return request


def fullest(request: StartRequest, reason: str = "x" * model.MAX_REASON) -> list[Approval]:
    """The request's card in every state it can reach with the most text on it: pending one
    vote short of the quorum, then approved, rejected, cancelled or expired from there, and
    the escalation fired; every vote carries `reason`, the requester's first where allowed
    (its self-approval is marked)."""
    opened = Approval.open(request, T0)[0]
    voters = [a for a in opened.policy.approvers if a != request.requester]
    voters.sort(key=person_width, reverse=True)
    if request.allow_self_approval:
        voters.insert(0, request.requester)
    at = T0
    pending = opened
    for voter in voters[: request.min_approvals - 1]:
        at += timedelta(minutes=1)
        pending = pending.vote(voter, Decision.APPROVE, at, reason)[0]
    last = voters[request.min_approvals - 1]
    states = [
        opened,
        pending,
        pending.vote(last, Decision.APPROVE, at, reason)[0],
        pending.vote(last, Decision.REJECT, at, reason)[0],
        pending.cancel(request.requester, at, reason)[0],
        pending.expire(pending.expires_at)[0],
    ]
    if opened.policy.escalate_to:
        states.append(pending.escalate(("U0ONCALL1", "U0ONCALL2"), at)[0])
        states.append(pending.escalate((), at, "no such group")[0])
    return states


def largest_quorum(char: str = "x", **shape: Any) -> int:
    """The most approvals a request of `shape` (with its title at its limit and no other
    text) may ask for with every vote's reason at its longest."""
    quorum = model.MAX_APPROVERS
    while quorum > 1:
        try:
            largest_request(char, **shape, min_approvals=quorum)
        except (ValidationError, AssertionError):
            quorum -= 1
        else:
            break
    return quorum
