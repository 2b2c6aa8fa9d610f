"""The approval and its rules: plain Python, no I/O.

Every state change is a method that returns a new value; the store commits it with
one conditional write guarded by the version it was computed from.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from signoff.errors import RefusedError, ValidationError

MAX_TITLE = 150
MAX_DESCRIPTION = 2000
MAX_FIELDS = 10
MAX_REASON = 500
MIN_TIMEOUT = timedelta(seconds=1)
MAX_TIMEOUT = timedelta(days=7)
DEFAULT_TIMEOUT = timedelta(hours=1)

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_closed(self) -> bool:
        return self is not Status.PENDING


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class AuditKind(StrEnum):
    CREATED = "created"
    NOTIFIED = "notified"
    VOTED = "voted"
    VOTE_REFUSED = "vote_refused"
    DECIDED = "decided"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    MESSAGE_UPDATED = "message_updated"


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: signoff keeps every timestamp timezone-aware UTC")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '2h', '1d' or plain seconds → timedelta."""
    match = _DURATION_RE.match(text)
    if not match:
        raise ValidationError(f"'{text}' is not a duration: use e.g. 90s, 30m, 2h or 1d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def new_approval_id() -> str:
    return f"apr-{secrets.token_hex(5)}"


@dataclass(frozen=True)
class Policy:
    """Who may decide. For now any listed approver decides alone."""

    approvers: tuple[str, ...]
    allow_self_approval: bool = False

    def refusal(self, user: str, requester: str) -> str | None:
        if user not in self.approvers:
            return "you are not an approver of this request"
        if user == requester and not self.allow_self_approval:
            return "you requested this, and self-approval is not allowed"
        return None


@dataclass(frozen=True)
class Vote:
    user: str
    decision: Decision
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class SlackRef:
    channel: str
    ts: str


@dataclass(frozen=True)
class AuditEvent:
    kind: AuditKind
    at: datetime
    actor: str
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StartRequest:
    """What a kickoff asks for; validated before anything is written or started."""

    id: str
    title: str
    requester: str
    approvers: tuple[str, ...]
    channel: str  # empty: the deployment's default channel (SIGNOFF_DEFAULT_CHANNEL)
    timeout: timedelta
    description: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    allow_self_approval: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not _ID_RE.match(self.id):
            problems.append(f"id '{self.id}' must be 3-64 lowercase letters, digits or '-'")
        if not self.title.strip():
            problems.append("the title is empty")
        elif len(self.title) > MAX_TITLE:
            problems.append(f"the title is longer than {MAX_TITLE} characters")
        if len(self.description) > MAX_DESCRIPTION:
            problems.append(f"the description is longer than {MAX_DESCRIPTION} characters")
        if not self.requester.strip():
            problems.append("the requester is empty")
        if not self.approvers:
            problems.append("name at least one approver")
        if not MIN_TIMEOUT <= self.timeout <= MAX_TIMEOUT:
            problems.append(f"the timeout must be between 1s and {format_duration(MAX_TIMEOUT)}")
        if len(self.fields) > MAX_FIELDS:
            problems.append(f"at most {MAX_FIELDS} fields")
        for key, _ in self.fields:
            if not key.strip():
                problems.append("a field has an empty name")
        if problems:
            raise ValidationError("; ".join(problems))

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "requester": self.requester,
            "approvers": list(self.approvers),
            "channel": self.channel,
            "timeout_seconds": int(self.timeout.total_seconds()),
            "fields": [[k, v] for k, v in self.fields],
            "allow_self_approval": self.allow_self_approval,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> StartRequest:
        try:
            return cls(
                id=str(payload["id"]),
                title=str(payload["title"]),
                description=str(payload.get("description", "")),
                requester=str(payload["requester"]),
                approvers=tuple(str(a) for a in payload["approvers"]),
                channel=str(payload.get("channel", "")),
                timeout=timedelta(seconds=int(payload["timeout_seconds"])),
                fields=tuple((str(k), str(v)) for k, v in payload.get("fields", [])),
                allow_self_approval=bool(payload.get("allow_self_approval", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"the start payload is malformed: {exc!r}") from exc


@dataclass(frozen=True)
class Approval:
    id: str
    title: str
    description: str
    fields: tuple[tuple[str, str], ...]
    requester: str
    policy: Policy
    channel: str
    status: Status
    created_at: datetime
    expires_at: datetime
    votes: tuple[Vote, ...] = ()
    decided_by: str = ""
    decided_at: datetime | None = None
    reason: str = ""
    message: SlackRef | None = None
    execution_id: str = ""
    version: int = 0

    @classmethod
    def open(
        cls, request: StartRequest, now: datetime, default_channel: str = "approvals"
    ) -> tuple[Approval, AuditEvent]:
        now = utc(now)
        approval = cls(
            id=request.id,
            title=request.title,
            description=request.description,
            fields=request.fields,
            requester=request.requester,
            policy=Policy(request.approvers, request.allow_self_approval),
            channel=request.channel.strip() or default_channel,
            status=Status.PENDING,
            created_at=now,
            expires_at=now + request.timeout,
            version=1,
        )
        event = AuditEvent(
            AuditKind.CREATED,
            now,
            request.requester,
            {"title": request.title, "expires_at": iso(approval.expires_at)},
        )
        return approval, event

    def is_due(self, now: datetime) -> bool:
        return self.status is Status.PENDING and utc(now) >= self.expires_at

    def vote_refusal(self, user: str, now: datetime) -> str | None:
        """Why `user` may not vote now, or None if they may."""
        if self.status is not Status.PENDING:
            return f"this request is already {self.status.value}"
        if utc(now) >= self.expires_at:
            return "this request has expired"
        refusal = self.policy.refusal(user, self.requester)
        if refusal:
            return refusal
        if any(v.user == user for v in self.votes):
            return "you have already voted on this request"
        return None

    def vote(
        self, user: str, decision: Decision, now: datetime, reason: str = ""
    ) -> tuple[Approval, list[AuditEvent]]:
        """Record a vote; one approval or one rejection decides."""
        refusal = self.vote_refusal(user, now)
        if refusal:
            raise RefusedError(refusal)
        reason = reason.strip()
        if decision is Decision.REJECT and not reason:
            raise ValidationError("a rejection needs a reason")
        if len(reason) > MAX_REASON:
            raise ValidationError(f"the reason is longer than {MAX_REASON} characters")
        now = utc(now)
        vote = Vote(user, decision, now, reason)
        status = Status.APPROVED if decision is Decision.APPROVE else Status.REJECTED
        new = replace(
            self,
            votes=(*self.votes, vote),
            status=status,
            decided_by=user,
            decided_at=now,
            reason=reason,
            version=self.version + 1,
        )
        detail = {"decision": decision.value, **({"reason": reason} if reason else {})}
        events = [
            AuditEvent(AuditKind.VOTED, now, user, detail),
            AuditEvent(AuditKind.DECIDED, now, user, {"outcome": status.value}),
        ]
        return new, events

    def expire(self, now: datetime) -> tuple[Approval, list[AuditEvent]]:
        if not self.is_due(now):
            raise RefusedError("this request is not due to expire")
        now = utc(now)
        new = replace(
            self, status=Status.EXPIRED, decided_at=now, decided_by="", version=self.version + 1
        )
        return new, [
            AuditEvent(AuditKind.EXPIRED, now, "signoff", {"deadline": iso(self.expires_at)})
        ]

    def cancel(
        self, user: str, now: datetime, reason: str = ""
    ) -> tuple[Approval, list[AuditEvent]]:
        if self.status is not Status.PENDING:
            raise RefusedError(f"this request is already {self.status.value}")
        if user != self.requester and user not in self.policy.approvers:
            raise RefusedError("only the requester or an approver can cancel this request")
        now = utc(now)
        reason = reason.strip()
        new = replace(
            self,
            status=Status.CANCELLED,
            decided_by=user,
            decided_at=now,
            reason=reason,
            version=self.version + 1,
        )
        detail = {"reason": reason} if reason else {}
        return new, [AuditEvent(AuditKind.CANCELLED, now, user, detail)]


def parse_fields(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"field '{pair}' must look like key=value")
        fields.append((key.strip(), value.strip()))
    return tuple(fields)
