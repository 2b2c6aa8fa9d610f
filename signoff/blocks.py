"""Block Kit as pure functions: approval → lists of dicts.

User text is data. Every title, description, field, reason and name reaches Slack as
plain_text or as a rich_text `text` element (`signoff/richtext.py`), which Slack shows as
typed: `*prod*` keeps its asterisks and `<!channel>` pings nobody. The one place user
text is still written into a string is a message's fallback `text` (what notifications
and screen readers get): there it is escaped (`&`, `<`, `>`), so it mentions nobody and
links nowhere. Nothing is clipped: kickoff (`StartRequest`) refuses text that would not
fit Slack's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signoff import richtext as rt
from signoff.frozen import frozen
from signoff.model import (
    MAX_REASON,
    Approval,
    Decision,
    Status,
    Vote,
    format_duration,
    is_slack_user,
)
from signoff.tally import CountedVote, EscalationState, Tally, tally
from signoff.text import escape

APPROVE_ACTION = "signoff.approve"
REJECT_ACTION = "signoff.reject"
CANCEL_ACTION = "signoff.cancel"  # the overflow's "Cancel request…": opens the reason dialog
REJECT_VIEW = "signoff.reject_reason"
CANCEL_VIEW = "signoff.cancel_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"
DECIDE_BLOCK = "signoff.decide"

Blocks = list[dict[str, Any]]

# The status in the card's header, and in one line wherever a request is listed.
STATUS_ICON = {
    Status.PENDING: "\u23f3",  # ⏳
    Status.APPROVED: "\u2705",  # ✅
    Status.REJECTED: "\u274c",  # ❌
    Status.EXPIRED: "\u231b",  # ⌛
    Status.CANCELLED: "\U0001f6ab",  # 🚫
}
_OUTCOME_ICON = {
    Status.APPROVED: ":white_check_mark:",
    Status.REJECTED: ":x:",
    Status.EXPIRED: ":hourglass:",
    Status.CANCELLED: ":no_entry_sign:",
}
# How many of the people who may still vote the tracker names; the rest are counted
# (a group of 500 would not fit a block, and its members are reached through the group).
WAITING_SHOWN = 20
HEADER = 150  # Slack's limit on a header's text
LABEL = 75  # Slack's limit on a button's accessibility label


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


def fallback_text(approval: Approval) -> str:
    title = escape(approval.title)
    if approval.status is Status.PENDING:
        return f"Approval requested: {title}"
    return f"{approval.status.value.capitalize()}: {title}"


# -- the decision card ------------------------------------------------------------------


def header(approval: Approval) -> dict[str, Any]:
    """The title as plain text, after the status (kickoff keeps the two within 150)."""
    text = f"{STATUS_ICON[approval.status]} {approval.title}"
    # A record from before the title's limit made room for the status: the title alone
    # (the tracker says the status too); never a clipped title.
    return {"type": "header", "text": rt.plain(text if len(text) <= HEADER else approval.title)}


def field_blocks(approval: Approval) -> Blocks:
    """Each field: its name in bold, its value below, both as typed."""
    return [
        rt.block(rt.section(rt.text(name, bold=True), rt.text("\n" + value)))
        for name, value in approval.fields
    ]


def consequence(facts: Tally, decision: Decision) -> str:
    """What one more vote does, in words (the confirm dialog, the reason dialog)."""
    if decision is Decision.REJECT:
        return "Your rejection ends the request at once; the waiting pipeline stops."
    if facts.completes(Decision.APPROVE):
        rule = f"the {facts.needed}-of-{len(_possible(facts))} rule" if facts.is_quorum else "it"
        return f"Your approval completes {rule}; the waiting pipeline continues."
    after = facts.missing - 1
    return f"{after} more approval{'s' if after != 1 else ''} needed after yours."


def _possible(facts: Tally) -> tuple[str, ...]:
    """Who could ever approve: those who did and those who still may."""
    return tuple(dict.fromkeys((*(v.user for v in facts.approvals), *facts.waiting)))


def _vote_line(vote: CountedVote) -> list[rt.Element]:
    did = "approved" if vote.decision is Decision.APPROVE else "rejected"
    icon = STATUS_ICON[Status.APPROVED if vote.decision is Decision.APPROVE else Status.REJECTED]
    line = [rt.text(f"{icon} "), rt.person(vote.user), rt.text(f" {did} "), rt.date(vote.at)]
    if vote.self_approval:
        line.append(rt.text(" (self-approval: the requester approved their own request)"))
    return line


def _votes(facts: Tally) -> list[rt.Element]:
    """Every vote in a bulleted list, each reason quoted whole under its vote."""
    parts: list[rt.Element] = []
    items: list[rt.Element] = []
    for vote in facts.votes:
        items.append(rt.section(_vote_line(vote)))
        if vote.reason:
            parts += [rt.bullets(items), rt.quote(vote.reason)]
            items = []
    if items:
        parts.append(rt.bullets(items))
    return parts


def _named(users: tuple[str, ...]) -> list[rt.Element]:
    """The first WAITING_SHOWN people, then how many more."""
    shown = users[:WAITING_SHOWN]
    more = len(users) - len(shown)
    return [*rt.people(shown), *([rt.text(f" and {more} more")] if more else [])]


def _waiting(facts: Tally, approval: Approval) -> list[rt.Element]:
    line: list[rt.Element] = [rt.text("May still vote: "), *_named(facts.waiting)]
    groups = [g for g in approval.policy.groups if g != approval.policy.escalate_to]
    if groups:
        line += [rt.text(" (members of "), *rt.joined([rt.usergroup(g)] for g in groups)]
        line.append(rt.text(")"))
    return line


def _escalation(facts: Tally) -> list[rt.Element]:
    """When it escalates, without naming the group (a mention would page it now)."""
    escalation = facts.escalation
    if escalation is None:
        return []
    if escalation.state is EscalationState.DUE:
        return [rt.text(" · escalates "), rt.date(escalation.due_at, rt.RELATIVE)]
    if escalation.state is EscalationState.ESCALATED:
        return [rt.text(" · escalated to "), rt.usergroup(escalation.group)]
    if escalation.state is EscalationState.FAILED:
        return [rt.text(" · the escalation failed: its group could not be resolved")]
    return []


def _count(facts: Tally) -> str:
    if facts.is_quorum:
        return f"{facts.progress} approvals"
    return "1 approval needed" if not facts.approved else "1 of 1 approval"


def _outcome(facts: Tally) -> list[rt.Element]:
    """What ended the request, in one line; the votes below say the rest."""
    icon = STATUS_ICON[facts.status] + " "
    at = facts.closed_at or facts.deadline
    approvers = [v.user for v in facts.approvals]
    if facts.status is Status.APPROVED:
        return [rt.text(icon + "Approved", bold=True), rt.text(" by "), *_and(approvers)]
    if facts.status is Status.REJECTED:
        return [rt.text(icon + "Rejected", bold=True), rt.text(" by "), rt.person(facts.closed_by)]
    if facts.status is Status.EXPIRED:
        line = [rt.text(icon + "Expired", bold=True), rt.text(" "), rt.date(at)]
        if approvers:
            return [*line, rt.text(f" with {facts.progress} approvals, from "), *_and(approvers)]
        return [*line, rt.text(": nobody voted before the deadline")]
    line = [rt.text(icon + "Cancelled", bold=True), rt.text(" by "), rt.person(facts.closed_by)]
    return [*line, rt.text(" "), rt.date(at)]


def _and(users: list[str]) -> list[rt.Element]:
    if len(users) <= 2:
        return rt.people(users, " and ")
    return [*rt.people(users[:-1]), rt.text(" and "), rt.person(users[-1])]


def tracker(approval: Approval) -> dict[str, Any]:
    """The per-person quorum tracker: the count, every vote with its time and reason,
    who may still vote and when it escalates; after the outcome, what ended it."""
    facts = tally(approval)
    parts: list[rt.Element] = []
    if facts.status is Status.PENDING:
        head = [rt.text(_count(facts), bold=True), *_escalation(facts)]
        parts.append(rt.section(head))
    else:
        parts.append(rt.section(_outcome(facts)))
    parts += _votes(facts)
    if facts.status is Status.CANCELLED and facts.reason:
        parts.append(rt.quote(facts.reason))
    if facts.status is Status.PENDING and facts.waiting:
        parts.append(rt.section(_waiting(facts, approval)))
    return rt.block(*parts, block_id="signoff.tracker")


def origin(approval: Approval) -> dict[str, Any]:
    """Where the request came from, its deadline (absolute and relative) and its id."""
    line: list[rt.Element] = [rt.text("Requested by "), rt.person(approval.requester)]
    if approval.gate is not None:  # started by a CI gate: its links name the run
        line += [rt.text(" through the "), rt.text(approval.gate.kind, code=True), rt.text(" gate")]
    if approval.policy.name:
        line += [rt.text(" · policy "), rt.text(approval.policy.name, code=True)]
    line += [
        rt.text(" · deadline "),
        rt.date(approval.expires_at),
        rt.text(" ("),
        rt.date(approval.expires_at, rt.RELATIVE),
        rt.text(") · "),
        rt.text(approval.id, code=True),
    ]
    bound = bound_line(approval)
    sections = [rt.section(bound), rt.section(line)] if bound else [rt.section(line)]
    return rt.block(*sections, block_id="signoff.origin")


def bound_line(approval: Approval) -> list[rt.Element]:
    """What the request approves (its bindings) and the approval it reused, if any."""
    line: list[rt.Element] = []
    if approval.bindings:
        line.append(rt.text("Approves only "))
        line += rt.joined(
            [rt.text(f"{b.kind.value} "), rt.text(b.value, code=True)] for b in approval.bindings
        )
    if approval.reused_from:
        line += [
            rt.text(" · " if line else ""),
            rt.text("Reused approval "),
            rt.text(approval.reused_from, code=True),
        ]
    return line


def approval_message(approval: Approval) -> Blocks:
    """The decision card; after the outcome, the same card without its buttons."""
    blocks: Blocks = [header(approval)]
    if approval.description:
        blocks.append(rt.block(rt.section(rt.text(approval.description))))
    blocks += field_blocks(approval)
    if approval.links:
        blocks.append(link_buttons(approval))
    blocks += [tracker(approval), origin(approval)]
    if approval.status is Status.PENDING:
        blocks.append(decide_actions(approval, cancel=True))
    return blocks


def _confirm(title: str, text: str, yes: str, no: str, *, danger: bool = False) -> dict[str, Any]:
    dialog: dict[str, Any] = {
        "title": rt.plain(title),
        "text": rt.plain(text),
        "confirm": rt.plain(yes),
        "deny": rt.plain(no),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def approve_confirm(approval: Approval) -> dict[str, Any]:
    """The Approve confirmation: the title as typed and what this approval does."""
    said = consequence(tally(approval), Decision.APPROVE)
    return _confirm("Approve this request?", f"{approval.title}\n\n{said}", "Approve", "Go back")


LINK_ACTION = "signoff.link"


def link_buttons(approval: Approval) -> dict[str, Any]:
    """The request's links (a CI run, a diff) as labelled buttons that open them; kept
    after the outcome. Names are plain text, so nothing in them is markup."""
    return {
        "type": "actions",
        "block_id": "signoff.links",
        "elements": [
            {
                "type": "button",
                "action_id": f"{LINK_ACTION}.{index}",
                "text": rt.plain(link.name),
                "url": link.url,
                # Read as "Open PR" where it fits Slack's 75; else the name alone, whole.
                **(
                    {"accessibility_label": f"Open {link.name}"}
                    if len(link.name) <= LABEL - 5
                    else {}
                ),
            }
            for index, link in enumerate(approval.links)
        ],
    }


def decide_actions(
    approval: Approval, block_id: str = DECIDE_BLOCK, *, cancel: bool = False
) -> dict[str, Any]:
    """Approve (with a confirmation that says what it does) and Reject… (its reason
    dialog), carrying the approval's id; with `cancel`, an overflow menu holding
    "Cancel request…" (the channel message: whoever may cancel is there)."""
    facts = tally(approval)
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": APPROVE_ACTION,
            "text": rt.plain("Approve"),
            "style": "primary",
            "value": approval.id,
            "accessibility_label": _approve_label(facts),
            "confirm": approve_confirm(approval),
        },
        {
            "type": "button",
            "action_id": REJECT_ACTION,
            "text": rt.plain("Reject…"),
            "style": "danger",
            "value": approval.id,
            "accessibility_label": "Reject… — a dialog asks for your reason",
        },
    ]
    if cancel:
        elements.append(cancel_menu(approval))
    return {"type": "actions", "block_id": block_id, "elements": elements}


def _approve_label(facts: Tally) -> str:
    # Starts with the button's own words, so a screen reader and a voice command agree.
    if facts.completes(Decision.APPROVE):
        return "Approve — your approval completes the request"
    return f"Approve — {facts.missing - 1} more needed after yours"


def cancel_menu(approval: Approval) -> dict[str, Any]:
    """The overflow menu with "Cancel request…": only the requester or an admin may use
    it (the rule is checked on the click), so it is not a button beside Approve."""
    return {
        "type": "overflow",
        "action_id": CANCEL_ACTION,
        "options": [{"text": rt.plain("Cancel request…"), "value": approval.id}],
        "confirm": _confirm(
            "Cancel this request?",
            "Only the requester or an admin can cancel it. Nobody will be able to approve "
            "it afterwards, and the waiting pipeline stops. A dialog asks for your reason.",
            "Cancel request",
            "Keep it",
            danger=True,
        ),
    }


def _reason_modal(
    approval: Approval, callback_id: str, title: str, submit: str, said: str, label: str
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": approval.id,
        "title": rt.plain(title),
        "submit": rt.plain(submit),
        "close": rt.plain("Go back"),
        "blocks": [
            {"type": "header", "text": rt.plain(approval.title)},
            rt.block(rt.section(rt.text(said))),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": rt.plain(label),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            },
        ],
    }


def reject_modal(approval: Approval) -> dict[str, Any]:
    said = consequence(tally(approval), Decision.REJECT) + " Everyone sees your reason."
    return _reason_modal(
        approval, REJECT_VIEW, "Reject request", "Reject", said, "Why are you rejecting it?"
    )


def cancel_modal(approval: Approval) -> dict[str, Any]:
    said = (
        "Cancelling ends the request: nobody can approve it afterwards and the waiting "
        "pipeline stops. Your reason is shown on the request and kept in its audit trail."
    )
    return _reason_modal(
        approval, CANCEL_VIEW, "Cancel request", "Cancel request", said, "Why cancel it?"
    )


def show_blocks(approval: Approval) -> Blocks:
    blocks = approval_message(approval)
    # Read-only view: no buttons outside the request's own message.
    return [b for b in blocks if b.get("block_id") != DECIDE_BLOCK]


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


def _progress(approval: Approval) -> list[rt.Element]:
    """A request's state in one run: "⏳ 1 of 2 approvals · deadline …" or its outcome."""
    facts = tally(approval)
    if facts.status is not Status.PENDING:
        return _outcome(facts)
    return [
        rt.text(f"{STATUS_ICON[Status.PENDING]} {_count(facts)}"),
        *_escalation(facts),
        rt.text(" · deadline "),
        rt.date(approval.expires_at),
        rt.text(" ("),
        rt.date(approval.expires_at, rt.RELATIVE),
        rt.text(")"),
    ]


def summary(approval: Approval, link: str | None = None) -> dict[str, Any]:
    """One request in a list: its title, id, requester, progress and deadline (or its
    outcome), and a link to its message when one is known."""
    title: list[rt.Element] = [
        rt.text(approval.title, bold=True),
        rt.text(" "),
        rt.text(approval.id, code=True),
    ]
    if link:
        title += [rt.text(" · "), rt.link(link, "open the request")]
    return rt.block(
        rt.section(title),
        rt.section(
            rt.text("Requested by "),
            rt.person(approval.requester),
            rt.text(" · "),
            _progress(approval),
        ),
    )


def _voting_row(approval: Approval, link: str | None) -> Blocks:
    """A request where a vote can be cast: what it is (fields and progress), then its
    buttons, so nobody approves a title alone."""
    row = summary(approval, link)
    for name, value in approval.fields:
        row["elements"].append(rt.section(rt.text(name, bold=True), rt.text(": " + value)))
    return [row, decide_actions(approval, f"{DECIDE_BLOCK}.{approval.id}")]


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
                        "text": rt.plain("Next page"),
                        "value": next_cursor,
                    }
                ],
            }
        )
    return blocks


def pending_list(approvals: list[Approval]) -> Blocks:
    return pending_page(approvals[:45], None)


def _with_buttons(approvals: list[Approval], links: Mapping[str, str]) -> Blocks:
    blocks: Blocks = []
    for approval in approvals:
        blocks += _voting_row(approval, links.get(approval.id))
    return blocks


def _more(count: int, shown: int, where: str) -> Blocks:
    if count <= shown:
        return []
    return [{"type": "context", "elements": [_mrkdwn(f"…and {count - shown} more {where}.")]}]


def mine_list(waiting: list[Approval], links: Mapping[str, str] | None = None) -> Blocks:
    """`/signoff mine`: what waits for the caller's vote, each with its fields, progress,
    a link to its message (`links`: approval id → permalink, where known) and buttons."""
    if not waiting:
        return [{"type": "section", "text": _mrkdwn("Nothing is waiting for your vote.")}]
    blocks: Blocks = [
        {"type": "section", "text": _mrkdwn(f"*Waiting for your vote ({len(waiting)})*")}
    ]
    blocks += _with_buttons(waiting[:MINE_SHOWN], links or {})
    return blocks + _more(len(waiting), MINE_SHOWN, "(see the app's Home tab or /signoff list)")


def home_view(
    waiting: list[Approval],
    asked: list[Approval],
    notice: str = "",
    links: Mapping[str, str] | None = None,
    totals: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The App Home tab: what waits for my vote (with its context and buttons) and what I
    asked for. `links` maps an approval id to its message's permalink, where known;
    `totals` is how many each list holds when only its first ones were read.

    `notice` is signoff's own sentence (already Slack text), e.g. why a click was refused.
    """
    links = links or {}
    blocks: Blocks = []
    if notice:
        blocks.append({"type": "section", "text": _mrkdwn(notice)})
    blocks.append({"type": "header", "text": rt.plain("Waiting for your vote")})
    blocks += _with_buttons(waiting[:HOME_SHOWN], links) or [
        {"type": "section", "text": _mrkdwn("Nothing is waiting for your vote.")}
    ]
    waiting_total, asked_total = totals or (len(waiting), len(asked))
    blocks += _more(waiting_total, HOME_SHOWN, "(see /signoff list)")
    blocks += [
        {"type": "divider"},
        {"type": "header", "text": rt.plain("What you asked for")},
    ]
    blocks += [summary(a, links.get(a.id)) for a in asked[:HOME_SHOWN]] or [
        {"type": "section", "text": _mrkdwn("None of your requests is pending.")}
    ]
    blocks += _more(asked_total, HOME_SHOWN, "(see /signoff list)")
    return {"type": "home", "callback_id": "signoff.home", "blocks": blocks}


# -- notices: thread replies and direct messages ---------------------------------------


@frozen
class Notice:
    """A message signoff sends besides the request: its fallback text and its blocks."""

    text: str
    blocks: Blocks


def _notice(text: str, fallback: str) -> Notice:
    """A notice in signoff's own words only (no user text: it is mrkdwn)."""
    return Notice(fallback, [{"type": "section", "text": _mrkdwn(text)}])


def _rich_notice(fallback: str, *parts: rt.Element) -> Notice:
    """A notice that carries user text: rich text, shown as typed."""
    return Notice(fallback, [rt.block(*parts)])


def _request_ref(approval: Approval, link: str | None) -> list[rt.Element]:
    ref = [rt.text(approval.title, bold=True), rt.text(" · "), rt.text(approval.id, code=True)]
    if link:
        ref += [rt.text(" · "), rt.link(link, "Open the request")]
    return ref


def _outcome_parts(approval: Approval) -> list[rt.Element]:
    """The outcome line, then its reason quoted whole (every line of it)."""
    facts = tally(approval)
    parts = [rt.section(_outcome(facts))]
    if facts.reason and facts.status in (Status.REJECTED, Status.CANCELLED):
        parts.append(rt.quote(facts.reason))
    return parts


def vote_notice(vote: Vote) -> Notice:
    """The thread reply for an accepted vote."""
    approved = vote.decision is Decision.APPROVE
    icon = STATUS_ICON[Status.APPROVED if approved else Status.REJECTED]
    did = " approved" if approved else " rejected"
    line = rt.section(rt.text(icon + " "), rt.person(vote.user), rt.text(did))
    parts = [line, rt.quote(vote.reason)] if vote.reason else [line]
    return _rich_notice(f"A vote: {vote.decision.value}", *parts)


def outcome_notice(approval: Approval) -> Notice:
    """The thread reply for the outcome: what, who, when, why."""
    return _rich_notice(fallback_text(approval), *_outcome_parts(approval))


def reminder_notice(approval: Approval, number: int) -> Notice:
    """The thread reply for reminder `number`: who has not voted yet, and what is missing."""
    missing = approval.approvals_missing
    needed = f"{missing} more approval{'s' if missing != 1 else ''} needed"
    line = rt.section(
        rt.text(f"\U0001f514 Reminder {number}: "),
        rt.people(approval.waiting_for()),
        rt.text(f" — still waiting for your vote ({needed}, deadline "),
        rt.date(approval.expires_at),
        rt.text(")"),
    )
    return _rich_notice(f"Reminder: {escape(approval.title)} is waiting for your vote", line)


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
    return _rich_notice(
        f"Your request is posted: {escape(approval.title)}",
        rt.section(rt.text("Your request is posted: "), _request_ref(approval, link)),
        rt.section(
            rt.text("Waiting for "),
            _named(tally(approval).waiting),
            rt.text(" · deadline "),
            rt.date(approval.expires_at),
        ),
    )


def outcome_dm(approval: Approval, link: str | None) -> Notice:
    """To the requester, once the request has ended: the outcome, who, why."""
    return _rich_notice(
        f"Your request ended: {fallback_text(approval)}",
        *_outcome_parts(approval),
        rt.section(rt.text("Your request "), _request_ref(approval, link)),
    )


def slack_failure_dm(approval: Approval, error: str, advice: str) -> Notice:
    """To the requester, when Slack refused something for good and a person must act."""
    return _rich_notice(
        f"signoff could not reach Slack for {escape(approval.title)}",
        rt.section(
            rt.text("\u26a0\ufe0f signoff could not reach Slack for your request "),
            _request_ref(approval, None),
            rt.text(": Slack said "),
            rt.text(error, code=True),
            rt.text(".\n" + advice),
        ),
    )
