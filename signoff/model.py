"""The approval and its rules: plain Python, no I/O.

Every state change is a method that returns a new value; the store commits it with
one conditional write guarded by the version it was computed from.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from signoff.errors import RefusedError, ValidationError
from signoff.refusals import Refusal, RefusalCode
from signoff.text import slack_length, unsafe_characters, visible

# Limits count text as Slack sees it, escaped (`&` is 5 characters, `<` and `>` 4): kickoff
# refuses what would not fit in the message, so nothing an approver decides on is clipped.
# The card's header (150) holds the status, a space and the title; the Approve confirm
# dialog (300) holds the title and what the approval does.
MAX_TITLE = 148
MAX_DESCRIPTION = 2900  # one section block: 3,000
MAX_FIELDS = 10  # a section block holds 10 fields
MAX_FIELD_KEY = 50
MAX_FIELD_VALUE = 1900  # a field's text, `*key*\nvalue`, must stay within 2,000
MAX_APPROVERS = 25
MAX_GROUPS = 10
MAX_MEMBERS = 500  # everyone who may approve once groups are resolved (kept on the record)
MAX_REASON = 500
MIN_TIMEOUT = timedelta(seconds=1)
MAX_TIMEOUT = timedelta(days=7)
DEFAULT_TIMEOUT = timedelta(hours=1)

# `\Z`, not `$`: `$` also matches before a final newline ("apr-1\n" is no id).
_ID_RE = re.compile(r"\A[a-z0-9][a-z0-9-]{2,63}\Z")
# Who: Slack user ids (U…/W…) or plain names; no characters that Slack escapes, so the
# approver line stays within its block (25 of 64 characters).
_PERSON_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z", re.ASCII)
# Of those, Slack user ids (U…, W… on Enterprise Grid): the people signoff can mention and
# message.
_SLACK_USER_RE = re.compile(r"\A[UW][A-Z0-9]{2,}\Z", re.ASCII)
# Slack user group ids (S…), as usergroups.users.list takes them.
_GROUP_RE = re.compile(r"\AS[A-Z0-9]{2,20}\Z", re.ASCII)
_CHANNEL_RE = re.compile(r"\A#?[A-Za-z0-9][A-Za-z0-9._-]{0,79}\Z", re.ASCII)
# ASCII digits only (`\d` would take other scripts' digits), and few enough to stay a number.
_DURATION_RE = re.compile(r"^\s*([0-9]{1,9})\s*([smhd]?)\s*$", re.ASCII)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _shown(text: str, limit: int = 40) -> str:
    """User input quoted in an error message: repr (controls visible), shortened."""
    return visible(repr(text if len(text) <= limit else text[:limit] + "…"))


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


class PostClaim(StrEnum):
    """The answer to a notifier asking for the right to post a request's message."""

    DENIED = "denied"  # posted already, or another delivery holds a live claim
    FIRST = "first"  # nobody tried before
    TAKEOVER = "takeover"  # an earlier claim lapsed: that post may or may not have happened


class OnceClaim(StrEnum):
    """The answer to asking for the right to do a once-only side effect (a reply, a DM)."""

    DONE = "done"  # it was done (or given up for good): never again
    BUSY = "busy"  # another delivery holds a live claim and may be doing it right now
    FIRST = "first"  # nobody tried before
    TAKEOVER = "takeover"  # an earlier claim lapsed unfinished: it may or may not have happened

    @property
    def granted(self) -> bool:
        return self in (OnceClaim.FIRST, OnceClaim.TAKEOVER)


class AuditKind(StrEnum):
    CREATED = "created"
    NOTIFIED = "notified"
    VOTED = "voted"
    VOTE_REFUSED = "vote_refused"
    CANCEL_REFUSED = "cancel_refused"
    DECIDED = "decided"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    MESSAGE_UPDATED = "message_updated"
    SLACK_FAILED = "slack_failed"  # Slack refused for good (bot not in channel, bad token...)
    REMINDED = "reminded"  # the approvers who had not voted were reminded (detail: number)
    ESCALATED = "escalated"  # the policy's escalation group joined the approvers
    ESCALATION_FAILED = "escalation_failed"  # its group could not be resolved: nobody added


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: signoff keeps every timestamp timezone-aware UTC")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def millis(value: datetime) -> int:
    """Whole milliseconds since the epoch, truncated as `iso` truncates: the resolution a
    deadline is kept and compared at."""
    return (utc(value) - _EPOCH) // _MILLISECOND


def past_deadline(deadline: datetime, now: datetime) -> bool:
    """The one deadline rule: a request is past its deadline from the deadline's millisecond
    on. The store's conditional write compares the same milliseconds (`iso` text)."""
    return millis(now) >= millis(deadline)


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '2h', '1d' or plain seconds → timedelta."""
    match = _DURATION_RE.match(text)
    if not match:
        raise ValidationError(
            f"{_shown(text)} is not a duration: use e.g. 90s, 30m, 2h or 1d "
            f"(a timeout is at most {format_duration(MAX_TIMEOUT)})"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def new_approval_id() -> str:
    return f"apr-{secrets.token_hex(5)}"


def id_problem(value: str) -> str | None:
    """Why `value` cannot be an approval id, or None: checked before any read, so that
    what is not an id is refused with this sentence rather than by the table."""
    if _ID_RE.match(value):
        return None
    return (
        f"{_shown(value)} is not an approval id: an id is 3-64 lowercase letters, "
        "digits or '-' (like apr-1a2b3c4d5e)"
    )


def checked_id(value: str) -> str:
    """`value` if it can be an approval id; ValidationError saying why not otherwise."""
    problem = id_problem(value)
    if problem:
        raise ValidationError(problem)
    return value


def person_problem(what: str, value: str) -> str | None:
    """Why `value` cannot name a person (a Slack user id or a plain name), or None."""
    if _PERSON_RE.match(value):
        return None
    return (
        f"{what} {_shown(value)} must be a Slack user id or a name of "
        "up to 64 letters, digits or . _ @ + -"
    )


def is_slack_user(user: str) -> bool:
    """A Slack user id (which can be mentioned and messaged), not a plain name."""
    return bool(_SLACK_USER_RE.match(user))


def group_problem(what: str, value: str) -> str | None:
    """Why `value` cannot name a Slack user group (an id like S0123ABCD), or None."""
    if _GROUP_RE.match(value):
        return None
    return f"{what} {_shown(value)} must be a Slack user group id (S followed by capitals/digits)"


@dataclass(frozen=True)
class Policy:
    """Who may decide, and how many must approve: fixed on the record at kickoff.

    `approvers` is everyone allowed — the users named and the members of `groups` as
    they were when the request started (a snapshot: the vote is checked against the
    record inside the conditional write, never against a later Slack lookup).
    """

    approvers: tuple[str, ...]
    allow_self_approval: bool = False
    min_approvals: int = 1
    groups: tuple[str, ...] = ()
    named: tuple[str, ...] = ()  # the users named directly; empty: all of `approvers`
    name: str = ""  # the deployment's named policy; empty for an ad-hoc request
    # The named policy's reminders and escalation, as they were at kickoff. The workflow
    # schedules them; `escalated` records that the escalation happened (or was attempted).
    remind_every: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: str = ""
    escalated: bool = False

    @property
    def named_users(self) -> tuple[str, ...]:
        return self.named if (self.named or self.groups) else self.approvers

    def refusal(self, user: str, requester: str) -> Refusal | None:
        if user not in self.approvers:
            return Refusal(RefusalCode.NOT_APPROVER)
        if user == requester and not self.allow_self_approval:
            return Refusal(RefusalCode.SELF_APPROVAL)
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


def new_event_ref() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class AuditEvent:
    kind: AuditKind
    at: datetime
    actor: str
    detail: Mapping[str, str] = field(default_factory=dict)
    # Which event this is: writing the same event again (a write whose answer was lost)
    # finds it written instead of adding a second one.
    ref: str = field(default_factory=new_event_ref, compare=False)


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
    # A named policy (its rules come from the deployment), or ad-hoc groups and quorum.
    policy: str = ""
    approver_groups: tuple[str, ...] = ()
    min_approvals: int = 1
    # The groups' members, filled in when the request is resolved at kickoff.
    members: tuple[str, ...] = ()
    # A named policy's reminders and escalation, filled in at kickoff (never by a requester).
    remind_every: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: str = ""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValidationError("; ".join(problems))

    def problems(self) -> list[str]:
        """Everything wrong with this request, each said in a sentence; empty when valid."""
        problems: list[str] = []
        if not _ID_RE.match(self.id):
            problems.append(f"id {_shown(self.id)} must be 3-64 lowercase letters, digits or '-'")
        problems += _text_problems("the title", self.title, MAX_TITLE, required=True)
        problems += _text_problems(
            "the description", self.description, MAX_DESCRIPTION, multiline=True
        )
        if not self.requester.strip():
            problems.append("the requester is empty")
        elif not _PERSON_RE.match(self.requester):
            problems.append(
                f"the requester {_shown(self.requester)} must be a Slack user id or a name of "
                "up to 64 letters, digits or . _ @ + -"
            )
        problems += self._approver_problems()
        if self.channel and not _CHANNEL_RE.match(self.channel):
            problems.append(
                f"the channel {_shown(self.channel)} must be a Slack channel id or name "
                "(up to 80 letters, digits or . _ -)"
            )
        if not MIN_TIMEOUT <= self.timeout <= MAX_TIMEOUT:
            problems.append(f"the timeout must be between 1s and {format_duration(MAX_TIMEOUT)}")
        problems += self._field_problems()
        problems += self._schedule_problems()
        return problems

    def _schedule_problems(self) -> list[str]:
        problems: list[str] = []
        for what, every in (
            ("remind_every", self.remind_every),
            ("escalate_after", self.escalate_after),
        ):
            if every is not None and every < MIN_TIMEOUT:
                problems.append(f"{what} must be at least 1s")
        if bool(self.escalate_after) != bool(self.escalate_to):
            problems.append("escalate_after and escalate_to go together")
        if self.escalate_to:
            problem = group_problem("escalate_to", self.escalate_to)
            if problem:
                problems.append(problem)
        return problems

    @property
    def resolved(self) -> bool:
        """Whether the approvers are all known (no group waits to be looked up)."""
        return not self.approver_groups or bool(self.members)

    def _approver_problems(self) -> list[str]:
        if not self.approvers and not self.approver_groups and not self.policy:
            return ["name a policy, at least one approver, or an approver group"]
        problems: list[str] = []
        if self.policy and not _ID_RE.match(self.policy):
            problems.append(
                f"policy {_shown(self.policy)} must be 3-64 lowercase letters, digits or '-'"
            )
        if len(self.approvers) > MAX_APPROVERS:
            problems.append(f"at most {MAX_APPROVERS} approvers (got {len(self.approvers)})")
        problems += [p for a in self.approvers if (p := person_problem("approver", a)) is not None]
        repeated = sorted({a for a in self.approvers if self.approvers.count(a) > 1})
        if repeated:
            problems.append(f"approvers named more than once: {', '.join(repeated)}")
        if len(self.approver_groups) > MAX_GROUPS:
            problems.append(
                f"at most {MAX_GROUPS} approver groups (got {len(self.approver_groups)})"
            )
        problems += [
            p for g in self.approver_groups if (p := group_problem("approver group", g)) is not None
        ]
        if len(set(self.approver_groups)) != len(self.approver_groups):
            problems.append("an approver group is named more than once")
        if len(self.members) > MAX_MEMBERS:
            problems.append(f"at most {MAX_MEMBERS} people may approve (got {len(self.members)})")
        problems += [p for m in self.members if (p := person_problem("member", m)) is not None]
        if not 1 <= self.min_approvals <= MAX_APPROVERS:
            problems.append(f"the minimum number of approvals must be 1 to {MAX_APPROVERS}")
        elif self.resolved and (self.approvers or self.approver_groups):
            problems += self._quorum_problems()
        return problems

    def _quorum_problems(self) -> list[str]:
        possible = set(self.approvers) | set(self.members)
        if not self.allow_self_approval:
            possible.discard(self.requester)
        if not possible:
            return [
                "the requester is the only approver and self-approval is off: nobody could "
                "decide; name another approver"
            ]
        if self.min_approvals > len(possible):
            return [
                f"{self.min_approvals} approvals are needed but only {len(possible)} "
                f"{'person' if len(possible) == 1 else 'people'} other than the requester "
                "may approve"
                if not self.allow_self_approval
                else f"{self.min_approvals} approvals are needed but only {len(possible)} "
                "may approve"
            ]
        return []

    def _field_problems(self) -> list[str]:
        problems: list[str] = []
        if len(self.fields) > MAX_FIELDS:
            problems.append(f"at most {MAX_FIELDS} fields (got {len(self.fields)})")
        keys = [key for key, _ in self.fields]
        for key, value in self.fields:
            problems += _text_problems(
                f"field name {_shown(key)}", key, MAX_FIELD_KEY, required=True
            )
            problems += _text_problems(
                f"the value of field {_shown(key)}", value, MAX_FIELD_VALUE, multiline=True
            )
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            problems.append(f"fields named more than once: {', '.join(map(_shown, repeated))}")
        return problems

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
            "policy": self.policy,
            "approver_groups": list(self.approver_groups),
            "min_approvals": self.min_approvals,
            "members": list(self.members),
            # Only when a policy sets them: payloads without a schedule stay as they were.
            **(
                {"remind_every_seconds": int(self.remind_every.total_seconds())}
                if self.remind_every
                else {}
            ),
            **(
                {
                    "escalate_after_seconds": int(self.escalate_after.total_seconds()),
                    "escalate_to": self.escalate_to,
                }
                if self.escalate_after
                else {}
            ),
        }

    @classmethod
    def from_payload(cls, payload: Any) -> StartRequest:
        """The workflow's input, checked as strictly as the CLI's flags."""
        if not isinstance(payload, Mapping):
            raise ValidationError("the start payload must be a JSON object")
        try:
            approvers = payload["approvers"]
            fields = payload.get("fields", [])
            timeout = payload["timeout_seconds"]
            if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers):
                raise TypeError("approvers must be a list of strings")
            if not isinstance(fields, list) or not all(
                isinstance(f, list | tuple) and len(f) == 2 and all(isinstance(x, str) for x in f)
                for f in fields
            ):
                raise TypeError("fields must be a list of [name, value] strings")
            if isinstance(timeout, bool) or not isinstance(timeout, int):
                raise TypeError("timeout_seconds must be a whole number")
            strings = {
                k: payload.get(k, "")
                for k in ("id", "title", "description", "requester", "channel")
            }
            if not all(isinstance(v, str) for v in strings.values()):
                raise TypeError("id, title, description, requester and channel must be strings")
            allow_self = payload.get("allow_self_approval", False)
            if not isinstance(allow_self, bool):
                raise TypeError("allow_self_approval must be true or false")
            groups = payload.get("approver_groups", [])
            members = payload.get("members", [])
            for name, value in (("approver_groups", groups), ("members", members)):
                if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                    raise TypeError(f"{name} must be a list of strings")
            policy = payload.get("policy", "")
            if not isinstance(policy, str):
                raise TypeError("policy must be a string")
            quorum = payload.get("min_approvals", 1)
            if isinstance(quorum, bool) or not isinstance(quorum, int):
                raise TypeError("min_approvals must be a whole number")
            schedule: dict[str, timedelta | None] = {}
            for name in ("remind_every", "escalate_after"):
                seconds = payload.get(f"{name}_seconds")
                if seconds is not None and (
                    isinstance(seconds, bool) or not isinstance(seconds, int)
                ):
                    raise TypeError(f"{name}_seconds must be a whole number")
                schedule[name] = timedelta(seconds=seconds) if seconds is not None else None
            escalate_to = payload.get("escalate_to", "")
            if not isinstance(escalate_to, str):
                raise TypeError("escalate_to must be a string")
            return cls(
                id=strings["id"],
                title=strings["title"],
                description=strings["description"],
                requester=strings["requester"],
                approvers=tuple(approvers),
                channel=strings["channel"],
                timeout=timedelta(seconds=timeout),
                fields=tuple((k, v) for k, v in fields),
                allow_self_approval=allow_self,
                policy=policy,
                approver_groups=tuple(groups),
                min_approvals=quorum,
                members=tuple(members),
                remind_every=schedule["remind_every"],
                escalate_after=schedule["escalate_after"],
                escalate_to=escalate_to,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValidationError(f"the start payload is malformed: {exc}") from exc


def _text_problems(
    what: str, text: str, limit: int, *, required: bool = False, multiline: bool = False
) -> list[str]:
    if required and not text.strip():
        return [f"{what} is empty"]
    problems: list[str] = []
    length = slack_length(text)
    if length > limit:
        problems.append(
            f"{what} is {length} characters as Slack counts them (& < > escaped); "
            f"the limit is {limit}"
        )
    unsafe = unsafe_characters(text, multiline=multiline)
    if unsafe:
        problems.append(f"{what} contains {unsafe}")
    return problems


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
    # The waiting workflow's current callback id: rung after a decision so it resumes at
    # once. Written by the workflow alone (the store keeps it outside `version`).
    doorbell: str = ""

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
            policy=Policy(
                tuple(dict.fromkeys((*request.approvers, *request.members))),
                request.allow_self_approval,
                request.min_approvals,
                request.approver_groups,
                request.approvers if request.approver_groups else (),
                request.policy,
                request.remind_every,
                request.escalate_after,
                request.escalate_to,
            ),
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

    def differences(self, request: StartRequest, default_channel: str | None = None) -> list[str]:
        """What `request` asks for that this approval (started under the same id) does not.

        Empty when it is the same request, so starting it again is a no-op. An empty channel
        in the request means the deployment's default: compared only when that is known.
        """
        timeout = self.expires_at - self.created_at
        channel = request.channel.strip() or default_channel
        pairs: list[tuple[str, object, object]] = [
            ("title", self.title, request.title),
            ("description", self.description, request.description),
            ("fields", self.fields, request.fields),
            ("requester", self.requester, request.requester),
            ("policy", self.policy.name, request.policy),
        ]
        if not request.policy:  # a named policy's rules are the deployment's, not the request's
            named = self.policy.named_users
            pairs += [
                # Approvers are a set: the order they were named in does not matter.
                ("approvers", named, _same_order(request.approvers, named)),
                (
                    "approver groups",
                    self.policy.groups,
                    _same_order(request.approver_groups, self.policy.groups),
                ),
                ("minimum approvals", self.policy.min_approvals, request.min_approvals),
            ]
        pairs += [
            ("channel", self.channel, channel if channel is not None else self.channel),
            ("timeout", format_duration(timeout), format_duration(request.timeout)),
        ]
        if not request.policy:
            pairs.append(
                ("self-approval", self.policy.allow_self_approval, request.allow_self_approval)
            )
        return [
            f"{name} was {_shown(_plain(old))}, now {_shown(_plain(new))}"
            for name, old, new in pairs
            if old != new
        ]

    def is_due(self, now: datetime) -> bool:
        return self.status is Status.PENDING and past_deadline(self.expires_at, now)

    def vote_refusal(self, user: str, now: datetime) -> Refusal | None:
        """Why `user` may not vote now, or None if they may."""
        if self.status is not Status.PENDING:
            return self._closed()
        if past_deadline(self.expires_at, now):
            return Refusal(RefusalCode.EXPIRED)
        refusal = self.policy.refusal(user, self.requester)
        if refusal:
            return refusal
        earlier = next((v for v in self.votes if v.user == user), None)
        if earlier is not None:
            said = "approved" if earlier.decision is Decision.APPROVE else "rejected"
            return Refusal(RefusalCode.ALREADY_VOTED, {"vote": said})
        return None

    def _closed(self) -> Refusal:
        return Refusal(RefusalCode.CLOSED, {"status": self.status.value})

    @property
    def approved_by(self) -> tuple[str, ...]:
        """Who approved so far, in the order they did (each person once)."""
        return tuple(v.user for v in self.votes if v.decision is Decision.APPROVE)

    @property
    def approvals_missing(self) -> int:
        return max(0, self.policy.min_approvals - len(self.approved_by))

    def vote(
        self, user: str, decision: Decision, now: datetime, reason: str = ""
    ) -> tuple[Approval, list[AuditEvent]]:
        """Record a vote: one rejection decides; so does the approval that makes the quorum.

        An approval short of the quorum is recorded and the request stays pending.
        """
        refusal = self.vote_refusal(user, now)
        if refusal:
            raise RefusedError(refusal)
        reason = _checked_reason(reason)
        if decision is Decision.REJECT and not reason:
            raise ValidationError("a rejection needs a reason")
        now = utc(now)
        vote = Vote(user, decision, now, reason)
        detail = {"decision": decision.value, **({"reason": reason} if reason else {})}
        if decision is Decision.APPROVE:
            approved = len(self.approved_by) + 1
            detail["approvals"] = f"{approved} of {self.policy.min_approvals}"
            if approved < self.policy.min_approvals:
                waiting = replace(self, votes=(*self.votes, vote), version=self.version + 1)
                return waiting, [AuditEvent(AuditKind.VOTED, now, user, detail)]
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
        events = [
            AuditEvent(AuditKind.VOTED, now, user, detail),
            AuditEvent(AuditKind.DECIDED, now, user, {"outcome": status.value}),
        ]
        return new, events

    def expire(self, now: datetime) -> tuple[Approval, list[AuditEvent]]:
        if not self.is_due(now):
            raise RefusedError(RefusalCode.NOT_DUE)
        now = utc(now)
        new = replace(
            self, status=Status.EXPIRED, decided_at=now, decided_by="", version=self.version + 1
        )
        return new, [
            AuditEvent(AuditKind.EXPIRED, now, "signoff", {"deadline": iso(self.expires_at)})
        ]

    def waiting_for(self) -> tuple[str, ...]:
        """The approvers who have not voted yet (the requester left out unless they may
        approve their own request): whom a reminder mentions."""
        voted = {v.user for v in self.votes}
        return tuple(
            a
            for a in self.policy.approvers
            if a not in voted and (self.policy.allow_self_approval or a != self.requester)
        )

    def escalate(
        self, members: Sequence[str], now: datetime, problem: str = ""
    ) -> tuple[Approval, list[AuditEvent]]:
        """The escalation group's members join the approvers, once.

        `problem` says why the group could not be resolved: then nobody is added, the
        attempt is recorded (ESCALATION_FAILED) and the escalation is not tried again.
        """
        if self.status is not Status.PENDING:
            raise RefusedError(self._closed())
        if not self.policy.escalate_to:
            raise RefusedError(RefusalCode.NO_ESCALATION)
        if self.policy.escalated:
            raise RefusedError(RefusalCode.ESCALATED_ALREADY)
        now = utc(now)
        group_id = self.policy.escalate_to
        if problem or not members:
            why = problem or f"the user group {group_id} has no members"
            policy = replace(self.policy, escalated=True)
            event = AuditEvent(
                AuditKind.ESCALATION_FAILED, now, "signoff", {"group": group_id, "why": why}
            )
            return replace(self, policy=policy, version=self.version + 1), [event]
        added = [m for m in dict.fromkeys(members) if m not in self.policy.approvers]
        room = MAX_MEMBERS + MAX_APPROVERS - len(self.policy.approvers)
        added = added[: max(0, room)]
        policy = replace(
            self.policy,
            approvers=(*self.policy.approvers, *added),
            groups=tuple(dict.fromkeys((*self.policy.groups, group_id))),
            # The users named directly stay what they were (a plain list becomes explicit).
            named=self.policy.named_users,
            escalated=True,
        )
        event = AuditEvent(
            AuditKind.ESCALATED,
            now,
            "signoff",
            {"group": group_id, "added": ", ".join(added), "count": str(len(added))},
        )
        return replace(self, policy=policy, version=self.version + 1), [event]

    def cancel(
        self, user: str, now: datetime, reason: str = "", admins: Collection[str] = ()
    ) -> tuple[Approval, list[AuditEvent]]:
        """The requester, or an admin of the deployment, calls the request off."""
        if self.status is not Status.PENDING:
            raise RefusedError(self._closed())
        if user != self.requester and user not in admins:
            raise RefusedError(RefusalCode.NOT_REQUESTER_OR_ADMIN)
        now = utc(now)
        reason = _checked_reason(reason)
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


def _same_order(names: tuple[str, ...], like: tuple[str, ...]) -> tuple[str, ...]:
    """`names` in the order of `like` when they are the same set (else as given)."""
    return like if set(names) == set(like) else names


def _plain(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join("=".join(v) if isinstance(v, tuple) else str(v) for v in value)
    return str(value)


def _checked_reason(reason: str) -> str:
    # Counted as typed (the reject dialog's own limit); escaped it still fits its block.
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValidationError(f"the reason is longer than {MAX_REASON} characters")
    unsafe = unsafe_characters(reason, multiline=True)
    if unsafe:
        raise ValidationError(f"the reason contains {unsafe}")
    return reason


def parse_fields(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"field '{pair}' must look like key=value")
        fields.append((key.strip(), value.strip()))
    return tuple(fields)
