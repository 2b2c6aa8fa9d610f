"""What signoff says besides the card: thread replies, DMs, and every fallback text.

A fallback text (a message's `text`: what notifications, screen readers and old clients
get) names the request (its title, escaped, and its id), the person and the act — never
"A vote: approve". People are named by mention; the escalation group is mentioned only
in the escalation's own reply, when it must act. Every block that carries user text
carries it as rich text (`signoff.richtext`): shown as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from signoff import blocks
from signoff import richtext as rt
from signoff.blocks import Blocks, Notice
from signoff.cardtext import CARD_TEXT_BUDGET, text_length
from signoff.model import Approval, Decision, Status, Vote
from signoff.reports import Report, Stage, shown
from signoff.tally import tally
from signoff.text import escape

SNOOZE_ACTION = "signoff.snooze"
REMIND_BLOCK = "signoff.remind"
REPORTS_BLOCK = "signoff.reports"
REPORTS_SHOWN = 10  # the latest reports on the card, at most

_STAGE_ICON = {
    Stage.STARTED: "\u25b6\ufe0f",  # ▶️
    Stage.SUCCEEDED: "\u2705",  # ✅
    Stage.FAILED: "\u274c",  # ❌
}


def _who(users: Sequence[str]) -> str:
    """People in a fallback text: "A", "A and B", "A, B and C"."""
    named = [blocks.who(u) for u in users]
    if len(named) <= 2:
        return " and ".join(named)
    return ", ".join(named[:-1]) + " and " + named[-1]


def request_name(approval: Approval) -> str:
    """The request in a fallback text: its title (escaped) and its id."""
    return f"{escape(approval.title)} ({approval.id})"


def outcome_text(approval: Approval) -> str:
    """The outcome in one line of Slack text: what, and everyone who made it."""
    facts = tally(approval)
    name = request_name(approval)
    approvers = [v.user for v in facts.approvals]
    if facts.status is Status.APPROVED:
        return f"Approved by {_who(approvers)}: {name}"
    if facts.status is Status.REJECTED:
        return f"Rejected by {blocks.who(facts.closed_by)}: {name}"
    if facts.status is Status.CANCELLED:
        return f"Cancelled by {blocks.who(facts.closed_by)}: {name}"
    if approvers:
        return (
            f"Expired with {facts.progress} approvals (from {_who(approvers)}), short of "
            f"its quorum: {name}"
        )
    return f"Expired, nobody voted before the deadline: {name}"


def card_text(approval: Approval) -> str:
    """The card's fallback text, posted and on every update."""
    if approval.status is Status.PENDING:
        facts = tally(approval)
        progress = f" ({facts.progress} approvals)" if facts.is_quorum else ""
        return f"{blocks.who(approval.requester)} asks for approval{progress}: " + request_name(
            approval
        )
    return outcome_text(approval)


# -- thread replies ---------------------------------------------------------------------


def vote_notice(approval: Approval, vote: Vote) -> Notice:
    """The thread reply for a vote that did not decide the request: who, what, the count."""
    facts = tally(approval)
    approved = vote.decision is Decision.APPROVE
    icon = blocks.STATUS_ICON[Status.APPROVED if approved else Status.REJECTED]
    did = "approved" if approved else "rejected"
    count = f" — {_count_after(approval, vote)} of {facts.needed}" if facts.is_quorum else ""
    line = rt.section(rt.text(icon + " "), rt.person(vote.user), rt.text(f" {did}{count}"))
    parts = [line, rt.quote(vote.reason)] if vote.reason else [line]
    text = f"{blocks.who(vote.user)} {did}{count}: {request_name(approval)}"
    return Notice(text, [rt.block(*parts)])


def _count_after(approval: Approval, vote: Vote) -> int:
    """Approvals counted once `vote` was in (a reply tells the count as it was then)."""
    upto = approval.votes[: approval.votes.index(vote) + 1]
    return len({v.user for v in upto if v.decision is Decision.APPROVE})


def decisive(approval: Approval, vote: Vote) -> bool:
    """Whether `vote` decided the request: its outcome reply says it, so no vote reply."""
    if approval.status not in (Status.APPROVED, Status.REJECTED) or not approval.votes:
        return False
    return approval.votes[-1] == vote


def outcome_notice(approval: Approval) -> Notice:
    """The thread reply for the outcome (every approver named, every reason quoted)."""
    return replace(blocks.outcome_notice(approval), text=outcome_text(approval))


def escalation_notice(approval: Approval, added: int, why: str = "") -> Notice:
    """The escalation's reply: the one place the group is mentioned, when it must act."""
    notice = blocks.escalation_notice(approval, added, why)
    group = blocks.group(approval.policy.escalate_to)
    if why:
        text = f"The escalation of {request_name(approval)} to {group} failed: {escape(why)}"
    else:
        missing = approval.approvals_missing
        text = (
            f"Escalated to {group}: {request_name(approval)} needs {missing} more "
            f"approval{'s' if missing != 1 else ''}; {added} more may now decide"
        )
    return replace(notice, text=text)


def report_notice(approval: Approval, report: Report) -> Notice:
    """The thread reply for a pipeline's report."""
    return Notice(_report_text(approval, report), [rt.block(*_report_parts(report))])


def _report_text(approval: Approval, report: Report) -> str:
    found = report.reported
    run = f" ({found.run})" if found.url else ""
    return (
        f"{_STAGE_ICON[found.stage]} Pipeline {found.stage.value}{run}, reported by "
        f"{blocks.who(report.by)}: {request_name(approval)}"
    )


def _report_parts(report: Report) -> list[rt.Element]:
    found = report.reported
    line: list[rt.Element] = [
        rt.text(f"{_STAGE_ICON[found.stage]} Pipeline {found.stage.value}", bold=True)
    ]
    if found.url:
        line += [rt.text(" · "), rt.link(found.url, found.run)]
    line += [rt.text(" · reported by "), rt.person(report.by), rt.text(" "), rt.date(report.at)]
    parts = [rt.section(line)]
    if found.note:
        parts.append(rt.quote(found.note))
    return parts


def reports_block(found: Sequence[Report], limit: int = REPORTS_SHOWN) -> dict[str, Any]:
    """The card's record of what the pipeline did after approval (the latest `limit`
    reports; the earlier ones counted: each is whole in the thread)."""
    latest, earlier = shown(found, limit)
    parts: list[rt.Element] = []
    if earlier:
        said = "earlier report(s)" if latest else "report(s) from the pipeline"
        parts.append(rt.section(rt.text(f"{earlier} {said} in the thread")))
    for report in latest:
        parts += _report_parts(report)
    return rt.block(*parts, block_id=REPORTS_BLOCK)


def card(approval: Approval, found: Sequence[Report] = ()) -> Blocks:
    """The card, with the pipeline's reports under it once there are any: as many of the
    latest as the card's text budget leaves room for (signoff/cardtext.py), the rest
    counted; each report is whole in the thread."""
    card = blocks.approval_message(approval)
    if not found:
        return card
    room = CARD_TEXT_BUDGET - text_length(card)
    for limit in range(min(len(found), REPORTS_SHOWN), 0, -1):
        block = reports_block(found, limit)
        if text_length(block) <= room:
            return [*card, block]
    return [*card, reports_block(found, 0)]


# -- direct messages ----------------------------------------------------------------------


def requested_dm(approval: Approval, link: str | None) -> Notice:
    notice = blocks.requested_dm(approval, link)
    approvers = approval.policy.approvers
    named = _who(approvers)
    if len(approvers) > blocks.WAITING_SHOWN:  # a group of 500 is counted, not listed
        shown = approvers[: blocks.WAITING_SHOWN]
        named = ", ".join(blocks.who(u) for u in shown)
        named += f" and {len(approvers) - len(shown)} more"
    text = f"Your request is posted: {request_name(approval)}, waiting for {named}"
    return replace(notice, text=text)


def slack_failure_dm(approval: Approval, error: str, advice: str) -> Notice:
    notice = blocks.slack_failure_dm(approval, error, advice)
    text = f"signoff could not reach Slack for {request_name(approval)}: Slack said {error}"
    return replace(notice, text=text)


def outcome_dm(approval: Approval, link: str | None) -> Notice:
    return replace(
        blocks.outcome_dm(approval, link), text="Your request ended: " + outcome_text(approval)
    )


def reminder_dm(approval: Approval, user: str, number: int, link: str | None) -> Notice:
    """A reminder, to one person the request still waits for: the request, where it
    stands, its buttons and a snooze."""
    facts = tally(approval)
    head: list[rt.Element] = [
        rt.text(f"\U0001f514 Reminder {number}: ", bold=True),
        rt.person(approval.requester),
        rt.text(" asks for your vote on "),
        rt.text(approval.title, bold=True),
        rt.text(" · "),
        rt.text(approval.id, code=True),
    ]
    if link:
        head += [rt.text(" · "), rt.link(link, "Open the request")]
    standing: list[rt.Element] = [
        rt.text(f"{facts.progress} approvals" if facts.is_quorum else "1 approval needed"),
        rt.text(" · deadline "),
        rt.date(approval.expires_at),
        rt.text(" ("),
        rt.date(approval.expires_at, rt.RELATIVE),
        rt.text(")"),
    ]
    actions = blocks.decide_actions(approval, REMIND_BLOCK)
    snooze = {
        "type": "button",
        "action_id": SNOOZE_ACTION,
        "text": rt.plain("Remind me in 1 h"),
        "value": approval.id,
        "accessibility_label": "Remind me in 1 h — no reminders of this request until then",
    }
    actions = {**actions, "elements": [*actions["elements"], snooze]}
    text = (
        f"Reminder {number}: {request_name(approval)} waits for your vote, "
        f"{blocks.who(user)} ({facts.progress} approvals)"
    )
    return Notice(text, [rt.block(rt.section(head), rt.section(standing)), actions])


def snoozed_notice(approval: Approval, until: datetime) -> Notice:
    """What the snoozer is told, privately."""
    text = f"No reminders of {request_name(approval)} for now"
    line = rt.section(
        rt.text("\U0001f4a4 No reminders of "),
        rt.text(approval.title, bold=True),
        rt.text(" · "),
        rt.text(approval.id, code=True),
        rt.text(" until "),
        rt.date(until),
        rt.text(". You can still vote on it from its message or your Home tab."),
    )
    return Notice(text, [rt.block(line)])
