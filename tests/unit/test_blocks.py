"""The decision card, its dialogs and the lists where a vote can be cast, as Block Kit."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from signoff import blocks, model
from signoff.gates.port import Link
from signoff.model import Approval, Decision, StartRequest, Status
from signoff.text import escape
from tests.slack_text import MRKDWN, PLAIN, RICH, of_kind, shown_as_typed, texts

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> <https://evil.example|click> & co"


def approval(**overrides: Any) -> Approval:
    values: dict[str, Any] = {
        "id": "apr-abc123",
        "title": HOSTILE,
        "description": HOSTILE,
        "requester": "U0REQ",
        "approvers": ("U0A",),
        "channel": "approvals",
        "timeout": timedelta(minutes=30),
        "fields": (("env <b>", HOSTILE),),
    }
    values.update(overrides)
    return Approval.open(StartRequest(**values), T0)[0]


def quorum(**overrides: Any) -> Approval:
    """Alice, Bob and Carol; two must approve; two hours."""
    values: dict[str, Any] = {
        "title": "Deploy api v2",
        "approvers": ("U0ALICE", "U0BOB", "U0CAROL"),
        "min_approvals": 2,
        "timeout": timedelta(hours=2),
        "fields": (("env", "prod"),),
    }
    return approval(**{**values, **overrides})


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def users(payload: Any) -> list[str]:
    """Who a payload mentions, in order (user elements)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "user":
                found.append(node["user_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    return found


def element(message: blocks.Blocks, action_id: str) -> dict[str, Any]:
    return next(
        e
        for b in message
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def tracker_text(a: Approval) -> str:
    return "".join(of_kind(blocks.tracker(a), RICH))


# -- user text is data ------------------------------------------------------------------

# Each of mrkdwn's markup characters, and a newline where the field may hold one.
MARKUP = ["*", "_", "~", "`", ">", "&", "<", ">", "\n"]


def _typed(mark: str, multiline: bool) -> str:
    if mark == "\n" and not multiline:
        return ""
    return f"Run 0042{mark}backfill on {mark}prod{mark} <!here> &amp;{mark}done"


def _surfaces(a: Approval) -> list[tuple[str, Any, set[str]]]:
    """Every payload a request's user text reaches, and which of it each must show."""
    link = "https://signoff-local.slack.com/archives/C0/p1"
    everything = {"title", "description", "field", "reason", "requester", "link"}
    closed_reason = {"reason"} if a.status in (Status.REJECTED, Status.CANCELLED) else set()
    found = [
        ("card", blocks.approval_message(a), everything),
        ("show", blocks.show_blocks(a), everything),
        ("list", blocks.pending_page([a], None), {"title", "requester"}),
        ("mine", blocks.mine_list([a], {a.id: link}), {"title", "requester", "field"}),
        ("home", blocks.home_view([a], [a], links={a.id: link}), {"title", "field"}),
        ("reject dialog", blocks.reject_modal(a), {"title"}),
        ("cancel dialog", blocks.cancel_modal(a), {"title"}),
        ("requested DM", blocks.requested_dm(a, link).blocks, {"title"}),
        (
            "Slack failed DM",
            blocks.slack_failure_dm(a, "not_in_channel", "Invite it.").blocks,
            {"title"},
        ),
        *(("vote reply", blocks.vote_notice(v).blocks, {"reason"}) for v in a.votes),
    ]
    if a.status is not Status.PENDING:
        found += [
            ("outcome reply", blocks.outcome_notice(a).blocks, closed_reason),
            ("outcome DM", blocks.outcome_dm(a, link).blocks, {"title"} | closed_reason),
        ]
    return found


@pytest.mark.parametrize("mark", MARKUP, ids=repr)
def test_every_user_field_reaches_slack_as_typed_never_as_mrkdwn(mark: str) -> None:
    one_line, multiline = _typed(mark, False), _typed(mark, True)
    pending = approval(
        title=one_line or "Deploy",
        description=multiline,
        fields=((f"e{mark}n{mark}v" if mark != "\n" else "env", multiline),),
        requester="ci_bot_" + ("x" if mark != "_" else "_x_"),  # a plain name, not a Slack id
        links=(Link(name=f"PR {mark}1{mark}" if mark != "\n" else "PR", url="https://x.test/1"),),
        approvers=("U0A", "U0B"),
        min_approvals=2,
    )
    voted, _ = pending.vote("U0A", Decision.APPROVE, at(1), multiline)
    rejected, _ = voted.vote("U0B", Decision.REJECT, at(2), multiline)
    cancelled, _ = voted.cancel(pending.requester, at(3), multiline)
    ((name, value),) = pending.fields
    typed = {
        "title": [pending.title],
        "description": [pending.description],
        "field": [name, value],
        "reason": [multiline],
        "requester": [pending.requester],
        "link": [link.name for link in pending.links],
    }
    checked = 0
    for state in (voted, rejected, cancelled):
        for surface, payload, shows in _surfaces(state):
            mrkdwn = of_kind(payload, MRKDWN)
            for what, strings in typed.items():
                for text in filter(None, strings):
                    # Never in mrkdwn, escaped or not.
                    assert not any(text in m or escape(text) in m for m in mrkdwn), (
                        surface,
                        what,
                    )
                    if what in shows:
                        assert shown_as_typed(payload, text), (surface, state.status, what)
                        checked += 1
    assert checked >= 40


def test_a_multiline_reason_is_quoted_whole_not_only_its_first_line() -> None:
    reason = "change freeze\nuntil Monday\n> not a quote of ours"
    rejected, _ = approval().vote("U0A", Decision.REJECT, at(1), reason)
    for payload in (
        blocks.approval_message(rejected),
        blocks.outcome_notice(rejected).blocks,
        blocks.vote_notice(rejected.votes[0]).blocks,
    ):
        quotes = [
            part
            for block in payload
            if block["type"] == "rich_text"
            for part in block["elements"]
            if part["type"] == "rich_text_quote"
        ]
        assert [q["elements"] for q in quotes] == [[{"type": "text", "text": reason}]]


def test_the_header_is_the_title_as_plain_text_after_the_status() -> None:
    pending = approval(title="Run migration 0042_*_backfill on *prod*")
    states = {
        Status.PENDING: pending,
        Status.APPROVED: pending.vote("U0A", Decision.APPROVE, at(1))[0],
        Status.REJECTED: pending.vote("U0A", Decision.REJECT, at(1), "no")[0],
        Status.EXPIRED: pending.expire(pending.expires_at)[0],
        Status.CANCELLED: pending.cancel("U0REQ", at(1))[0],
    }
    icons = {Status.PENDING: "⏳", Status.APPROVED: "✅", Status.REJECTED: "❌"}
    icons |= {Status.EXPIRED: "⌛", Status.CANCELLED: "🚫"}
    for status, state in states.items():
        head = blocks.approval_message(state)[0]
        assert head == {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{icons[status]} Run migration 0042_*_backfill on *prod*",
                "emoji": False,
            },
        }


def test_a_header_that_cannot_hold_the_status_keeps_the_whole_title() -> None:
    # A record written before the title's limit left room for the status.
    older = replace(approval(), title="y" * 150)
    assert blocks.header(older)["text"]["text"] == "y" * 150


def test_the_fallback_text_is_escaped_so_it_mentions_nobody() -> None:
    assert blocks.fallback_text(approval()) == f"Approval requested: {escape(HOSTILE)}"


# -- the tracker ------------------------------------------------------------------------


def test_the_tracker_follows_a_two_of_three_through_alice_then_bob() -> None:
    pending = quorum()
    assert tracker_text(pending).startswith("0 of 2 approvals")
    assert users(blocks.tracker(pending)) == ["U0ALICE", "U0BOB", "U0CAROL"]  # may vote

    one, _ = pending.vote("U0ALICE", Decision.APPROVE, at(3))
    assert tracker_text(one).startswith("1 of 2 approvals")
    # Alice's vote (with its time), then who may still vote.
    assert users(blocks.tracker(one)) == ["U0ALICE", "U0BOB", "U0CAROL"]
    assert "May still vote: " in tracker_text(one)
    dates = [e for e in json.dumps(blocks.tracker(one)).split('"timestamp": ')[1:]]
    assert dates[0].startswith(str(int(at(3).timestamp())))

    two, _ = one.vote("U0BOB", Decision.APPROVE, at(5))
    shown = blocks.tracker(two)
    # Both approvals stay, in order, each with its time; nobody is left to vote.
    assert users(shown) == ["U0ALICE", "U0BOB", "U0ALICE", "U0BOB"]  # outcome line, then votes
    assert "Approved by " in tracker_text(two) and "May still vote" not in tracker_text(two)
    stamps = [int(at(3).timestamp()), int(at(5).timestamp())]
    assert all(f'"timestamp": {s}' in json.dumps(shown) for s in stamps)


def test_an_expiry_after_a_partial_quorum_names_who_approved() -> None:
    one, _ = quorum().vote("U0ALICE", Decision.APPROVE, at(3))
    expired, _ = one.expire(one.expires_at)
    text = tracker_text(expired)
    assert "Expired" in text and "with 1 of 2 approvals, from " in text
    assert "nobody" not in text
    assert users(blocks.tracker(expired))[0] == "U0ALICE"
    nobody, _ = quorum().expire(quorum().expires_at)
    assert "nobody voted before the deadline" in tracker_text(nobody)


def test_a_self_approval_is_marked() -> None:
    own = quorum(approvers=("U0REQ", "U0BOB"), allow_self_approval=True)
    voted, _ = own.vote("U0REQ", Decision.APPROVE, at(1))
    assert "(self-approval: the requester approved their own request)" in tracker_text(voted)
    other, _ = quorum().vote("U0ALICE", Decision.APPROVE, at(1))
    assert "self-approval" not in tracker_text(other)


def test_the_escalation_is_said_without_paging_the_group_until_it_fires() -> None:
    due = quorum(escalate_after=timedelta(minutes=45), escalate_to="S0ONCALL")
    card = json.dumps(blocks.approval_message(due))
    assert "escalates " in tracker_text(due)
    assert "S0ONCALL" not in card  # no usergroup element, no <!subteam^…>: nobody is paged
    assert f'"timestamp": {int(at(45).timestamp())}, "format": "{{ago}}"' in card
    fired, _ = due.escalate(["U0DAN"], at(45))
    assert '"usergroup_id": "S0ONCALL"' in json.dumps(blocks.tracker(fired))
    assert "U0DAN" in users(blocks.tracker(fired))


def test_who_may_still_vote_is_counted_past_what_a_block_can_name() -> None:
    crowd = tuple(f"U0M{n:03d}" for n in range(40))
    big = quorum(approvers=(), approver_groups=("S0DBA",), members=crowd, min_approvals=3)
    shown = blocks.tracker(big)
    assert users(shown) == list(crowd[: blocks.WAITING_SHOWN])
    assert f" and {40 - blocks.WAITING_SHOWN} more" in tracker_text(big)
    assert '"usergroup_id": "S0DBA"' in json.dumps(shown)  # approvers' group: named


def test_the_deadline_is_absolute_and_relative_for_each_reader() -> None:
    origin = json.dumps(blocks.origin(approval()))
    epoch = int((T0 + timedelta(minutes=30)).timestamp())
    assert f'"timestamp": {epoch}, "format": "{{date_short_pretty}} at {{time}}"' in origin
    assert f'"timestamp": {epoch}, "format": "{{ago}}"' in origin


# -- the buttons and their dialogs -------------------------------------------------------


def test_approve_is_primary_reject_danger_cancel_in_an_overflow_each_carrying_the_id() -> None:
    message = blocks.approval_message(approval())
    (actions,) = [b for b in message if b["type"] == "actions"]
    approve, reject, more = actions["elements"]
    assert (approve["action_id"], approve["style"], approve["value"]) == (
        "signoff.approve",
        "primary",
        "apr-abc123",
    )
    assert (reject["action_id"], reject["style"], reject["value"]) == (
        "signoff.reject",
        "danger",
        "apr-abc123",
    )
    assert more["type"] == "overflow" and more["action_id"] == "signoff.cancel"
    assert more["options"] == [
        {
            "text": {"type": "plain_text", "text": "Cancel request…", "emoji": False},
            "value": "apr-abc123",
        }
    ]
    assert more["confirm"]["style"] == "danger"
    assert approve["accessibility_label"] and reject["accessibility_label"]


@pytest.mark.parametrize(
    ("votes", "needed", "said"),
    [
        ((), 1, "Your approval completes it; the waiting pipeline continues."),
        (
            ("U0ALICE",),
            2,
            "Your approval completes the 2-of-3 rule; the waiting pipeline continues.",
        ),
        ((), 2, "1 more approval needed after yours."),
        ((), 3, "2 more approvals needed after yours."),
    ],
)
def test_the_approve_confirmation_is_plain_text_and_says_what_the_vote_does(
    votes: tuple[str, ...], needed: int, said: str
) -> None:
    a = quorum(min_approvals=needed)
    for user in votes:
        a, _ = a.vote(user, Decision.APPROVE, at(1))
    confirm = element(blocks.approval_message(a), "signoff.approve")["confirm"]
    assert confirm["text"] == {
        "type": "plain_text",
        "text": f"Deploy api v2\n\n{said}",
        "emoji": False,
    }
    assert all(confirm[k]["type"] == "plain_text" for k in ("title", "confirm", "deny"))


def test_the_reason_dialogs_show_the_title_as_typed_and_what_the_act_does() -> None:
    a = approval(title="Run *prod*")
    reject, cancel = blocks.reject_modal(a), blocks.cancel_modal(a)
    assert reject["callback_id"] == "signoff.reject_reason"
    assert cancel["callback_id"] == "signoff.cancel_reason"
    for view in (reject, cancel):
        View(**view).validate_json()
        assert view["private_metadata"] == "apr-abc123"
        assert view["blocks"][0]["text"]["text"] == "Run *prod*"
        assert view["blocks"][-1]["block_id"] == "reason"
    assert "ends the request at once" in "".join(of_kind(reject, RICH))
    assert "kept in its audit trail" in "".join(of_kind(cancel, RICH))


def test_a_closed_card_has_no_buttons_and_show_has_none_either() -> None:
    rejected, _ = approval().vote("U0A", Decision.REJECT, at(1), "not <now>")
    assert not [b for b in blocks.approval_message(rejected) if b["type"] == "actions"]
    assert not [b for b in blocks.show_blocks(quorum()) if b["type"] == "actions"]


# -- where else a vote can be cast -------------------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        lambda a, links: blocks.mine_list([a], links),
        lambda a, links: blocks.home_view([a], [], links=links)["blocks"],
    ],
    ids=["mine", "home"],
)
def test_home_and_mine_show_fields_progress_and_a_link_beside_the_buttons(
    render: Callable[[Approval, dict[str, str]], blocks.Blocks],
) -> None:
    one, _ = quorum().vote("U0ALICE", Decision.APPROVE, at(1))
    link = "https://signoff-local.slack.com/archives/C0/p1"
    shown = render(one, {one.id: link})
    text = "".join(of_kind(shown, RICH))
    assert "env" in text and "prod" in text  # the fields
    assert "1 of 2 approvals" in text  # the progress
    assert {"type": "link", "url": link, "text": "open the request"} in [
        e
        for b in shown
        if b["type"] == "rich_text"
        for part in b["elements"]
        for e in part.get("elements", [])
    ]
    confirm = element(shown, "signoff.approve")["confirm"]
    assert "Your approval completes the 2-of-3 rule" in confirm["text"]["text"]


def test_blocks_pass_slack_sdk_validation() -> None:
    decided, _ = approval().vote("U0A", Decision.APPROVE, at(1))
    for payload in (
        blocks.approval_message(approval()),
        blocks.approval_message(decided),
        blocks.pending_page([approval()], None),
        blocks.mine_list([approval()]),
    ):
        for block in payload:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()
    View(**blocks.home_view([approval()], [decided])).validate_json()


def test_non_slack_ids_are_shown_as_text_not_mentions() -> None:
    assert blocks.who("U0A") == "<@U0A>"
    assert blocks.who("ci-bot <x>") == "ci-bot &lt;x&gt;"
    card = blocks.approval_message(approval(requester="ci_bot"))
    assert "ci_bot" not in users(card) and shown_as_typed(card, "ci_bot")


def longest_request() -> StartRequest:
    """The longest input kickoff accepts, made of `&` where escaping makes it longest."""

    def text(limit: int) -> str:
        return "&" * (limit // 5) + "x" * (limit % 5)

    return StartRequest(
        id="apr-" + "z" * 60,
        title=text(model.MAX_TITLE),
        description=text(model.MAX_DESCRIPTION),
        requester="R" * 64,
        approvers=tuple(f"W{n:02d}" + "A" * 61 for n in range(model.MAX_APPROVERS)),
        channel="c" * 80,
        timeout=timedelta(days=7),
        fields=tuple(
            (text(model.MAX_FIELD_KEY - 2) + f"{n:02d}", text(model.MAX_FIELD_VALUE))
            for n in range(model.MAX_FIELDS)
        ),
    )


def test_the_longest_title_is_whole_in_the_header_and_the_confirmation() -> None:
    pending = Approval.open(longest_request(), T0)[0]
    assert blocks.approval_message(pending)[0]["text"]["text"] == f"⏳ {pending.title}"
    confirm = element(blocks.approval_message(pending), "signoff.approve")["confirm"]
    assert confirm["text"]["text"].startswith(pending.title + "\n\n")
    assert confirm["text"]["type"] == PLAIN
    assert all(kind != MRKDWN or pending.title not in t for kind, t in texts(confirm))


def test_a_vote_reply_says_who_did_what() -> None:
    one, _ = quorum().vote("U0ALICE", Decision.APPROVE, at(1))
    two, _ = one.vote("U0BOB", Decision.REJECT, at(2), "no")
    approved, rejected = (blocks.vote_notice(v).blocks for v in two.votes)
    assert "".join(of_kind(approved, RICH)).endswith(" approved")
    assert users(approved) == ["U0ALICE"]
    assert "".join(of_kind(rejected, RICH)) == "❌  rejectedno"
    assert users(rejected) == ["U0BOB"]


def test_links_are_labelled_buttons_and_bindings_say_what_is_approved() -> None:
    from signoff.binding import Binding, BindingKind
    from signoff.gates.port import GateRef

    a = approval(
        links=(Link(name="PR *42*", url="https://x.test/pr/42"),),
        bindings=(Binding(kind=BindingKind.SHA, value="abc1234"),),
        gate=GateRef(kind="github", target={"repository": "acme/api"}),
    )
    card = blocks.approval_message(a)
    (links,) = [b for b in card if b.get("block_id") == "signoff.links"]
    assert links["elements"] == [
        {
            "type": "button",
            "action_id": "signoff.link.0",
            "text": {"type": "plain_text", "text": "PR *42*", "emoji": False},
            "url": "https://x.test/pr/42",
            "accessibility_label": "Open PR *42*",
        }
    ]
    origin = "".join(of_kind(blocks.origin(a), RICH))
    assert origin.startswith("Approves only sha abc1234")
    assert " through the github gate" in origin
    # Kept after the outcome (show and the closed card), unlike the decision buttons.
    closed, _ = a.vote("U0A", Decision.APPROVE, at(1))
    assert [b for b in blocks.show_blocks(closed) if b.get("block_id") == "signoff.links"]
