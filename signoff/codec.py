"""One codec: the start payload ↔ `StartRequest`, the model ↔ DynamoDB items, and the
model → the JSON the CLI prints.

Items keep the layout written since the first release, so every item ever written still
reads (tests/unit/test_codec.py holds items as earlier versions wrote them). Content rules
(what an id, a person, a duration may be) are the model's validators; this module checks
only shape (a list of strings, a whole number) before handing values to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from signoff.errors import ValidationError
from signoff.history import approval_key, month
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Decision,
    Policy,
    RecordedEvent,
    SlackRef,
    StartRequest,
    Status,
    Vote,
    iso,
    parse_iso,
)
from signoff.schema import TTL_ATTRIBUTE, pending_cursor

# -- the table's keys ---------------------------------------------------------------------

META = "META"  # the approval item's sort key
PENDING_KEY = "PENDING"  # the sparse pending index's one partition
AUDIT_PREFIX = "AUDIT#"  # an audit event's sort key: AUDIT#<at>#<seq>#<ref>
# Attributes `approval_to_item` writes only in some states; a commit removes them when absent.
OPTIONAL_ATTRIBUTES = ("pending_pk", "pending_sk", TTL_ATTRIBUTE, "decided_at")


def approval_pk(approval_id: str) -> str:
    return f"APPROVAL#{approval_id}"


def approvals_pk(bucket: str) -> str:
    """The history index's partition of the approvals created in month `bucket`."""
    return f"APPROVALS#{bucket}"


def events_pk(bucket: str) -> str:
    """The history index's partition of the audit events of month `bucket`."""
    return f"EVENTS#{bucket}"


def status_pk(status: str, bucket: str) -> str:
    return f"{status}#{bucket}"


def expiry(expires_at: datetime, retention: timedelta) -> int:
    """The TTL of an approval and of every one of its audit events: `retention` after its
    deadline, which is known from the first write, so an event written while the request is
    pending gets the same value the approval keeps when it closes."""
    return int((expires_at + retention).timestamp())


# -- approvals ----------------------------------------------------------------------------


def approval_to_item(approval: Approval, retention: timedelta) -> dict[str, Any]:
    policy = approval.policy
    item: dict[str, Any] = {
        "pk": approval_pk(approval.id),
        "sk": META,
        "id": approval.id,
        "title": approval.title,
        "description": approval.description,
        "fields": [{"k": k, "v": v} for k, v in approval.fields],
        "requester": approval.requester,
        "approvers": list(policy.approvers),
        "allow_self_approval": policy.allow_self_approval,
        "min_approvals": policy.min_approvals,
        "approver_groups": list(policy.groups),
        "named_approvers": list(policy.named),
        "policy_name": policy.name,
        "channel": approval.channel,
        "status": approval.status.value,
        "created_at": iso(approval.created_at),
        "expires_at": iso(approval.expires_at),
        "expires_epoch": int(approval.expires_at.timestamp()),
        "votes": {
            v.user: {"decision": v.decision.value, "at": iso(v.at), "reason": v.reason}
            for v in approval.votes
        },
        "decided_by": approval.decided_by,
        "reason": approval.reason,
        "execution_id": approval.execution_id,
        "version": approval.version,
    }
    if approval.decided_at:
        item["decided_at"] = iso(approval.decided_at)
    # A named policy's reminders and escalation: only when it has them.
    if policy.remind_every:
        item["remind_every_seconds"] = int(policy.remind_every.total_seconds())
    if policy.escalate_after:
        item["escalate_after_seconds"] = int(policy.escalate_after.total_seconds())
        item["escalate_to"] = policy.escalate_to
    if policy.escalated:
        item["escalated"] = True
    if approval.message:
        item["message_channel"] = approval.message.channel
        item["message_ts"] = approval.message.ts
    if approval.status is Status.PENDING:
        item["pending_pk"] = PENDING_KEY
        item["pending_sk"] = pending_cursor(approval)
    item[TTL_ATTRIBUTE] = expiry(approval.expires_at, retention)
    # The history indexes: every approval by the month it was created, and by status.
    item["hist_pk"] = approvals_pk(month(approval.created_at))
    item["hist_sk"] = approval_key(approval.created_at, approval.id)
    item["status_pk"] = status_pk(approval.status.value, month(approval.created_at))
    return item


def approval_from_item(item: Mapping[str, Any]) -> Approval:
    """An approval item as any version wrote it (attributes added later are optional)."""
    votes = sorted(
        (
            Vote(
                user=user,
                decision=Decision(v["decision"]),
                at=parse_iso(v["at"]),
                reason=v.get("reason", ""),
            )
            for user, v in item.get("votes", {}).items()
        ),
        key=lambda v: v.at,
    )
    message = (
        SlackRef(channel=item["message_channel"], ts=item["message_ts"])
        if "message_ts" in item
        else None
    )
    return Approval(
        id=item["id"],
        title=item["title"],
        description=item.get("description", ""),
        fields=tuple((f["k"], f["v"]) for f in item.get("fields", [])),
        requester=item["requester"],
        policy=_policy_from_item(item),
        channel=item["channel"],
        status=Status(item["status"]),
        created_at=parse_iso(item["created_at"]),
        expires_at=parse_iso(item["expires_at"]),
        votes=tuple(votes),
        decided_by=item.get("decided_by", ""),
        decided_at=parse_iso(item["decided_at"]) if item.get("decided_at") else None,
        reason=item.get("reason", ""),
        message=message,
        execution_id=item.get("execution_id", ""),
        version=int(item["version"]),
        doorbell=item.get("doorbell", ""),
    )


def _policy_from_item(item: Mapping[str, Any]) -> Policy:
    return Policy(
        approvers=tuple(item["approvers"]),
        allow_self_approval=bool(item.get("allow_self_approval", False)),
        min_approvals=int(item.get("min_approvals", 1)),
        groups=tuple(item.get("approver_groups", ())),
        named=tuple(item.get("named_approvers", ())),
        name=str(item.get("policy_name", "")),
        remind_every=_seconds(item.get("remind_every_seconds")),
        escalate_after=_seconds(item.get("escalate_after_seconds")),
        escalate_to=str(item.get("escalate_to", "")),
        escalated=bool(item.get("escalated", False)),
    )


def _seconds(value: Any) -> timedelta | None:
    return timedelta(seconds=int(value)) if value else None


# -- audit events -------------------------------------------------------------------------


def event_to_item(approval_id: str, event: AuditEvent, seq: int, ttl: int | None) -> dict[str, Any]:
    """The item of one audit event, `seq`-th of its write; `ttl` None: kept until deleted
    (an event of an approval that does not exist)."""
    # The event's own random ref keeps two events in the same millisecond apart, and makes
    # writing the same event twice land on the same item.
    order = f"{seq:02d}#{event.ref}"
    item: dict[str, Any] = {
        "pk": approval_pk(approval_id),
        "sk": f"{AUDIT_PREFIX}{iso(event.at)}#{order}",
        "kind": event.kind.value,
        "at": iso(event.at),
        "actor": event.actor,
        "detail": dict(event.detail),
        "hist_pk": events_pk(month(event.at)),
        "hist_sk": f"{iso(event.at)}#{approval_id}#{order}",
    }
    if ttl is not None:
        item[TTL_ATTRIBUTE] = ttl
    return item


def event_from_item(item: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        kind=AuditKind(item["kind"]),
        at=parse_iso(item["at"]),
        actor=item["actor"],
        detail={str(k): str(v) for k, v in item.get("detail", {}).items()},
        # The sort key ends with the event's ref (a random suffix before refs were kept).
        ref=str(item["sk"]).rsplit("#", 1)[-1],
    )


def recorded_from_item(item: Mapping[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        approval_id=str(item["pk"]).removeprefix("APPROVAL#"), event=event_from_item(item)
    )


def event_key(after: str) -> dict[str, Any]:
    """The table and index key of the audit event whose history sort key is `after`."""
    at, approval_id, order = after.split("#", 2)
    return {
        "pk": approval_pk(approval_id),
        "sk": f"{AUDIT_PREFIX}{at}#{order}",
        "hist_pk": events_pk(at[:7]),
        "hist_sk": after,
    }


# -- the start payload (the workflow's input) --------------------------------------------


def request_to_payload(request: StartRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "title": request.title,
        "description": request.description,
        "requester": request.requester,
        "approvers": list(request.approvers),
        "channel": request.channel,
        "timeout_seconds": int(request.timeout.total_seconds()),
        "fields": [[k, v] for k, v in request.fields],
        "allow_self_approval": request.allow_self_approval,
        "policy": request.policy,
        "approver_groups": list(request.approver_groups),
        "min_approvals": request.min_approvals,
        "members": list(request.members),
        # Only when a policy sets them: payloads without a schedule stay as they were.
        **(
            {"remind_every_seconds": int(request.remind_every.total_seconds())}
            if request.remind_every
            else {}
        ),
        **(
            {
                "escalate_after_seconds": int(request.escalate_after.total_seconds()),
                "escalate_to": request.escalate_to,
            }
            if request.escalate_after
            else {}
        ),
    }


def request_from_payload(payload: Any) -> StartRequest:
    """The workflow's input, checked as strictly as the CLI's flags: its shape here, its
    content by `StartRequest`'s validators."""
    if not isinstance(payload, Mapping):
        raise ValidationError("the start payload must be a JSON object")
    try:
        approvers, timeout = payload["approvers"], payload["timeout_seconds"]
        values: dict[str, Any] = {  # checked in this order: the first problem is said
            "approvers": tuple(_string_list(approvers, "approvers")),
            "fields": _pairs(payload.get("fields", [])),
            "timeout": timedelta(seconds=_whole(timeout, "timeout_seconds")),
            **_strings(payload, "id", "title", "description", "requester", "channel"),
            "allow_self_approval": _flag(payload.get("allow_self_approval", False)),
            "approver_groups": tuple(
                _string_list(payload.get("approver_groups", []), "approver_groups")
            ),
            "members": tuple(_string_list(payload.get("members", []), "members")),
            "policy": _string(payload.get("policy", ""), "policy"),
            "min_approvals": _whole(payload.get("min_approvals", 1), "min_approvals"),
            "remind_every": _schedule(payload, "remind_every"),
            "escalate_after": _schedule(payload, "escalate_after"),
            "escalate_to": _string(payload.get("escalate_to", ""), "escalate_to"),
        }
        return StartRequest(**values)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"the start payload is malformed: {exc}") from exc


def _strings(payload: Mapping[str, Any], *names: str) -> dict[str, str]:
    values = {name: payload.get(name, "") for name in names}
    if not all(isinstance(v, str) for v in values.values()):
        raise TypeError("id, title, description, requester and channel must be strings")
    return values


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    return value


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise TypeError(f"{name} must be a list of strings")
    return value


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(
        isinstance(f, list | tuple) and len(f) == 2 and all(isinstance(x, str) for x in f)
        for f in value
    ):
        raise TypeError("fields must be a list of [name, value] strings")
    return tuple((k, v) for k, v in value)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number")
    return int(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("allow_self_approval must be true or false")
    return value


def _schedule(payload: Mapping[str, Any], name: str) -> timedelta | None:
    seconds = payload.get(f"{name}_seconds")
    if seconds is None:
        return None
    return timedelta(seconds=_whole(seconds, f"{name}_seconds"))


# -- the JSON the CLI prints --------------------------------------------------------------


def approval_json(approval: Approval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "status": approval.status.value,
        "title": approval.title,
        "description": approval.description,
        "fields": dict(approval.fields),
        "requester": approval.requester,
        "approvers": list(approval.policy.approvers),
        "policy": approval.policy.name or None,
        "approver_groups": list(approval.policy.groups),
        "min_approvals": approval.policy.min_approvals,
        "allow_self_approval": approval.policy.allow_self_approval,
        "channel": approval.channel,
        "created_at": iso(approval.created_at),
        "expires_at": iso(approval.expires_at),
        "decided_by": approval.decided_by or None,
        "decided_at": iso(approval.decided_at) if approval.decided_at else None,
        "reason": approval.reason or None,
        "votes": [
            {"user": v.user, "decision": v.decision.value, "at": iso(v.at), "reason": v.reason}
            for v in approval.votes
        ],
        "message": (
            {"channel": approval.message.channel, "ts": approval.message.ts}
            if approval.message
            else None
        ),
    }


def event_json(event: AuditEvent) -> dict[str, Any]:
    """One audit event as `signoff show --json` lists it."""
    return {
        "kind": event.kind.value,
        "at": iso(event.at),
        "actor": event.actor,
        "detail": dict(event.detail),
    }


def recorded_json(recorded: RecordedEvent) -> dict[str, Any]:
    """One audit event with its approval, as `signoff audit --json` prints it."""
    return {"id": recorded.approval_id, **event_json(recorded.event)}
