"""The gate port: how a CI system's hold becomes an approval, and is released by its outcome.

A gate (GitHub's deployment protection rule, CodePipeline's manual approval, a GitLab
manual job) files a request whose `gate` names what the gate needs to release the hold
(`GateRef`: its kind and a small string map, kept immutably on the record), and whose
`links` point at the run. When the outcome is committed the notifier calls the gate's
`release` once (`signoff/gates/release.py`): approved releases the deployment, anything
else (rejected, expired, cancelled) releases it as rejected, with that said. What the CI
system shows names the people who decided and why (`verdict`), never only the bot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from signoff.ci import GateRef, Link, link_problems, links_problems, parse_links
from signoff.errors import SignoffError
from signoff.frozen import frozen

if TYPE_CHECKING:
    from signoff.model import Approval

__all__ = [  # the request's side (signoff.ci) re-exported with the gate's
    "Gate",
    "GateError",
    "GateFailedError",
    "GateRef",
    "GateRetryError",
    "Gates",
    "Link",
    "Verdict",
    "link_problems",
    "links_problems",
    "parse_links",
    "verdict",
]


class GateError(SignoffError):
    """Releasing a CI system's hold failed."""


class GateRetryError(GateError):
    """A failure that a later try may fix (the CI system down, throttled, a lost answer)."""


class GateFailedError(GateError):
    """A failure no retry fixes (the hold is gone, the credentials are refused)."""


class Gate(Protocol):
    """Releases one kind of CI hold."""

    kind: str

    def release(self, approval: Approval, ref: GateRef) -> str:
        """Release the hold as the approval's outcome says; returns what the CI system
        answered (for the audit). Raises GateRetryError when a later try may succeed,
        GateFailedError when none will."""
        ...


class Gates(Mapping[str, Gate]):
    """The deployment's gates by kind."""

    def __init__(self, *gates: Gate):
        self._gates = {gate.kind: gate for gate in gates}

    def __getitem__(self, kind: str) -> Gate:
        return self._gates[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._gates)

    def __len__(self) -> int:
        return len(self._gates)


@frozen(kw_only=True)
class Verdict:
    """What a gate tells its CI system: release or not, and a sentence naming who and why."""

    approved: bool
    summary: str


def verdict(approval: Approval) -> Verdict:
    """The outcome as a CI system shows it: the humans who decided, and their reasons.

    Only an approval releases the deployment; a rejection, an expiry or a cancel is a
    rejection with that said.
    """
    from signoff.model import Decision, Status, iso

    status = approval.status
    ref = f"signoff {approval.id}"
    if status is Status.APPROVED:
        people = ", ".join(approval.approved_by) or approval.decided_by
        reasons = [
            f"{v.user}: {v.reason}"
            for v in approval.votes
            if v.decision is Decision.APPROVE and v.reason
        ]
        said = f" ({'; '.join(reasons)})" if reasons else ""
        return Verdict(approved=True, summary=f"Approved by {people}{said} in {ref}.")
    if status is Status.REJECTED:
        why = f": {approval.reason}" if approval.reason else " (no reason given)"
        return Verdict(approved=False, summary=f"Rejected by {approval.decided_by}{why} in {ref}.")
    if status is Status.EXPIRED:
        votes = ", ".join(v.user for v in approval.votes if v.decision is Decision.APPROVE)
        got = f"; approved so far by {votes}" if votes else "; nobody had approved"
        return Verdict(
            approved=False,
            summary=(
                f"Rejected: {ref} expired at {iso(approval.expires_at)} before "
                f"{approval.policy.min_approvals} approval(s){got}."
            ),
        )
    if status is Status.CANCELLED:
        why = f": {approval.reason}" if approval.reason else ""
        return Verdict(
            approved=False,
            summary=f"Rejected: {ref} was cancelled by {approval.decided_by}{why}.",
        )
    raise GateFailedError(f"{approval.id} is still pending: nothing to release")
