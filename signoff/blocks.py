"""Block Kit as pure functions: approval → lists of dicts.

Every piece of user text goes through `escape` (fallback text included), so a title
like `<!channel>` or `<https://x|y>` pings nobody and links nowhere. Nothing is clipped:
kickoff (`StartRequest`) refuses text that would not fit Slack's limits once escaped.
"""

from __future__ import annotations

import re
from typing import Any

from signoff.model import Approval, Status
from signoff.text import escape

APPROVE_ACTION = "signoff.approve"
REJECT_ACTION = "signoff.reject"
CANCEL_ACTION = "signoff.cancel"
REJECT_VIEW = "signoff.reject_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"

_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

Blocks = list[dict[str, Any]]

_OUTCOME_ICON = {
    Status.APPROVED: ":white_check_mark:",
    Status.REJECTED: ":x:",
    Status.EXPIRED: ":hourglass:",
    Status.CANCELLED: ":no_entry_sign:",
}


def who(user: str) -> str:
    """A Slack user id becomes a mention; anything else is shown as escaped text."""
    return f"<@{user}>" if _SLACK_ID.match(user) else escape(user)


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
        blocks.append(
            {
                "type": "actions",
                "block_id": "signoff.decide",
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
                    {
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
                    },
                ],
            }
        )
    else:
        blocks.append({"type": "section", "text": _mrkdwn(outcome_line(approval))})
    return blocks


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
                    "max_length": 500,
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
    "• `/signoff list` — what is waiting for a decision\n"
    "• `/signoff show ID` — one request and its outcome\n"
    "• `/signoff help` — this help"
)
