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
from datetime import timedelta

from signoff.gates.port import GateFailedError, GateRetryError, Gates, verdict
from signoff.model import Approval, AuditKind, OnceClaim
from signoff.service import Approvals

log = logging.getLogger(__name__)

MAX_ANSWER = 500  # the CI system's answer kept in the audit trail


def gate_key(approval: Approval) -> str:
    """The once-key of the approval's release."""
    return f"gate:{approval.id}"


def release_gate(
    approvals: Approvals, gates: Gates, approval: Approval, lease: timedelta, tries: int
) -> None:
    """Release the approval's CI hold once its outcome is committed (nothing otherwise).

    Raises GateRetryError when the release must be tried again later (after `tries`
    failures the last one is audited, and it still raises: a re-drive goes on trying).
    """
    ref = approval.gate
    if ref is None or not approval.status.is_closed:
        return
    key = gate_key(approval)
    claim = approvals.claim_once(approval.id, key, lease)
    if claim is OnceClaim.DONE:
        return
    if claim is OnceClaim.BUSY:
        raise GateRetryError(f"{approval.id}: another delivery is releasing its {ref.kind} gate")
    state = "approved" if verdict(approval).approved else "rejected"
    gate = gates.get(ref.kind)
    if gate is None:
        _failed(approvals, approval, key, f"this deployment has no {ref.kind} gate", retried=False)
        return
    try:
        answer = gate.release(approval, ref)
    except GateFailedError as exc:
        _failed(approvals, approval, key, str(exc), retried=False)
        return
    except GateRetryError as exc:
        approvals.release_once(approval.id, key)
        failures = approvals.count_failure(approval.id, f"{key}:retry")
        log.warning(
            "%s: releasing the %s gate failed (try %d): %s", approval.id, ref.kind, failures, exc
        )
        if failures == tries:
            note = {"kind": ref.kind, "error": str(exc)[:MAX_ANSWER], "tries": str(failures)}
            note["what_to_do"] = "it is tried again by `signoff redrive` until it succeeds"
            approvals.note(approval.id, AuditKind.GATE_FAILED, note)
        raise
    detail = {"kind": ref.kind, "state": state, "answer": answer[:MAX_ANSWER]}
    approvals.finish_once(approval.id, key, (AuditKind.GATE_RELEASED, detail))
    log.info("%s: released its %s gate as %s", approval.id, ref.kind, state)


def _failed(
    approvals: Approvals, approval: Approval, key: str, error: str, *, retried: bool
) -> None:
    kind = approval.gate.kind if approval.gate else ""
    log.warning("%s: releasing the %s gate failed for good: %s", approval.id, kind, error)
    detail = {"kind": kind, "error": error[:MAX_ANSWER], "retried": "yes" if retried else "no"}
    detail["what_to_do"] = f"release the hold in {kind} by hand: signoff cannot"
    approvals.finish_once(approval.id, key, (AuditKind.GATE_FAILED, detail))
