"""Releasing an approval's CI hold: once, retried until it succeeds, audited.

The notifier calls `release_gate` for every closed approval it follows up. A once-claim
on the record (`gate:<id>`) makes the release happen once however often SNS delivers and
the workflow replays; a retryable failure gives the claim back and raises, so the
delivery is tried again (the notifier's bounded policy, `SLACK_TRIES`: the last failure
is audited as `gate_failed` and the event goes to the dead-letter queue, which
`signoff redrive` replays; `notify.unfinished` lists it for a re-drive too). A permanent
failure is audited once and not tried again. Success is audited as `gate_released` with
the CI system's answer, in the same write that marks the claim done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Self

from signoff.claims import Claims
from signoff.gates.port import GateFailedError, GateRetryError, Gates, verdict
from signoff.model import Approval, AuditEvent, AuditKind, OnceClaim, utc

log = logging.getLogger(__name__)

MAX_ANSWER = 500  # the CI system's answer kept in the audit trail


@dataclass(frozen=True, kw_only=True)
class GateReleased:
    """The CI system's hold was released: which gate, as what, and what it answered."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.GATE_RELEASED})
    kind: str
    state: str  # approved | rejected
    answer: str

    def detail(self) -> dict[str, str]:
        return {"kind": self.kind, "state": self.state, "answer": self.answer[:MAX_ANSWER]}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(
            kind=detail.get("kind", ""),
            state=detail.get("state", ""),
            answer=detail.get("answer", ""),
        )


@dataclass(frozen=True, kw_only=True)
class GateFailed:
    """Releasing it failed: the error, how often it was tried, whether it is tried again."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.GATE_FAILED})
    kind: str
    error: str
    what_to_do: str
    tries: int = 0  # 0: refused for good at the first try (not retried)

    def detail(self) -> dict[str, str]:
        detail = {
            "kind": self.kind,
            "error": self.error[:MAX_ANSWER],
            "what_to_do": self.what_to_do,
        }
        if self.tries:
            detail["tries"] = str(self.tries)
        return detail

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        tries = detail.get("tries", "0")
        return cls(
            kind=detail.get("kind", ""),
            error=detail.get("error", ""),
            what_to_do=detail.get("what_to_do", ""),
            tries=int(tries) if tries.isdigit() else 0,
        )


def gate_key(approval: Approval) -> str:
    """The once-key of the approval's release."""
    return f"gate:{approval.id}"


def release_gate(
    claims: Claims,
    gates: Gates,
    approval: Approval,
    *,
    clock: Callable[[], datetime],
    lease: timedelta,
    tries: int,
) -> None:
    """Release the approval's CI hold once its outcome is committed (nothing otherwise).

    Raises GateRetryError when the release must be tried again later (the `tries`-th
    failure is audited, and it still raises: a re-drive goes on trying).
    """
    ref = approval.gate
    if ref is None or not approval.status.is_closed:
        return
    key = gate_key(approval)
    claim = claims.claim_once(approval.id, key, clock(), lease)
    if claim is OnceClaim.DONE:
        return
    if claim is OnceClaim.BUSY:
        raise GateRetryError(f"{approval.id}: another delivery is releasing its {ref.kind} gate")
    state = "approved" if verdict(approval).approved else "rejected"
    gate = gates.get(ref.kind)
    by_hand = f"approve or reject the run in {ref.kind} by hand: signoff will not try again"
    if gate is None:
        failed = GateFailed(
            kind=ref.kind, error=f"this deployment has no {ref.kind} gate", what_to_do=by_hand
        )
        _finish(claims, approval, key, clock, (AuditKind.GATE_FAILED, failed.detail()))
        return
    try:
        answer = gate.release(approval, ref)
    except GateFailedError as exc:
        log.warning("%s: releasing the %s gate failed for good: %s", approval.id, ref.kind, exc)
        failed = GateFailed(kind=ref.kind, error=str(exc), what_to_do=by_hand)
        _finish(claims, approval, key, clock, (AuditKind.GATE_FAILED, failed.detail()))
        return
    except GateRetryError as exc:
        claims.release_once(approval.id, key)
        failures = claims.count_failure(approval.id, f"{key}:retry", clock())
        log.warning(
            "%s: releasing the %s gate failed (try %d): %s", approval.id, ref.kind, failures, exc
        )
        if failures == tries:
            noted = f"{key}:failed"
            if claims.claim_once(approval.id, noted, clock(), lease).granted:
                failed = GateFailed(
                    kind=ref.kind,
                    error=str(exc),
                    tries=failures,
                    what_to_do="it is tried again by `signoff redrive` until it succeeds",
                )
                _finish(claims, approval, noted, clock, (AuditKind.GATE_FAILED, failed.detail()))
        raise
    released = GateReleased(kind=ref.kind, state=state, answer=answer)
    _finish(claims, approval, key, clock, (AuditKind.GATE_RELEASED, released.detail()))
    log.info("%s: released its %s gate as %s", approval.id, ref.kind, state)


def _finish(
    claims: Claims,
    approval: Approval,
    key: str,
    clock: Callable[[], datetime],
    note: tuple[AuditKind, dict[str, str]],
) -> None:
    now = utc(clock())
    event = AuditEvent(kind=note[0], at=now, actor="signoff", detail=note[1])
    claims.finish_once(approval.id, key, now, event)
