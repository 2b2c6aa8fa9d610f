"""Where an approval stands: every vote, who may still vote, how many are needed, when it
escalates. Pure: the card, the DMs, `/signoff show`, App Home and the CLI all read these
facts from `tally(approval)`, so no surface counts a quorum its own way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from signoff.frozen import frozen
from signoff.model import Approval, Decision, Status, utc


class EscalationState(StrEnum):
    DUE = "due"  # pending, and the escalation has not fired yet: `due_at` says when
    ESCALATED = "escalated"  # the group's members joined the approvers
    FAILED = "failed"  # it fired, but the group could not be resolved: nobody was added
    MOOT = "moot"  # it cannot fire any more: decided first, or due at or after the deadline


@frozen(kw_only=True)
class Escalation:
    """A named policy's escalation as it stands. The group is an id: surfaces mention it
    only once it has fired (a mention pages the whole group)."""

    group: str
    after: timedelta
    due_at: datetime
    state: EscalationState

    def due_in(self, now: datetime) -> timedelta | None:
        """Time left until it fires (never negative); None unless it is still due."""
        if self.state is not EscalationState.DUE:
            return None
        return max(timedelta(0), self.due_at - utc(now))


@frozen(kw_only=True)
class CountedVote:
    """One vote as every surface shows it."""

    user: str
    decision: Decision
    at: datetime
    reason: str = ""
    # The requester approving their own request (only where a named policy allows it).
    self_approval: bool = False
    # This vote made the outcome: the approval that completed the quorum, or the rejection.
    decisive: bool = False


@frozen(kw_only=True)
class Tally:
    """The truth about one approval's votes, for every surface to render."""

    id: str
    status: Status
    needed: int  # approvals the rule needs (the quorum)
    votes: tuple[CountedVote, ...]  # every vote, in the order cast
    waiting: tuple[str, ...]  # who may still vote; empty once the request is closed
    deadline: datetime
    escalation: Escalation | None = None
    # Who closed it and why: the decisive voter, the canceller (empty for an expiry).
    closed_by: str = ""
    closed_at: datetime | None = None
    reason: str = ""  # the rejection's or the cancellation's reason

    @property
    def approvals(self) -> tuple[CountedVote, ...]:
        return tuple(v for v in self.votes if v.decision is Decision.APPROVE)

    @property
    def rejections(self) -> tuple[CountedVote, ...]:
        return tuple(v for v in self.votes if v.decision is Decision.REJECT)

    @property
    def approved(self) -> int:
        return len(self.approvals)

    @property
    def missing(self) -> int:
        """Approvals still needed for the rule (0 once it is met)."""
        return max(0, self.needed - self.approved)

    @property
    def progress(self) -> str:
        """ "1 of 2": approvals counted of those needed."""
        return f"{self.approved} of {self.needed}"

    @property
    def is_quorum(self) -> bool:
        """More than one approval is needed: worth a per-person tracker and a count."""
        return self.needed > 1

    def completes(self, decision: Decision) -> bool:
        """Whether one more vote of `decision`, now, would close the request."""
        if self.status is not Status.PENDING:
            return False
        return decision is Decision.REJECT or self.missing <= 1

    def time_left(self, now: datetime) -> timedelta:
        return max(timedelta(0), self.deadline - utc(now))


def tally(approval: Approval) -> Tally:
    """The facts about `approval`'s votes; the same answer on every surface."""
    policy = approval.policy
    decisive_at = len(approval.votes) - 1 if approval.status in _DECIDED_BY_VOTE else -1
    votes = tuple(
        CountedVote(
            user=v.user,
            decision=v.decision,
            at=v.at,
            reason=v.reason,
            self_approval=v.decision is Decision.APPROVE and v.user == approval.requester,
            decisive=index == decisive_at,
        )
        for index, v in enumerate(approval.votes)
    )
    closed = approval.status is not Status.PENDING
    return Tally(
        id=approval.id,
        status=approval.status,
        needed=policy.min_approvals,
        votes=votes,
        waiting=() if closed else approval.waiting_for(),
        deadline=approval.expires_at,
        escalation=_escalation(approval),
        closed_by=approval.decided_by if closed else "",
        closed_at=approval.decided_at if closed else None,
        reason=approval.reason if closed else "",
    )


# A vote closes a request as approved or rejected; the last vote is the one that did.
_DECIDED_BY_VOTE = (Status.APPROVED, Status.REJECTED)


def _escalation(approval: Approval) -> Escalation | None:
    policy = approval.policy
    if not policy.escalate_to or not policy.escalate_after:
        return None
    due_at = approval.created_at + policy.escalate_after
    if policy.escalated:
        state = (
            EscalationState.ESCALATED
            if policy.escalate_to in policy.groups
            else EscalationState.FAILED
        )
    elif approval.status is Status.PENDING and due_at < approval.expires_at:
        state = EscalationState.DUE
    else:
        state = EscalationState.MOOT
    return Escalation(
        group=policy.escalate_to, after=policy.escalate_after, due_at=due_at, state=state
    )
