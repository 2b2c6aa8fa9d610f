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
from signoff.model import Approval, Decision, StartRequest, Status
from signoff.schema import pending_cursor
from signoff.text import escape
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
    found.update(
        {
            "reject_modal": lambda: blocks.reject_modal(states["pending"]),
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

# Slack's documented limits.
MESSAGE_BLOCKS, VIEW_BLOCKS, TEXT, FIELD, CONTEXT_TEXT, CONFIRM_TEXT = (
    50,
    100,
    3000,
    2000,
    3000,
    300,
)
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def check_limits(rendered: dict[str, Any]) -> None:
    is_view = rendered.get("type") in ("modal", "home")
    if is_view:
        View(**rendered).validate_json()
    for block in rendered.get("blocks", []):
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
        if block.get("text"):
            assert len(block["text"]["text"]) <= TEXT
        for field in block.get("fields", []):
            assert len(field["text"]) <= FIELD
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                assert len(element["text"]) <= CONTEXT_TEXT
            if element.get("confirm"):
                assert len(element["confirm"]["text"]["text"]) <= CONFIRM_TEXT
            if element.get("value") is not None:
                assert len(element["value"]) <= 2000
    limit = VIEW_BLOCKS if rendered.get("type") == "home" else MESSAGE_BLOCKS
    assert len(rendered.get("blocks", [])) <= limit


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = CASES[name]()
    check_limits(rendered)
    # Nothing of the user's text is raw markup: every & starts an entity.
    assert not ENTITY.search(json.dumps(rendered)), name
    path = GOLDEN / f"{name}.json"
    text = json.dumps(rendered, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("SIGNOFF_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with SIGNOFF_UPDATE_GOLDEN=1"
    assert json.loads(path.read_text()) == json.loads(text), f"{name} differs from {path.name}"


def test_every_golden_file_is_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


def test_the_longest_title_and_description_are_whole_in_the_request() -> None:
    request: StartRequest = longest_request()
    rendered = json.dumps(CASES["request_pending"]())
    for piece in (request.title, request.description, *(v for _, v in request.fields)):
        assert json.dumps(escape(piece))[1:-1] in rendered  # not clipped
