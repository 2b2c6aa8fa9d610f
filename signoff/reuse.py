"""Reuse of an approval for the same fingerprint: a policy's `reuse_for` lets a re-run of
what was approved (the same policy, exactly the same bindings) go ahead at once. Plain
Python, no I/O; `Approvals.open` looks the earlier approval up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from signoff.model import Approval, AuditEvent, AuditKind, StartRequest, Status, utc


def may_reuse(request: StartRequest) -> bool:
    """Whether `request` may be approved on an earlier approval: its policy allows reuse and
    it binds something (a request bound to nothing is always asked anew)."""
    return bool(request.reuse_for and request.bindings and request.policy)


def reusable(source: Approval, request: StartRequest, now: datetime) -> bool:
    """Whether `source` approves `request` again: approved by people (never itself a reuse,
    so a chain of re-runs cannot stretch the window) under the same policy, for exactly the
    same bindings, within the policy's `reuse_for` before `now`."""
    if not may_reuse(request) or request.reuse_for is None:
        return False
    return (
        source.id != request.id
        and source.status is Status.APPROVED
        and not source.reused_from
        and source.decided_at is not None
        and source.policy.name == request.policy
        and source.bindings == request.bindings
        and utc(now) - source.decided_at <= request.reuse_for
    )


def reuse(
    approval: Approval, source: Approval, now: datetime
) -> tuple[Approval, list[AuditEvent]] | None:
    """`approval` approved on `source`'s strength, audited as `reused`; None once decided."""
    if approval.status is not Status.PENDING:
        return None
    now = utc(now)
    approvers = source.approved_by or (source.decided_by,)
    new = replace(
        approval,
        status=Status.APPROVED,
        decided_by=source.decided_by,
        decided_at=now,
        reused_from=source.id,
        version=approval.version + 1,
    )
    detail = {
        "reused": source.id,
        "approved_by": ", ".join(approvers),
        "bindings": ", ".join(map(str, approval.bindings)),
    }
    return new, [AuditEvent(kind=AuditKind.REUSED, at=now, actor="signoff", detail=detail)]


def lookback(reuse_for: timedelta, longest_timeout: timedelta) -> timedelta:
    """How far back an approval approved within `reuse_for` may have been requested."""
    return reuse_for + longest_timeout
