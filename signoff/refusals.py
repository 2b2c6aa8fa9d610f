"""Why the rules say no: a code, and the sentence a person reads, derived from it.

The code is what software keys on (the `ClicksRefused` metric, the audit event's
`code`); the sentence is written here once, from the code and its details (the status
of a closed request, the stack that takes no CLI decisions), and never parsed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


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


_OFF = "stack {stack} takes no decisions from the CLI ({output} is {allowed})"

# Each code's sentence; `{name}` is filled from the refusal's details.
SENTENCES: Mapping[RefusalCode, str] = {
    RefusalCode.CLOSED: "this request is already {status}",
    RefusalCode.EXPIRED: "this request has expired",
    RefusalCode.NOT_APPROVER: "you are not an approver of this request",
    RefusalCode.SELF_APPROVAL: "you requested this, and self-approval is not allowed",
    RefusalCode.ALREADY_VOTED: "you already {vote} this request, and a vote cannot be changed",
    RefusalCode.NOT_REQUESTER_OR_ADMIN: "only the requester or an admin can cancel this request",
    RefusalCode.POLICIES_UNREADABLE: (
        "the deployment's policy document cannot be read, so nobody but the requester can "
        "cancel until an operator fixes it"
    ),
    RefusalCode.NOT_DUE: "this request is not due to expire",
    RefusalCode.NO_ESCALATION: "this request's policy has no escalation",
    RefusalCode.ESCALATED_ALREADY: "this request was escalated already",
    RefusalCode.CLI_DECISIONS_UNSTATED: (
        "stack {stack} does not say whether it takes decisions from the CLI (no {output} "
        "output: it was deployed from an older template.yaml); redeploy it, or decide in Slack"
    ),
    RefusalCode.CLI_DECISIONS_OFF: (
        _OFF + ": approve or reject in Slack, or redeploy with {output}=true"
    ),
    RefusalCode.CLI_CANCEL_REQUESTER_ONLY: (
        _OFF + ": only its requester ({requester}) may cancel {approval_id} from the CLI"
    ),
}


@dataclass(frozen=True)
class Refusal:
    """A refusal by the rules: its code and what its sentence names."""

    code: RefusalCode
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A detail the sentence names and the refusal lacks fails where it is made.
        SENTENCES[self.code].format_map(self.details)

    @property
    def text(self) -> str:
        """The sentence a person reads (lowercase, no final stop: it is quoted in others)."""
        return SENTENCES[self.code].format_map(self.details)

    def __str__(self) -> str:
        return self.text
