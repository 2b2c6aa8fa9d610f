"""Block Kit as pure functions: approval → lists of dicts.

Every piece of user text goes through `escape` (fallback text included), so a title
like `<!channel>` or `<https://x|y>` pings nobody and links nowhere. Nothing is clipped:
kickoff (`StartRequest`) refuses text that would not fit Slack's limits once escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signoff.model import (
    MAX_REASON,
    Approval,
    Decision,
    Status,
    Vote,
    format_duration,
    is_slack_user,
)
from signoff.text import escape

APPROVE_ACTION = "signoff.approve"
REJECT_ACTION = "signoff.reject"
CANCEL_ACTION = "signoff.cancel"
REJECT_VIEW = "signoff.reject_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"

Blocks = list[dict[str, Any]]

_OUTCOME_ICON = {
    Status.APPROVED: ":white_check_mark:",
    Status.REJECTED: ":x:",
    Status.EXPIRED: ":hourglass:",
    Status.CANCELLED: ":no_entry_sign:",
}


def who(user: str) -> str:
    """A Slack user id becomes a mention; anything else is shown as escaped text."""
    return f"<@{user}>" if is_slack_user(user) else escape(user)


def when(epoch: float, fallback: str) -> str:
    """A date each reader sees in their own time zone."""
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{escape(fallback)}>"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def group(group_id: str) -> str:
    """A user group mention (Slack shows its handle, e.g. @dba-team)."""
    return f"<!subteam^{group_id}>"


def rule_line(approval: Approval) -> str:
    """Who may approve, in words, with the progress of a quorum.

    "Approvers: @alice, @bob" when any one of the people named decides alone; otherwise
    "2 of @dba-team — 1 approved (@alice), waiting for 1 more".
    """
    policy = approval.policy
    who_may = ", ".join([*(group(g) for g in policy.groups), *map(who, policy.named_users)])
    if policy.min_approvals == 1 and not policy.groups:
        line = f"Approvers: {who_may}"
    else:
        line = f"{policy.min_approvals} of {who_may}"
        if approval.status is Status.PENDING:
            approved = approval.approved_by
            done = (
                f"{len(approved)} approved ({', '.join(map(who, approved))}), "
                if approved
                else "none approved yet, "
            )
            line += f" — {done}waiting for {approval.approvals_missing} more"
    if policy.name:
        line += f" (policy `{escape(policy.name)}`)"
    if policy.escalate_to and policy.escalated:
        if policy.escalate_to in policy.groups:
            line += f" · escalated to {group(policy.escalate_to)}"
        else:
            line += f" · escalation to {group(policy.escalate_to)} failed"
    elif policy.escalate_to and policy.escalate_after and approval.status is Status.PENDING:
        after = format_duration(policy.escalate_after)
        line += f" · escalates to {group(policy.escalate_to)} after {after}"
    return line


def fallback_text(approval: Approval) -> str:
    title = escape(approval.title)
    if approval.status is Status.PENDING:
        return f"Approval requested: {title}"
    return f"{approval.status.value.capitalize()}: {title}"


def outcome_line(approval: Approval) -> str:
    icon = _OUTCOME_ICON.get(approval.status, "")
    at = approval.decided_at or approval.expires_at
    stamp = when(at.timestamp(), at.strftime("%Y-%m-%d %H:%M UTC"))
    if approval.status is Status.APPROVED:
        return f"{icon} *Approved* by {who(approval.decided_by)} {stamp}"
    if approval.status is Status.REJECTED:
        return (
            f"{icon} *Rejected* by {who(approval.decided_by)} {stamp}\n>{escape(approval.reason)}"
        )
    if approval.status is Status.EXPIRED:
        return f"{icon} *Expired* {stamp}: nobody decided before the deadline"
    reason = f"\n>{escape(approval.reason)}" if approval.reason else ""
    return f"{icon} *Cancelled* by {who(approval.decided_by)} {stamp}{reason}"


def bound_line(approval: Approval) -> str:
    """What the request approves (its bindings, checked hex: nothing to escape) and the
    approval it reused, if any."""
    parts = [f"{b.kind.value} `{b.value}`" for b in approval.bindings]
    line = f"Approves only {', '.join(parts)}" if parts else ""
    if approval.reused_from:
        line += f"{' · ' if line else ''}Reused approval `{approval.reused_from}`"
    return line


def approval_message(approval: Approval) -> Blocks:
    """The interactive request; after the outcome, the same message without buttons."""
    blocks: Blocks = [
        {"type": "section", "text": _mrkdwn(f"*{escape(approval.title)}*")},
    ]
    if approval.description:
        blocks.append({"type": "section", "text": _mrkdwn(escape(approval.description))})
    if approval.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [_mrkdwn(f"*{escape(k)}*\n{escape(v)}") for k, v in approval.fields],
            }
        )
    if approval.bindings or approval.reused_from:
        blocks.append({"type": "context", "elements": [_mrkdwn(bound_line(approval))]})
    if approval.links:
        blocks.append(link_buttons(approval))
    deadline = when(
        approval.expires_at.timestamp(), approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    )
    blocks.append(
        {
            "type": "context",
            "elements": [
                _mrkdwn(
                    f"Requested by {who(approval.requester)} · {rule_line(approval)} · "
                    f"Deadline {deadline} · `{approval.id}`"
                )
            ],
        }
    )
    if approval.status is Status.PENDING:
        blocks.append(decide_actions(approval, cancel=True))
    else:
        blocks.append({"type": "section", "text": _mrkdwn(outcome_line(approval))})
    return blocks


LINK_ACTION = "signoff.link"


def link_buttons(approval: Approval) -> dict[str, Any]:
    """The request's links (a CI run, a diff) as buttons that open them; kept after the
    outcome. Names are plain text, so nothing in them is markup."""
    return {
        "type": "actions",
        "block_id": "signoff.links",
        "elements": [
            {
                "type": "button",
                "action_id": f"{LINK_ACTION}.{index}",
                "text": {"type": "plain_text", "text": link.name},
                "url": link.url,
            }
            for index, link in enumerate(approval.links)
        ],
    }


def decide_actions(
    approval: Approval, block_id: str = "signoff.decide", *, cancel: bool = False
) -> dict[str, Any]:
    """The Approve (with a confirmation) and Reject… buttons, carrying the approval's id;
    with `cancel`, also the Cancel button (the channel message: the requester is there)."""
    actions: dict[str, Any] = {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": approval.id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve this request?"},
                    "text": _mrkdwn(f"*{escape(approval.title)}*"),
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "text": {"type": "plain_text", "text": "Reject…"},
                "style": "danger",
                "value": approval.id,
            },
        ],
    }
    if cancel:
        actions["elements"].append(cancel_button(approval))
    return actions


def cancel_button(approval: Approval) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": CANCEL_ACTION,
        "text": {"type": "plain_text", "text": "Cancel request"},
        "value": approval.id,
        "confirm": {
            "title": {"type": "plain_text", "text": "Cancel this request?"},
            "text": _mrkdwn(
                "Only the requester or an admin can cancel it. Nobody will be "
                "able to approve it afterwards."
            ),
            "confirm": {"type": "plain_text", "text": "Cancel request"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        },
    }


def reject_modal(approval: Approval) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "private_metadata": approval.id,
        "title": {"type": "plain_text", "text": "Reject request"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": _mrkdwn(f"*{escape(approval.title)}*")},
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why are you rejecting it?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            },
        ],
    }


def pending_list(approvals: list[Approval]) -> Blocks:
    if not approvals:
        return [{"type": "section", "text": _mrkdwn("Nothing is waiting for a decision.")}]
    blocks: Blocks = [
        {"type": "section", "text": _mrkdwn(f"*{len(approvals)} pending approval(s)*")}
    ]
    for approval in approvals[:45]:
        deadline = when(
            approval.expires_at.timestamp(), approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        )
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(
                    f"*{escape(approval.title)}* `{approval.id}`\n"
                    f"Requested by {who(approval.requester)} · deadline {deadline}"
                ),
            }
        )
    return blocks


def show_blocks(approval: Approval) -> Blocks:
    blocks = approval_message(approval)
    # Read-only view: no buttons outside the request's own message.
    return [b for b in blocks if b.get("type") != "actions"]


HELP_TEXT = (
    "*/signoff* — approvals in Slack\n"
    "• `/signoff list` — what is waiting for a decision (a page at a time)\n"
    "• `/signoff mine` — what is waiting for your vote, with its buttons\n"
    "• `/signoff show ID` — one request and its outcome\n"
    "• `/signoff help` — this help\n"
    "The app's Home tab shows what waits for your vote and what you asked for."
)

NEXT_PAGE_ACTION = "signoff.list_next"
PAGE_SIZE = 10  # requests per /signoff list page
MINE_SHOWN = 10  # requests, with their buttons, in /signoff mine
HOME_SHOWN = 15  # requests per Home tab section (a Home view holds 100 blocks)


def summary(approval: Approval) -> dict[str, Any]:
    """One request in a list: title, id, requester and deadline (or its outcome)."""
    deadline = when(
        approval.expires_at.timestamp(), approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    )
    state = (
        f"deadline {deadline}"
        if approval.status is Status.PENDING
        else outcome_line(approval).split("\n")[0]
    )
    return {
        "type": "section",
        "text": _mrkdwn(
            f"*{escape(approval.title)}* `{approval.id}`\n"
            f"Requested by {who(approval.requester)} · {state}"
        ),
    }


def pending_page(page: list[Approval], next_cursor: str | None, first: bool = True) -> Blocks:
    """One page of `/signoff list`; a "Next page" button when more follow."""
    if not page:
        text = "Nothing is waiting for a decision." if first else "No more pending requests."
        return [{"type": "section", "text": _mrkdwn(text)}]
    heading = "*Pending approvals*" if first else "*Pending approvals, continued*"
    blocks: Blocks = [{"type": "section", "text": _mrkdwn(heading)}]
    blocks += [summary(a) for a in page]
    if next_cursor:
        blocks.append(
            {
                "type": "actions",
                "block_id": "signoff.list",
                "elements": [
                    {
                        "type": "button",
                        "action_id": NEXT_PAGE_ACTION,
                        "text": {"type": "plain_text", "text": "Next page"},
                        "value": next_cursor,
                    }
                ],
            }
        )
    return blocks


def _with_buttons(approvals: list[Approval]) -> Blocks:
    blocks: Blocks = []
    for approval in approvals:
        blocks += [summary(approval), decide_actions(approval, f"signoff.decide.{approval.id}")]
    return blocks


def _more(count: int, shown: int, where: str) -> Blocks:
    if count <= shown:
        return []
    return [{"type": "context", "elements": [_mrkdwn(f"…and {count - shown} more {where}.")]}]


def mine_list(waiting: list[Approval]) -> Blocks:
    """`/signoff mine`: what waits for the caller's vote, each with its buttons."""
    if not waiting:
        return [{"type": "section", "text": _mrkdwn("Nothing is waiting for your vote.")}]
    blocks: Blocks = [
        {"type": "section", "text": _mrkdwn(f"*Waiting for your vote ({len(waiting)})*")}
    ]
    blocks += _with_buttons(waiting[:MINE_SHOWN])
    return blocks + _more(len(waiting), MINE_SHOWN, "(see the app's Home tab or /signoff list)")


def home_view(waiting: list[Approval], asked: list[Approval], notice: str = "") -> dict[str, Any]:
    """The App Home tab: what waits for my vote (with buttons) and what I asked for.

    `notice` is signoff's own sentence (already Slack text), e.g. why a click was refused.
    """
    blocks: Blocks = []
    if notice:
        blocks.append({"type": "section", "text": _mrkdwn(notice)})
    blocks.append(
        {"type": "header", "text": {"type": "plain_text", "text": "Waiting for your vote"}}
    )
    blocks += _with_buttons(waiting[:HOME_SHOWN]) or [
        {"type": "section", "text": _mrkdwn("Nothing is waiting for your vote.")}
    ]
    blocks += _more(len(waiting), HOME_SHOWN, "(see /signoff list)")
    blocks += [
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "What you asked for"}},
    ]
    blocks += [summary(a) for a in asked[:HOME_SHOWN]] or [
        {"type": "section", "text": _mrkdwn("None of your requests is pending.")}
    ]
    blocks += _more(len(asked), HOME_SHOWN, "(see /signoff list)")
    return {"type": "home", "callback_id": "signoff.home", "blocks": blocks}


# -- notices: thread replies and direct messages ---------------------------------------


@dataclass(frozen=True)
class Notice:
    """A message signoff sends besides the request: its fallback text and its blocks."""

    text: str
    blocks: Blocks


def _notice(text: str, fallback: str) -> Notice:
    return Notice(fallback, [{"type": "section", "text": _mrkdwn(text)}])


def _link(url: str, label: str) -> str:
    # The URL comes from Slack (chat.getPermalink); escaped all the same, as Slack asks.
    return f"<{escape(url)}|{label}>"


def _request_ref(approval: Approval, link: str | None) -> str:
    opened = f" · {_link(link, 'Open the request')}" if link else ""
    return f"*{escape(approval.title)}* · `{approval.id}`{opened}"


def vote_notice(vote: Vote) -> Notice:
    """The thread reply for an accepted vote."""
    if vote.decision is Decision.APPROVE:
        return _notice(f":white_check_mark: {who(vote.user)} approved", "A vote: approve")
    reason = f"\n>{escape(vote.reason)}" if vote.reason else ""
    return _notice(f":x: {who(vote.user)} rejected{reason}", "A vote: reject")


def outcome_notice(approval: Approval) -> Notice:
    """The thread reply for the outcome: what, who, when, why."""
    return _notice(outcome_line(approval), fallback_text(approval))


def reminder_notice(approval: Approval, number: int) -> Notice:
    """The thread reply for reminder `number`: who has not voted yet, and what is missing."""
    waiting = ", ".join(who(a) for a in approval.waiting_for())
    missing = approval.approvals_missing
    needed = f"{missing} more approval{'s' if missing != 1 else ''} needed"
    deadline = when(
        approval.expires_at.timestamp(), approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    )
    text = f":bell: Reminder {number}: {waiting} — still waiting for your vote ({needed}, deadline {deadline})"
    return _notice(text, f"Reminder: {escape(approval.title)} is waiting for your vote")


def escalation_notice(approval: Approval, added: int, why: str = "") -> Notice:
    """The thread reply for the escalation: who joined, or why nobody could."""
    target = group(approval.policy.escalate_to)
    if why:
        text = (
            f":warning: This request was due to escalate to {target}, but the group could not "
            f"be resolved: {escape(why)}"
        )
        return _notice(text, "The escalation failed")
    every = approval.policy.escalate_after
    after = f" after {format_duration(every)}" if every else ""
    people = f"{added} more {'person' if added == 1 else 'people'}"
    text = f":rotating_light: Escalated to {target}{after}: {people} may now decide"
    return _notice(text, f"Escalated: {escape(approval.title)}")


def requested_dm(approval: Approval, link: str | None) -> Notice:
    """To the requester, once the request is posted."""
    approvers = ", ".join(who(a) for a in approval.policy.approvers)
    deadline = when(
        approval.expires_at.timestamp(), approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    )
    text = (
        f"Your request is posted: {_request_ref(approval, link)}\n"
        f"Waiting for {approvers} · deadline {deadline}"
    )
    return _notice(text, f"Your request is posted: {escape(approval.title)}")


def outcome_dm(approval: Approval, link: str | None) -> Notice:
    """To the requester, once the request has ended: the outcome, who, why."""
    text = f"{outcome_line(approval)}\nYour request {_request_ref(approval, link)}"
    return _notice(text, f"Your request ended: {fallback_text(approval)}")


def slack_failure_dm(approval: Approval, error: str, advice: str) -> Notice:
    """To the requester, when Slack refused something for good and a person must act."""
    text = (
        f":warning: signoff could not reach Slack for your request "
        f"{_request_ref(approval, None)}: Slack said `{escape(error)}`.\n{escape(advice)}"
    )
    return _notice(text, f"signoff could not reach Slack for {escape(approval.title)}")
