"""How much text the decision card can come to, counted before anything is posted.

Slack refuses a message whose blocks carry too much text in all (`msg_blocks_too_long`).
The limit is undocumented: Slack's engineers gave "12,000 text characters with a buffer for
block containers" (slackapi/bolt-js#2509), a message of 11,341 characters of block text in
45 blocks was refused and one of 9,597 in 50 blocks posted (slackapi/bolt-js#2867). signoff
keeps every card within CARD_TEXT_BUDGET, counted as `text_length` counts (every `text`
string in the blocks), which leaves a sixth of the 12,000 for the containers of the card's
at most 16 blocks.

A card grows as the request lives: each vote adds its line and its reason. So kickoff
bounds the card at its fullest, every vote the quorum allows cast with the longest reason,
and refuses a request past the budget; nothing on the card is ever clipped. The bound is
arithmetic on the request (the domain renders nothing); tests/unit/test_cardtext.py renders
the fullest cards and checks the bound is never below what `signoff.blocks` produces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signoff.model import StartRequest

# The whole card's text, in characters as `text_length` counts them (see the module's doc).
CARD_TEXT_BUDGET = 10_000
# What Slack's engineers gave as the limit; the local Slack stand-in refuses past it.
SLACK_BLOCKS_TEXT = 12_000

# signoff's own words on the card, at most (tests/unit/test_cardtext.py renders the card
# in every state and finds none of them short): the status before the title, the origin
# line, the buttons and their confirmations (without the title) while pending, the
# tracker's count, escalation and outcome.
_HEADER_WORDS = 2  # "⏳ "
_ORIGIN_WORDS = 31  # "Requested by ", " · deadline ", " (", ") · "
_POLICY_WORDS = 10  # " · policy "
_GATE_WORDS = 18  # " through the ", " gate"
_ACTION_WORDS = 336  # Approve, its confirmation, Reject…, the ⋯ menu and its confirmation
_COUNT_WORDS = 18  # "24 of 25 approvals"
_ESCALATION_WORDS = len(" · the escalation failed: its group could not be resolved")
_WAITING_WORDS = 16 + 13  # "May still vote: ", " and 480 more"
_GROUP_WORDS = 14  # " (members of ", ")"
_OUTCOME_WORDS = 41 + 5  # "⌛ Expired", " ", " with 24 of 25 approvals, from ", " and "
_VOTE_WORDS = 12  # "✅ ", " approved "
_SELF_MARK = len(" (self-approval: the requester approved their own request)")
_BINDINGS_WORDS = 14  # "Approves only "
_REUSED_WORDS = len(" · Reused approval ") + 64  # and the id of the approval reused
WAITING_SHOWN = 20  # the people the tracker names among those who may still vote


def text_length(node: Any) -> int:
    """The characters of every `text` string in a payload's blocks: what the budget
    counts. Rich text and plain text go to Slack as typed (`&` is one character there)."""
    if isinstance(node, list):
        return sum(text_length(item) for item in node)
    if not isinstance(node, dict):
        return 0
    return sum(
        len(v) if k == "text" and isinstance(v, str) else text_length(v) for k, v in node.items()
    )


def fullest_card(request: StartRequest, reason: int, shown: Callable[[str], int]) -> int:
    """At most how many characters of text the request's card will ever carry (see _sizes)."""
    return _sizes(request, reason, shown)[0]


def _sizes(request: StartRequest, reason: int, shown: Callable[[str], int]) -> tuple[int, int]:
    """The card's text at its fullest, and what one more vote adds to it.

    At most how many characters of text the request's card will ever carry.

    `reason` is the longest reason a vote may carry; `shown(person)` how many characters a
    person takes on the card (none for a Slack user id, which is a mention element).
    The larger of the pending card (its buttons, the title again in the confirmation, one
    vote short of the quorum, who may still vote) and the closed one (every vote the quorum
    allows, each with a reason, and the outcome naming the approvers).
    """
    fields = sum(len(name) + len(value) + 1 for name, value in request.fields)
    common = (
        _HEADER_WORDS
        + len(request.title)
        + len(request.description)
        + fields
        + sum(len(link.name) for link in request.links)
        + _ORIGIN_WORDS
        + len(request.id)
        + shown(request.requester)
        + (_POLICY_WORDS + len(request.policy) if request.policy else 0)
        + (_GATE_WORDS + len(request.gate.kind) if request.gate is not None else 0)
        + _bindings(request)
        + (_REUSED_WORDS if request.reuse_for else 0)
    )
    voters = (*request.approvers, *request.members)
    if request.allow_self_approval:
        voters += (request.requester,)
    widest = max(map(shown, voters), default=0)
    votes = request.min_approvals
    per_vote = reason + _VOTE_WORDS + widest
    own_vote = _SELF_MARK if request.allow_self_approval else 0  # the requester's, once
    groups = [g for g in request.approver_groups if g != request.escalate_to]
    pending = (
        len(request.title)  # again, in the Approve confirmation
        + _ACTION_WORDS
        + _COUNT_WORDS
        + (_ESCALATION_WORDS if request.escalate_to else 0)
        + (votes - 1) * per_vote
        + own_vote
        + _WAITING_WORDS
        + WAITING_SHOWN * (widest + 2)
        + (_GROUP_WORDS + 2 * len(groups) if groups else 0)
    )
    # Closed: every vote, or all but one and a cancellation's reason, and the outcome
    # naming each approver (or the one who rejected or cancelled).
    closed = (
        votes * per_vote
        + own_vote
        + _OUTCOME_WORDS
        + votes * (widest + 2)
        + shown(request.requester)
    )
    return common + max(pending, closed), per_vote + widest + 2  # and its name in the outcome


def _bindings(request: StartRequest) -> int:
    if not request.bindings:
        return 0
    each = sum(len(b.kind.value) + 1 + len(b.value) for b in request.bindings)
    return _BINDINGS_WORDS + each + 2 * (len(request.bindings) - 1)


def card_problem(request: StartRequest, reason: int, shown: Callable[[str], int]) -> str | None:
    """Why the request's card could grow past what Slack posts, in a sentence that says by
    how much and what to shorten, or None."""
    size, per_vote = _sizes(request, reason, shown)
    over = size - CARD_TEXT_BUDGET
    if over <= 0:
        return None
    votes = request.min_approvals
    said = (
        f"the request is too long for one Slack message: with every vote it may get "
        f"({votes} approval{'s' if votes != 1 else ''}, each with a reason of up to {reason} "
        f"characters) its card would hold {size:,} characters of text, {over:,} over the "
        f"{CARD_TEXT_BUDGET:,} signoff keeps a card to (Slack refuses a message past about "
        f"{SLACK_BLOCKS_TEXT:,})"
    )
    typed = len(request.description) + sum(len(k) + len(v) for k, v in request.fields)
    fewer = votes - -(-over // per_vote)  # the quorum that fits with the text as it is
    if over <= typed:
        todo = f"shorten the description or the fields by {over:,} characters"
        return said + "; " + todo + (" or ask for fewer approvals" if votes > 1 else "")
    if fewer >= 1:
        return said + f"; ask for at most {fewer} approvals or shorten the text"
    return said + "; shorten the title, the description, the fields or the links"
