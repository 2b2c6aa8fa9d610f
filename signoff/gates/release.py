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
from collections.abc import Callable
from datetime import datetime, timedelta

from signoff.claims import Claims
from signoff.gates.port import GateFailedError, GateRetryError, Gates, verdict
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    GateFailed,
    GateReleased,
    OnceClaim,
    utc,
)

log = logging.getLogger(__name__)

MAX_ANSWER = 500  # the CI system's answer kept in the audit trail


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
        failed = GateFailed(kind=ref.kind, error=str(exc)[:MAX_ANSWER], what_to_do=by_hand)
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
                    error=str(exc)[:MAX_ANSWER],
                    tries=failures,
                    what_to_do="it is tried again by `signoff redrive` until it succeeds",
                )
                _finish(claims, approval, noted, clock, (AuditKind.GATE_FAILED, failed.detail()))
        raise
    released = GateReleased(kind=ref.kind, state=state, answer=answer[:MAX_ANSWER])
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
