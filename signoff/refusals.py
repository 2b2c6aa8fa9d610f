"""Why the rules say no: a code, and the sentence a person reads, derived from it.

The code is what software keys on (the `ClicksRefused` metric, the audit event's
`code`); the sentence is written here once, from the code and its details (the status
of a closed request, who decided it and when, its approvers), and never parsed back.
Each sentence names the request where the details do, says why in the rule's own words
(your own request with self-approval off is not "not an approver"), and what the person
can do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, datetime
from enum import StrEnum

from signoff.frozen import frozen


class RefusalCode(StrEnum):
    # a vote (Approve, Reject, the reason, `signoff decide`)
    CLOSED = "closed"
    EXPIRED = "expired"
    NOT_APPROVER = "not_approver"
    SELF_APPROVAL = "self_approval"
    ALREADY_VOTED = "already_voted"
    # a cancel
    NOT_REQUESTER_OR_ADMIN = "not_requester_or_admin"
    POLICIES_UNREADABLE = "policies_unreadable"
    # the workflow's own changes
    NOT_DUE = "not_due"
    NO_ESCALATION = "no_escalation"
    ESCALATED_ALREADY = "escalated_already"
    # a decision from the CLI on a deployed stack (its AllowCliDecisions output)
    CLI_DECISIONS_UNSTATED = "cli_decisions_unstated"
    CLI_DECISIONS_OFF = "cli_decisions_off"
    CLI_CANCEL_REQUESTER_ONLY = "cli_cancel_requester_only"
    # a pipeline's report (`signoff report`)
    NOT_APPROVED = "not_approved"


_OFF = "stack {stack} takes no decisions from the CLI ({output} is {allowed})"

Details = Mapping[str, str]


def _when(stamp: str) -> str:
    """An ISO timestamp from the details as people read it (UTC, to the minute)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return stamp
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _request(d: Details) -> str:
    """The request a refusal is about, by its title and id ("this request" when unnamed)."""
    if not d.get("approval_id"):
        return "this request"
    return f"\u201c{d['title']}\u201d ({d['approval_id']})" if d.get("title") else d["approval_id"]


def _closed(d: Details) -> str:
    status = d["status"]
    by, at = d.get("by", ""), _when(d.get("at", ""))
    if status == "expired":
        how = f"it expired at {at}" if at else ""
    elif by:
        how = f"{by} {'cancelled' if status == 'cancelled' else 'decided'} it"
        how += f" at {at}" if at else ""
    else:
        how = ""
    said = f"{_request(d)} is already {status}" + (f" ({how})" if how else "")
    return said + ": nothing more can be decided on it"


def _expired(d: Details) -> str:
    when = f" at {_when(d['deadline'])}" if d.get("deadline") else ""
    ask = f"ask {d['requester']} to start it again" if d.get("requester") else "start it again"
    return f"{_request(d)} has expired (its deadline passed{when}): {ask} if it is still needed"


def _not_approver(d: Details) -> str:
    said = f"you are not an approver of {_request(d)}"
    if d.get("approvers"):
        said += f": its approvers are {d['approvers']}; ask one of them to decide"
    return said


def _self_approval(d: Details) -> str:
    said = f"{_request(d)} is your own request, and self-approval is off for it"
    if d.get("approvers"):
        said += f": one of its approvers ({d['approvers']}) must decide it"
    return said


def _already_voted(d: Details) -> str:
    said = f"you already {d['vote']} {_request(d)}, and a vote cannot be changed"
    if d.get("requester"):
        said += f": if something changed, ask {d['requester']} to cancel it and ask again"
    return said


def _not_requester_or_admin(d: Details) -> str:
    who = f" ({d['requester']})" if d.get("requester") else ""
    return f"only the requester{who} or an admin can cancel {_request(d)}: ask them"


def _text(sentence: str) -> Callable[[Details], str]:
    return lambda d: sentence.format_map(d)


# Each code's sentence, made from the refusal's details: it names the request where the
# details do, says why in the rule's own words, and what the person can do.
SENTENCES: Mapping[RefusalCode, Callable[[Details], str]] = {
    RefusalCode.CLOSED: _closed,
    RefusalCode.EXPIRED: _expired,
    RefusalCode.NOT_APPROVER: _not_approver,
    RefusalCode.SELF_APPROVAL: _self_approval,
    RefusalCode.ALREADY_VOTED: _already_voted,
    RefusalCode.NOT_REQUESTER_OR_ADMIN: _not_requester_or_admin,
    RefusalCode.POLICIES_UNREADABLE: _text(
        "the deployment's policy document cannot be read, so nobody but the requester can "
        "cancel until an operator fixes it"
    ),
    RefusalCode.NOT_DUE: _text("this request is not due to expire"),
    RefusalCode.NO_ESCALATION: _text("this request's policy has no escalation"),
    RefusalCode.ESCALATED_ALREADY: _text("this request was escalated already"),
    RefusalCode.NOT_APPROVED: lambda d: (
        f"{_request(d)} is {d['status']}, not approved: a pipeline reports only on an "
        "approved request (signoff show says where it stands)"
    ),
    RefusalCode.CLI_DECISIONS_UNSTATED: _text(
        "stack {stack} does not say whether it takes decisions from the CLI (no {output} "
        "output: it was deployed from an older template.yaml); redeploy it, or decide in Slack"
    ),
    RefusalCode.CLI_DECISIONS_OFF: _text(
        _OFF + ": approve or reject in Slack, or redeploy with {output}=true"
    ),
    RefusalCode.CLI_CANCEL_REQUESTER_ONLY: _text(
        _OFF + ": only its requester ({requester}) may cancel {approval_id} from the CLI"
    ),
}


@frozen
class Refusal:
    """A refusal by the rules: its code and what its sentence names."""

    code: RefusalCode
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A detail the sentence names and the refusal lacks fails where it is made.
        SENTENCES[self.code](self.details)

    @property
    def text(self) -> str:
        """The sentence a person reads (lowercase, no final stop: it is quoted in others)."""
        return SENTENCES[self.code](self.details)

    def __str__(self) -> str:
        return self.text
