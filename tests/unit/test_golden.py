"""Golden Block Kit: every message, modal and Home state signoff sends, at the longest
input kickoff accepts, compared with JSON files under tests/golden/ and validated with
slack-sdk's Block Kit models.

After an intended change: `SIGNOFF_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/unit/test_golden.py`, then review the diff of tests/golden/.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from signoff import blocks, messages
from signoff.binding import Binding, BindingKind
from signoff.cardtext import CARD_TEXT_BUDGET, text_length
from signoff.ci import GateRef, Link
from signoff.model import Approval, Decision, StartRequest, Status
from signoff.schema import pending_cursor
from signoff.text import escape
from tests.card_shapes import largest_quorum, largest_request
from tests.slack_text import MRKDWN, of_kind, shown_as_typed
from tests.unit.test_blocks import longest_request

GOLDEN = Path(__file__).parent.parent / "golden"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
LINK = "https://signoff-local.slack.com/archives/C0APPROVALS/p1795000000000100"
REASON = "&" * 500  # the longest reason the reject dialog takes, escaped the longest


def longest(n: int = 0) -> Approval:
    request = longest_request()
    approval_id = f"apr-{n:02d}" + "z" * 58
    return Approval.open(replace(request, id=approval_id), T0)[0]


def largest() -> Approval:
    """The largest card kickoff accepts: 25 named approvers and 10 groups of 500 members in
    all, the largest quorum the card's budget allows, its text filling the rest of the
    budget, and every approval but the last given with the longest reason."""
    shape: dict[str, Any] = {
        "approver_groups": tuple(f"S{n:02d}" + "G" * 18 for n in range(10)),
        "members": tuple(f"W{n:03d}" + "M" * 60 for n in range(500)),
    }
    quorum = largest_quorum("&", **shape)
    request = replace(
        largest_request("&", **shape, min_approvals=quorum), id="apr-largest" + "z" * 53
    )
    approval = Approval.open(request, T0)[0]
    for n, voter in enumerate(approval.policy.approvers[: quorum - 1]):
        approval = approval.vote(voter, Decision.APPROVE, T1 + timedelta(seconds=n), REASON)[0]
    return approval


def escalating() -> Approval:
    """A 2-of-3 with a policy's escalation, one approval in."""
    request = replace(
        longest_request(),
        id="apr-escalating",
        approvers=("U0ALICE", "U0BOB", "U0CAROL"),
        min_approvals=2,
        escalate_after=timedelta(minutes=45),
        escalate_to="S0ONCALL",
    )
    approval = Approval.open(request, T0)[0]
    return approval.vote("U0ALICE", Decision.APPROVE, T1)[0]


def bound_and_linked() -> Approval:
    """A gate's request: bound to a commit, an image and a plan, with five links whose
    names are at their limit."""
    request = replace(
        longest_request(),
        id="apr-bound",
        bindings=(
            Binding(kind=BindingKind.SHA, value="a" * 64),
            Binding(kind=BindingKind.DIGEST, value="sha256:" + "b" * 64),
            Binding(kind=BindingKind.PLAN, value="sha256:" + "c" * 64),
        ),
        links=tuple(
            Link(name=f"{n}" + "&" * 74, url=f"https://ci.example.com/run/{n}?a=1&b=2")
            for n in range(5)
        ),
        gate=GateRef(kind="github", target={"repository": "acme/api"}),
    )
    return Approval.open(request, T0)[0]


def outcomes() -> dict[str, Approval]:
    pending = longest()
    approver = pending.policy.approvers[0]
    return {
        "pending": pending,
        "approved": pending.vote(approver, Decision.APPROVE, T1)[0],
        "rejected": pending.vote(approver, Decision.REJECT, T1, REASON)[0],
        "expired": pending.expire(pending.expires_at)[0],
        "cancelled": pending.cancel(pending.requester, T1, REASON)[0],
    }


def message(text: str, message_blocks: blocks.Blocks) -> dict[str, Any]:
    return {"text": text, "blocks": message_blocks}


def notice(n: blocks.Notice) -> dict[str, Any]:
    return message(n.text, n.blocks)


def rendered_with(build: Callable[[Approval], blocks.Blocks], a: Approval) -> dict[str, Any]:
    return message(blocks.fallback_text(a), build(a))


def notice_of(build: Callable[[Approval], blocks.Notice], a: Approval) -> dict[str, Any]:
    return notice(build(a))


def failure_dm(a: Approval, error: str) -> dict[str, Any]:
    return notice(blocks.slack_failure_dm(a, error, messages.failure_advice(a, error)))


def cases() -> dict[str, Callable[[], dict[str, Any]]]:
    states = outcomes()
    many = [longest(n) for n in range(20)]
    rejected = states["rejected"]
    vote = rejected.votes[0]
    found: dict[str, Callable[[], dict[str, Any]]] = {}
    for name, approval in states.items():
        found[f"request_{name}"] = partial(rendered_with, blocks.approval_message, approval)
        found[f"show_{name}"] = partial(rendered_with, blocks.show_blocks, approval)
    big, partway = largest(), escalating()
    fired = partway.escalate(["U0DAN"], T0 + timedelta(minutes=45))[0]
    quorum_states = {
        "largest_pending": big,
        "largest_rejected": big.vote(big.policy.approvers[24], Decision.REJECT, T1, REASON)[0],
        "largest_expired": big.expire(big.expires_at)[0],
        "escalation_due": partway,
        "escalated": fired,
        "quorum_approved": fired.vote("U0BOB", Decision.APPROVE, T1)[0],
        "bound_linked": bound_and_linked(),
    }
    for name, approval in quorum_states.items():
        found[f"request_{name}"] = partial(rendered_with, blocks.approval_message, approval)
    found.update(
        {
            "reject_modal": lambda: blocks.reject_modal(states["pending"]),
            "cancel_modal": lambda: blocks.cancel_modal(states["pending"]),
            "mine_with_links": lambda: message(
                "2 waiting", blocks.mine_list([big, partway], {big.id: LINK, partway.id: LINK})
            ),
            "list_first_page": lambda: message(
                "10 pending approval(s)",
                blocks.pending_page(many[:10], pending_cursor(many[9])),
            ),
            "list_last_page": lambda: message(
                "2 more pending approval(s)", blocks.pending_page(many[10:12], None, first=False)
            ),
            "list_empty": lambda: message("0", blocks.pending_page([], None)),
            "mine": lambda: message("20 waiting", blocks.mine_list(many)),
            "mine_empty": lambda: message("0 waiting", blocks.mine_list([])),
            "help": lambda: {"text": blocks.HELP_TEXT},
            "home": lambda: blocks.home_view(many, many),
            "home_empty": lambda: blocks.home_view([], []),
            "home_refused": lambda: blocks.home_view(
                many[:3], [], "Your approval was not recorded: this request is already approved."
            ),
            "reply_vote_approve": lambda: notice(blocks.vote_notice(states["approved"].votes[0])),
            "reply_vote_reject": lambda: notice(blocks.vote_notice(vote)),
            **{
                f"reply_outcome_{name}": partial(notice_of, blocks.outcome_notice, a)
                for name, a in states.items()
                if a.status is not Status.PENDING
            },
            "dm_requested": lambda: notice(blocks.requested_dm(states["pending"], LINK)),
            "dm_requested_no_link": lambda: notice(blocks.requested_dm(states["pending"], None)),
            **{
                f"dm_outcome_{name}": partial(notice_of, partial(blocks.outcome_dm, link=LINK), a)
                for name, a in states.items()
                if a.status is not Status.PENDING
            },
            **{
                f"dm_slack_failed_{error}": partial(failure_dm, states["pending"], error)
                for error in ("not_in_channel", "channel_not_found", "is_archived")
            },
        }
    )
    return found


CASES = cases()

# Slack's documented limits (Block Kit reference), and the stricter ones signoff keeps.
MESSAGE_BLOCKS, VIEW_BLOCKS, TEXT, FIELD, CONTEXT_TEXT, CONFIRM_TEXT = (
    50,
    100,
    3000,
    2000,
    3000,
    300,
)
HEADER, BUTTON_TEXT, LABEL, ACTIONS, OVERFLOW_OPTIONS, CONFIRM_TITLE, MODAL_TITLE = (
    150,
    75,
    75,
    10,  # Slack allows 25 in an actions block; signoff keeps to 10
    5,
    100,
    24,
)
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def _elements(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    """Every interactive element: in actions blocks, and sections' accessories."""
    found: list[dict[str, Any]] = []
    for block in rendered.get("blocks", []):
        if block.get("type") == "actions":
            found += block["elements"]
        if block.get("accessory"):
            found.append(block["accessory"])
    return found


def check_block_limits(block: dict[str, Any]) -> None:
    parsed = Block.parse(block)
    assert parsed is not None
    parsed.validate_json()
    if block["type"] == "header":
        assert len(block["text"]["text"]) <= HEADER
    if block["type"] == "actions":
        assert len(block["elements"]) <= ACTIONS
    if block.get("text"):
        assert len(block["text"]["text"]) <= TEXT
    for field in block.get("fields", []):
        assert len(field["text"]) <= FIELD
    for element in block.get("elements", []):
        if element.get("type") == "mrkdwn":
            assert len(element["text"]) <= CONTEXT_TEXT


def check_limits(rendered: dict[str, Any]) -> None:
    is_view = rendered.get("type") in ("modal", "home")
    if is_view:
        View(**rendered).validate_json()
    if rendered.get("type") == "modal":
        assert len(rendered["title"]["text"]) <= MODAL_TITLE
    for block in rendered.get("blocks", []):
        check_block_limits(block)
    for element in _elements(rendered):
        if element["type"] == "button":
            assert len(element["text"]["text"]) <= BUTTON_TEXT
        if element.get("accessibility_label"):
            assert len(element["accessibility_label"]) <= LABEL
        if element["type"] == "overflow":
            assert 1 <= len(element["options"]) <= OVERFLOW_OPTIONS
        if element.get("confirm"):
            assert len(element["confirm"]["title"]["text"]) <= CONFIRM_TITLE
            assert len(element["confirm"]["text"]["text"]) <= CONFIRM_TEXT
            assert element["confirm"]["text"]["type"] == "plain_text"
        if element.get("value") is not None:
            assert len(element["value"]) <= 2000
    limit = VIEW_BLOCKS if rendered.get("type") == "home" else MESSAGE_BLOCKS
    assert len(rendered.get("blocks", [])) <= limit


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = CASES[name]()
    check_limits(rendered)
    # What Slack parses as mrkdwn holds no raw markup (every & starts an entity), nor does
    # the fallback text; plain_text and rich text are shown as they are.
    for text in [*of_kind(rendered, MRKDWN), rendered.get("text", "")]:
        assert not ENTITY.search(text), name
    path = GOLDEN / f"{name}.json"
    text = json.dumps(rendered, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("SIGNOFF_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with SIGNOFF_UPDATE_GOLDEN=1"
    assert json.loads(path.read_text()) == json.loads(text), f"{name} differs from {path.name}"


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.startswith(("request_", "show_"))))
def test_every_card_is_within_the_whole_message_budget(name: str) -> None:
    # Each block within its own limit is not enough: Slack refuses a message whose blocks
    # carry too much text in all (signoff/cardtext.py).
    assert text_length(CASES[name]()["blocks"]) <= CARD_TEXT_BUDGET


def test_every_golden_file_is_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


def test_the_longest_title_and_description_are_whole_in_the_request() -> None:
    request: StartRequest = longest_request()
    rendered = CASES["request_pending"]()
    for piece in (request.title, request.description, *(p for f in request.fields for p in f)):
        assert shown_as_typed(rendered, piece)  # as typed, not clipped


def _user_text() -> set[str]:
    """Every piece of user text the golden cases are made of."""
    request = longest_request()
    pieces = {request.title, request.description, request.requester, REASON}
    pieces |= {p for f in request.fields for p in f}
    pieces |= {link.name for link in bound_and_linked().links}
    return pieces | {escape(p) for p in pieces}


def test_no_golden_payload_carries_user_text_in_mrkdwn() -> None:
    """Every Slack payload signoff sends (every golden file): user text reaches Slack
    as plain_text or rich text, never in a mrkdwn object. The fallback `text` is escaped
    (`blocks`' documented rule) and is not a mrkdwn object."""
    user_text = _user_text()
    files = sorted(GOLDEN.glob("*.json"))
    assert len(files) == len(CASES)
    for path in files:
        payload = json.loads(path.read_text())
        for text in of_kind(payload, MRKDWN):
            assert not [p for p in user_text if p in text], path.name
