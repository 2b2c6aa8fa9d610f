"""What an approval covers: `signoff verify`'s verdict and the check every gate makes before
it releases anything. Plain Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from signoff.binding import Binding, BindingKind
from signoff.errors import SignoffError
from signoff.model import Approval, Status
from signoff.text import visible


def bound(approval: Approval, kind: BindingKind) -> str | None:
    return next((b.value for b in approval.bindings if b.kind is kind), None)


# -- verify: may this be deployed? ------------------------------------------------------


class VerifyCode(IntEnum):
    """`signoff verify`'s exit codes (0, 3, 4, 5 as `start --wait` uses them)."""

    APPROVED = 0
    UNKNOWN = 1
    REJECTED = 3
    EXPIRED = 4
    CANCELLED = 5
    MISMATCH = 6
    PENDING = 7


_STATUS_CODES = {
    Status.APPROVED: VerifyCode.APPROVED,
    Status.REJECTED: VerifyCode.REJECTED,
    Status.EXPIRED: VerifyCode.EXPIRED,
    Status.CANCELLED: VerifyCode.CANCELLED,
    Status.PENDING: VerifyCode.PENDING,
}


@dataclass(frozen=True)
class Verdict:
    code: VerifyCode
    sentence: str
    mismatches: tuple[str, ...] = ()


def mismatches(approval: Approval, given: Sequence[Binding]) -> tuple[str, ...]:
    """Each given value that is not what the approval bound, said in a phrase. A value of a
    kind the approval did not bind is a mismatch too: nothing was approved for it."""
    said: list[str] = []
    for wanted in given:
        have = bound(approval, wanted.kind)
        if have is None:
            said.append(f"no {wanted.kind} was bound, {wanted.value} was given")
        elif have != wanted.value:
            said.append(f"{wanted.kind} {have} was approved, {wanted.value} was given")
    return tuple(said)


def verdict(approval: Approval, given: Sequence[Binding]) -> Verdict:
    """Whether what `given` names may be deployed on the strength of `approval`.

    A mismatch is final whatever the status (bindings never change), so it is answered
    first: a pending approval for another commit will never approve this one.
    """
    wrong = mismatches(approval, given)
    if wrong:
        return Verdict(
            VerifyCode.MISMATCH,
            f"{approval.id} does not cover this: {'; '.join(wrong)}",
            wrong,
        )
    code = _STATUS_CODES[approval.status]
    if code is VerifyCode.APPROVED:
        names = ", ".join(str(b) for b in given) or "no values given"
        return Verdict(code, f"{approval.id} approved for {names}")
    return Verdict(code, f"{approval.id} is {approval.status.value}")


# -- the release path --------------------------------------------------------------------


class ReleaseRefusedError(SignoffError):
    """A gate was asked to release what the approval does not cover: nothing is released."""


def check_release(approval: Approval, sha: str | None = None) -> None:
    """What every gate asks before it releases anything: the approval is approved, and the
    commit being released is the one approved (when the approval bound one, a release
    must name it).

    `sha` is what the CI system is about to deploy (None when it does not say).
    """
    if approval.status is not Status.APPROVED:
        raise ReleaseRefusedError(f"{approval.id} is {approval.status.value}, not approved")
    approved = bound(approval, BindingKind.SHA)
    if approved is None:
        return
    if sha is None:
        raise ReleaseRefusedError(
            f"{approval.id} approved commit {approved}, and the release names no commit"
        )
    given = sha.strip().lower()
    if given != approved:
        raise ReleaseRefusedError(
            f"{approval.id} approved commit {approved}, not {visible(given[:72])}: "
            "a different commit needs its own approval"
        )
