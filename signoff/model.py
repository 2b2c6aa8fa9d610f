"""The approval and its rules: plain Python, no I/O.

Every state change is a method that returns a new value; the store commits it with
one conditional write guarded by the version it was computed from.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import FrozenInstanceError, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self, TypeVar, dataclass_transform

from signoff.binding import Binding, bindings_problems
from signoff.cardtext import card_problem
from signoff.ci import GateRef, Link, links_problems
from signoff.errors import RefusedError, ValidationError
from signoff.frozen import frozen
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


def shown(text: str, limit: int = 40) -> str:
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
    SNOOZED = "snoozed"  # an approver asked for no reminders until a time (signoff.reports)
    REPORTED = "reported"  # the pipeline said what it did after approval (signoff.reports)
    REUSED = "reused"  # approved at once on an earlier approval of the same fingerprint
    GATE_RELEASED = "gate_released"  # the CI system's hold was released (detail: its answer)
    GATE_FAILED = "gate_failed"  # releasing it failed (detail: why, and whether it is retried)


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
            f"{shown(text)} is not a duration: use e.g. 90s, 30m, 2h or 1d "
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


# -- validators: kickoff, the policy document and the CLI say the same thing the same way --


def name_problem(what: str, value: str) -> str | None:
    """Why `value` cannot name `what` (a request's id, a policy), or None."""
    if _ID_RE.match(value):
        return None
    return f"{what} {shown(value)} must be 3-64 lowercase letters, digits or '-'"


def id_problem(value: str) -> str | None:
    """Why `value` cannot be an approval id, or None: checked before any read, so that
    what is not an id is refused with this sentence rather than by the table."""
    if _ID_RE.match(value):
        return None
    return (
        f"{shown(value)} is not an approval id: an id is 3-64 lowercase letters, "
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
        f"{what} {shown(value)} must be a Slack user id or a name of "
        "up to 64 letters, digits or . _ @ + -"
    )


def is_slack_user(user: str) -> bool:
    """A Slack user id (which can be mentioned and messaged), not a plain name."""
    return bool(_SLACK_USER_RE.match(user))


def person_width(person: str) -> int:
    """The characters a person takes on the card: a Slack user is a mention, no text."""
    return 0 if is_slack_user(person) else len(person)


def group_problem(what: str, value: str) -> str | None:
    """Why `value` cannot name a Slack user group (an id like S0123ABCD), or None."""
    if _GROUP_RE.match(value):
        return None
    return f"{what} {shown(value)} must be a Slack user group id (S followed by capitals/digits)"


def channel_problem(value: str) -> str | None:
    """Why `value` cannot name a Slack channel, or None."""
    if _CHANNEL_RE.match(value):
        return None
    return (
        f"the channel {shown(value)} must be a Slack channel id or name "
        "(up to 80 letters, digits or . _ -)"
    )


def duration_problem(
    what: str, value: timedelta, least: timedelta, most: timedelta | None = None
) -> str | None:
    """Why `value` is out of bounds for `what` (at least `least`, at most `most`), or None."""
    if most is not None and not least <= value <= most:
        return f"{what} must be between {format_duration(least)} and {format_duration(most)}"
    if value < least:
        return f"{what} must be at least {format_duration(least)}"
    return None


def found(*problems: str | None) -> list[str]:
    """The problems a row of validators found (each None when all was well)."""
    return [p for p in problems if p is not None]


def text_problems(
    what: str, text: str, limit: int, *, required: bool = False, multiline: bool = False
) -> list[str]:
    """What is wrong with user text shown in Slack: empty when `required`, longer than
    `limit` as Slack counts it (escaped), or holding characters that can spoof a display."""
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


@frozen(kw_only=True)
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
        # The requester hears that self-approval is off, approver or not: that is the rule
        # that keeps them out, whatever the list says.
        if user == requester and not self.allow_self_approval:
            return Refusal(RefusalCode.SELF_APPROVAL)
        if user not in self.approvers:
            return Refusal(RefusalCode.NOT_APPROVER)
        return None


@frozen(kw_only=True)
class Vote:
    user: str
    decision: Decision
    at: datetime
    reason: str = ""


@frozen(kw_only=True)
class SlackRef:
    channel: str
    ts: str


def new_event_ref() -> str:
    return secrets.token_hex(4)


@frozen(kw_only=True)
class AuditEvent:
    """One entry of an approval's audit trail, as the store writes it and reads it back.

    `detail` is what the kind says (text only); the views below read and write the keys
    of each kind, so no reader parses them by hand. Keys a view does not know (the CLI's
    `caller`) ride along untouched.
    """

    kind: AuditKind
    at: datetime
    actor: str
    detail: Mapping[str, str] = field(default_factory=dict)
    # Which event this is: writing the same event again (a write whose answer was lost)
    # finds it written instead of adding a second one.
    ref: str = field(default_factory=new_event_ref, compare=False)

    def read(self, view: type[_V]) -> _V | None:
        """This event's detail as `view` (None when the event is of another kind)."""
        return view.read(self.detail) if self.kind in view.KINDS else None


@frozen(kw_only=True)
class RecordedEvent:
    """An audit event with the approval it belongs to (the history export's rows)."""

    approval_id: str
    event: AuditEvent


class _EventView(Protocol):
    KINDS: ClassVar[frozenset[AuditKind]]

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self: ...


@dataclass_transform(kw_only_default=True, frozen_default=True)
class _Detail:
    """The base of the per-kind audit details: frozen values given by keyword, compared,
    hashed and shown as dataclasses are.

    Not `@dataclass`: a dataclass generates and compiles its methods when it is defined,
    about 3 M instructions each, on every cold start of every function (twelve of them
    made the Slack handler's cold start 3.5% slower). These are defined for free; the
    checkers see them as dataclasses (`dataclass_transform`).
    """

    _FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        annotations = cls.__dict__.get("__annotations__", {})
        own = tuple(n for n, hint in annotations.items() if not str(hint).startswith("ClassVar"))
        cls._FIELDS = (*cls._FIELDS, *own)

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - set(self._FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        for name in self._FIELDS:
            if name in values:
                object.__setattr__(self, name, values[name])
            elif not hasattr(type(self), name):  # a field without a default
                raise TypeError(f"{type(self).__name__} needs {name}")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, _Detail):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._FIELDS)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


_V = TypeVar("_V", bound=_EventView)


def _number(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _names(text: str | None) -> tuple[str, ...]:
    """A list of people as the detail keeps it: ", "-joined (ids hold no comma or space)."""
    return tuple(n for n in (text or "").split(", ") if n)


class Created(_Detail):
    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.CREATED})
    title: str
    expires_at: datetime

    def detail(self) -> dict[str, str]:
        return {"title": self.title, "expires_at": iso(self.expires_at)}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(title=detail.get("title", ""), expires_at=parse_iso(detail["expires_at"]))


class Voted(_Detail):
    """A vote: its decision, the reason given, and for an approval the tally it made."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.VOTED})
    decision: Decision
    reason: str = ""
    approvals: tuple[int, int] | None = None  # (approved so far, needed)

    def detail(self) -> dict[str, str]:
        detail = {
            "decision": self.decision.value,
            **({"reason": self.reason} if self.reason else {}),
        }
        if self.approvals is not None:
            detail["approvals"] = f"{self.approvals[0]} of {self.approvals[1]}"
        return detail

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        tally = detail.get("approvals", "").split(" of ")
        return cls(
            decision=Decision(detail["decision"]),
            reason=detail.get("reason", ""),
            approvals=(_number(tally[0]), _number(tally[1])) if len(tally) == 2 else None,
        )


class Decided(_Detail):
    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.DECIDED})
    outcome: Status

    def detail(self) -> dict[str, str]:
        return {"outcome": self.outcome.value}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(outcome=Status(detail["outcome"]))


class Expired(_Detail):
    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.EXPIRED})
    deadline: datetime

    def detail(self) -> dict[str, str]:
        return {"deadline": iso(self.deadline)}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(deadline=parse_iso(detail["deadline"]))


class Cancelled(_Detail):
    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.CANCELLED})
    reason: str = ""

    def detail(self) -> dict[str, str]:
        return {"reason": self.reason} if self.reason else {}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(reason=detail.get("reason", ""))


class Refused(_Detail):
    """A vote or a cancel the rules refused, and the sentence the person was told."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset(
        {AuditKind.VOTE_REFUSED, AuditKind.CANCEL_REFUSED}
    )
    why: str
    code: str = ""  # the refusal's code (signoff.refusals); events written before codes lack it

    def detail(self) -> dict[str, str]:
        return {"why": self.why, "code": self.code} if self.code else {"why": self.why}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(why=detail.get("why", ""), code=detail.get("code", ""))


class Notified(_Detail):
    """The request's Slack message was posted (or found) and kept on the record."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.NOTIFIED})
    message: SlackRef

    def detail(self) -> dict[str, str]:
        return {"channel": self.message.channel, "ts": self.message.ts}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(message=SlackRef(channel=detail["channel"], ts=detail["ts"]))


class MessageUpdated(_Detail):
    """A closed request's message was re-rendered to show its outcome."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.MESSAGE_UPDATED})
    status: Status

    def detail(self) -> dict[str, str]:
        return {"status": self.status.value}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(status=Status(detail["status"]))


class SlackFailed(_Detail):
    """Slack refused a call for good (or kept failing): the call, its error, what to do."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.SLACK_FAILED})
    call: str
    error: str
    what_to_do: str
    tries: int = 0  # 0: refused for good at the first try

    def detail(self) -> dict[str, str]:
        detail = {"call": self.call, "error": self.error, "what_to_do": self.what_to_do}
        if self.tries:
            detail["tries"] = str(self.tries)
        return detail

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(
            call=detail.get("call", ""),
            error=detail.get("error", ""),
            what_to_do=detail.get("what_to_do", ""),
            tries=_number(detail.get("tries")),
        )


class Reminded(_Detail):
    """Reminder `number` (counted in intervals since creation), and whom it mentions."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.REMINDED})
    number: int
    waiting_for: tuple[str, ...] = ()

    def detail(self) -> dict[str, str]:
        return {"number": str(self.number), "waiting_for": ", ".join(self.waiting_for)}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(
            number=_number(detail.get("number")), waiting_for=_names(detail.get("waiting_for"))
        )


class Escalated(_Detail):
    """The escalation group's members who joined the approvers."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.ESCALATED})
    group: str
    added: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.added)

    def detail(self) -> dict[str, str]:
        return {"group": self.group, "added": ", ".join(self.added), "count": str(self.count)}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(group=detail.get("group", ""), added=_names(detail.get("added")))


class EscalationFailed(_Detail):
    """The escalation group could not be resolved: nobody was added, and why."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.ESCALATION_FAILED})
    group: str
    why: str

    def detail(self) -> dict[str, str]:
        return {"group": self.group, "why": self.why}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(group=detail.get("group", ""), why=detail.get("why", ""))


class GateReleased(_Detail):
    """A CI system's hold was released (signoff/gates): which gate, as what, its answer."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.GATE_RELEASED})
    kind: str
    state: str  # approved | rejected
    answer: str

    def detail(self) -> dict[str, str]:
        return {"kind": self.kind, "state": self.state, "answer": self.answer}

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(
            kind=detail.get("kind", ""),
            state=detail.get("state", ""),
            answer=detail.get("answer", ""),
        )


class GateFailed(_Detail):
    """Releasing a CI system's hold failed: the error, the tries, what to do."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.GATE_FAILED})
    kind: str
    error: str
    what_to_do: str
    tries: int = 0  # 0: refused for good at the first try (not retried)

    def detail(self) -> dict[str, str]:
        detail = {"kind": self.kind, "error": self.error, "what_to_do": self.what_to_do}
        if self.tries:
            detail["tries"] = str(self.tries)
        return detail

    @classmethod
    def read(cls, detail: Mapping[str, str]) -> Self:
        return cls(
            kind=detail.get("kind", ""),
            error=detail.get("error", ""),
            what_to_do=detail.get("what_to_do", ""),
            tries=_number(detail.get("tries")),
        )


@frozen(kw_only=True)
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
    # What is approved (a commit, an image, a plan): fixed at kickoff, never changed.
    bindings: tuple[Binding, ...] = ()
    # A named policy's reuse window, filled in at kickoff (never by a requester).
    reuse_for: timedelta | None = None
    # The CI hold this request releases (filled by a gate), and links shown as buttons.
    gate: GateRef | None = None
    links: tuple[Link, ...] = ()

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValidationError("; ".join(problems))

    def problems(self) -> list[str]:
        """Everything wrong with this request, each said in a sentence; empty when valid."""
        problems = found(name_problem("id", self.id))
        problems += text_problems("the title", self.title, MAX_TITLE, required=True)
        problems += text_problems(
            "the description", self.description, MAX_DESCRIPTION, multiline=True
        )
        problems += found(
            person_problem("the requester", self.requester)
            if self.requester.strip()
            else "the requester is empty"
        )
        problems += self._approver_problems()
        problems += found(
            channel_problem(self.channel) if self.channel else None,
            duration_problem("the timeout", self.timeout, MIN_TIMEOUT, MAX_TIMEOUT),
        )
        problems += self._field_problems()
        problems += self._schedule_problems()
        problems += bindings_problems(self.bindings)
        problems += links_problems(self.links)
        if not problems:  # each text within its own limit: the card as a whole
            problems += found(card_problem(self, MAX_REASON, person_width))
        return problems

    def _schedule_problems(self) -> list[str]:
        return found(
            *(
                duration_problem(what, every, MIN_TIMEOUT) if every is not None else None
                for what, every in (
                    ("remind_every", self.remind_every),
                    ("escalate_after", self.escalate_after),
                )
            ),
            "escalate_after and escalate_to go together"
            if bool(self.escalate_after) != bool(self.escalate_to)
            else None,
            group_problem("escalate_to", self.escalate_to) if self.escalate_to else None,
        )

    @property
    def resolved(self) -> bool:
        """Whether the approvers are all known (no group waits to be looked up)."""
        return not self.approver_groups or bool(self.members)

    def _approver_problems(self) -> list[str]:
        if not self.approvers and not self.approver_groups and not self.policy:
            return ["name a policy, at least one approver, or an approver group"]
        problems: list[str] = []
        if self.policy:
            problems += found(name_problem("policy", self.policy))
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
            problems += text_problems(f"field name {shown(key)}", key, MAX_FIELD_KEY, required=True)
            problems += text_problems(
                f"the value of field {shown(key)}", value, MAX_FIELD_VALUE, multiline=True
            )
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            problems.append(f"fields named more than once: {', '.join(map(shown, repeated))}")
        return problems


@frozen(kw_only=True)
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
    bindings: tuple[Binding, ...] = ()  # what is approved; fixed at kickoff
    reused_from: str = ""  # the earlier approval of the same fingerprint this one reused
    # The CI hold the outcome releases, and the links shown on the message: as filed.
    gate: GateRef | None = None
    links: tuple[Link, ...] = ()

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
                approvers=tuple(dict.fromkeys((*request.approvers, *request.members))),
                allow_self_approval=request.allow_self_approval,
                min_approvals=request.min_approvals,
                groups=request.approver_groups,
                named=request.approvers if request.approver_groups else (),
                name=request.policy,
                remind_every=request.remind_every,
                escalate_after=request.escalate_after,
                escalate_to=request.escalate_to,
            ),
            channel=request.channel.strip() or default_channel,
            status=Status.PENDING,
            created_at=now,
            expires_at=now + request.timeout,
            version=1,
            bindings=request.bindings,
            gate=request.gate,
            links=request.links,
        )
        event = AuditEvent(
            kind=AuditKind.CREATED,
            at=now,
            actor=request.requester,
            detail=Created(title=request.title, expires_at=approval.expires_at).detail(),
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
            ("bindings", _bound(self.bindings), _bound(request.bindings)),
            ("links", self.links, request.links),
            ("gate", self.gate, request.gate),
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
            # Bindings in full: two commits may differ in their last digits only.
            f"{name} was {shown(_plain(old), limit)}, now {shown(_plain(new), limit)}"
            for name, old, new in pairs
            for limit in [250 if name == "bindings" else 40]
            if old != new
        ]

    def is_due(self, now: datetime) -> bool:
        return self.status is Status.PENDING and past_deadline(self.expires_at, now)

    def vote_refusal(self, user: str, now: datetime) -> Refusal | None:
        """Why `user` may not vote now, or None if they may."""
        if self.status is not Status.PENDING:
            return self._closed()
        if past_deadline(self.expires_at, now):
            return self._about(Refusal(RefusalCode.EXPIRED))
        refusal = self.policy.refusal(user, self.requester)
        if refusal:
            return self._about(refusal)
        earlier = next((v for v in self.votes if v.user == user), None)
        if earlier is not None:
            said = "approved" if earlier.decision is Decision.APPROVE else "rejected"
            return self._about(Refusal(RefusalCode.ALREADY_VOTED, {"vote": said}))
        return None

    def _closed(self) -> Refusal:
        return self._about(Refusal(RefusalCode.CLOSED, {"status": self.status.value}))

    def _about(self, refusal: Refusal) -> Refusal:
        """The refusal with what its sentence may name: this request, who decided it and
        when, who may decide it (signoff.refusals words it)."""
        about = {
            "approval_id": self.id,
            "title": self.title,
            "requester": self.requester,
            "approvers": ", ".join(self.policy.approvers),
            "deadline": iso(self.expires_at),
        }
        if self.status is not Status.PENDING:
            about["by"] = self.decided_by
            about["at"] = iso(self.decided_at) if self.decided_at else ""
        return replace(refusal, details={**about, **refusal.details})

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
        vote = Vote(user=user, decision=decision, at=now, reason=reason)
        approved = len(self.approved_by) + 1
        voted = AuditEvent(
            kind=AuditKind.VOTED,
            at=now,
            actor=user,
            detail=Voted(
                decision=decision,
                reason=reason,
                approvals=(approved, self.policy.min_approvals)
                if decision is Decision.APPROVE
                else None,
            ).detail(),
        )
        if decision is Decision.APPROVE and approved < self.policy.min_approvals:
            waiting = replace(self, votes=(*self.votes, vote), version=self.version + 1)
            return waiting, [voted]
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
            voted,
            AuditEvent(
                kind=AuditKind.DECIDED, at=now, actor=user, detail=Decided(outcome=status).detail()
            ),
        ]
        return new, events

    def expire(self, now: datetime) -> tuple[Approval, list[AuditEvent]]:
        if not self.is_due(now):
            raise RefusedError(RefusalCode.NOT_DUE)
        now = utc(now)
        new = replace(
            self, status=Status.EXPIRED, decided_at=now, decided_by="", version=self.version + 1
        )
        expired = Expired(deadline=self.expires_at)
        return new, [
            AuditEvent(kind=AuditKind.EXPIRED, at=now, actor="signoff", detail=expired.detail())
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
                kind=AuditKind.ESCALATION_FAILED,
                at=now,
                actor="signoff",
                detail=EscalationFailed(group=group_id, why=why).detail(),
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
            kind=AuditKind.ESCALATED,
            at=now,
            actor="signoff",
            detail=Escalated(group=group_id, added=tuple(added)).detail(),
        )
        return replace(self, policy=policy, version=self.version + 1), [event]

    def cancel(
        self, user: str, now: datetime, reason: str = "", admins: Collection[str] = ()
    ) -> tuple[Approval, list[AuditEvent]]:
        """The requester, or an admin of the deployment, calls the request off."""
        if self.status is not Status.PENDING:
            raise RefusedError(self._closed())
        if user != self.requester and user not in admins:
            raise RefusedError(self._about(Refusal(RefusalCode.NOT_REQUESTER_OR_ADMIN)))
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
        detail = Cancelled(reason=reason).detail()
        return new, [AuditEvent(kind=AuditKind.CANCELLED, at=now, actor=user, detail=detail)]


def _same_order(names: tuple[str, ...], like: tuple[str, ...]) -> tuple[str, ...]:
    """`names` in the order of `like` when they are the same set (else as given)."""
    return like if set(names) == set(like) else names


def _bound(bindings: tuple[Binding, ...]) -> str:
    return ", ".join(map(str, bindings)) or "none"


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
