"""What the CLI says about an approval: one time format, every vote, the wait's status line
and the JSON it prints. Pure: the clock and the time zone come in, strings go out, so
`list`, `show`, `wait` and `--json` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any

from signoff.codec import approval_json
from signoff.model import Approval, Decision, Status, iso
from signoff.tally import CountedVote, Tally, tally

_PAST = {
    Status.APPROVED: "approved",
    Status.REJECTED: "rejected",
    Status.EXPIRED: "expired",
    Status.CANCELLED: "cancelled",
}


def relative(delta: timedelta) -> str:
    """A span as people say it: "42 min", "3 h 5 min", "2 d 4 h" (rounded down)."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def ago(moment: datetime, now: datetime) -> str:
    """ "in 42 min" for the future, "3 h ago" for the past, "now" within a second."""
    delta = moment - now
    if abs(delta) < timedelta(seconds=1):
        return "now"
    return f"in {relative(delta)}" if delta > timedelta(0) else f"{relative(delta)} ago"


def when(moment: datetime | None, now: datetime, zone: tzinfo | None = None) -> str:
    """The one time format: local time with its zone, then relative to now.

    `zone` None is the machine's local zone (what the person at the terminal reads).
    """
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local.strftime('%Y-%m-%d %H:%M %Z')} ({ago(moment, now)})"


def names(people: tuple[str, ...] | list[str]) -> str:
    return ", ".join(people) if people else "nobody"


def vote_line(vote: CountedVote, now: datetime, zone: tzinfo | None = None) -> str:
    """One vote on one line: "approved by alice 2026-12-06 10:02 UTC (3 min ago)"."""
    act = "approved" if vote.decision is Decision.APPROVE else "rejected"
    marks = []
    if vote.self_approval:
        marks.append("self-approval")
    if vote.decisive:
        marks.append("decided it")
    suffix = f" [{', '.join(marks)}]" if marks else ""
    return f"{act} by {vote.user} {when(vote.at, now, zone)}{suffix}"


def vote_lines(counted: Tally, now: datetime, zone: tzinfo | None = None) -> Iterator[str]:
    """Every vote, each reason under it with every line quoted ("> "), in the order cast."""
    for vote in counted.votes:
        yield vote_line(vote, now, zone)
        if vote.reason:
            yield from (f"  > {line}" for line in vote.reason.splitlines() or [""])


def standing(counted: Tally, now: datetime) -> str:
    """Where a request stands, on one line: the wait's spinner and `show` print it.

    Pending: "1 of 2 — waiting for bob, carol — 28 min left" (and when it escalates);
    closed: what closed it and who voted.
    """
    if counted.status is Status.PENDING:
        parts = [
            counted.progress,
            f"waiting for {names(counted.waiting)}",
            f"{relative(counted.time_left(now))} left",
        ]
        escalation = counted.escalation
        due = escalation.due_in(now) if escalation else None
        if escalation and due is not None:
            parts.append(f"escalates to {escalation.group} in {relative(due)}")
        return " — ".join(parts)
    return outcome(counted)


def status_line(counted: Tally, now: datetime) -> str:
    """The status word, then where it stands: "pending: 1 of 2 — waiting for bob — 28 min
    left", "approved by alice, bob (2 of 2)"."""
    line = standing(counted, now)
    return f"pending: {line}" if counted.status is Status.PENDING else line


def outcome(counted: Tally) -> str:
    """How a closed request ended, naming every voter: "approved by alice, bob (2 of 2)"."""
    status = counted.status
    approvers = tuple(v.user for v in counted.approvals)
    if status is Status.APPROVED:
        return f"approved by {names(approvers)} ({counted.progress})"
    if status is Status.REJECTED:
        rejecter = counted.closed_by or names(tuple(v.user for v in counted.rejections))
        earlier = f"; approved before: {names(approvers)}" if approvers else ""
        return f"rejected by {rejecter}{earlier}"
    if status is Status.EXPIRED:
        if not approvers:
            return f"expired with 0 of {counted.needed} approvals: nobody voted before the deadline"
        return f"expired with {counted.progress} approvals (approved by {names(approvers)})"
    if status is Status.CANCELLED:
        by = f" by {counted.closed_by}" if counted.closed_by else ""
        voted = f"; approved before: {names(approvers)}" if approvers else ""
        return f"cancelled{by}{voted}"
    return _PAST.get(status, status.value)


def listed(approval: Approval, now: datetime, zone: tzinfo | None = None) -> Iterator[str]:
    """One approval as `list` prints it: the id first on its own line (never wrapped, to
    be copied), then the title, who asked and when, every vote, and the deadline."""
    counted = tally(approval)
    yield f"{approval.id}  {status_line(counted, now)}"
    yield f"  {approval.title}"
    yield f"  requested by {approval.requester} {when(approval.created_at, now, zone)}"
    yield from (f"  {line}" for line in vote_lines(counted, now, zone))
    if approval.status is Status.PENDING:
        yield f"  deadline {when(approval.expires_at, now, zone)}"
    elif approval.status is Status.CANCELLED:
        yield f"  cancelled by {approval.decided_by} {when(approval.decided_at, now, zone)}"
        if approval.reason:
            yield from (f"    > {line}" for line in approval.reason.splitlines())


def vote_json(vote: CountedVote) -> dict[str, Any]:
    """One vote as `--json` prints it (documented in the README)."""
    return {
        "user": vote.user,
        "decision": vote.decision.value,
        "at": iso(vote.at),
        "reason": vote.reason,
        "self_approval": vote.self_approval,
        "decisive": vote.decisive,
    }


def approval_view_json(approval: Approval) -> dict[str, Any]:
    """An approval as `list`, `show` and `wait` print it with `--json`: the record, every
    vote, and where the quorum stands (documented in the README)."""
    counted = tally(approval)
    escalation = counted.escalation
    return {
        **approval_json(approval),
        "votes": [vote_json(v) for v in counted.votes],
        "approvals": counted.approved,
        "waiting_for": list(counted.waiting),
        "escalation": (
            {
                "group": escalation.group,
                "due_at": iso(escalation.due_at),
                "state": escalation.state.value,
            }
            if escalation
            else None
        ),
    }
