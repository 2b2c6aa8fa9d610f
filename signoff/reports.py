"""What happens around a decision without changing it: a pipeline's report after approval
(`signoff report`), and an approver's snooze of their reminders.

Neither touches the approval record: each is an audit event, and the notifier reads it
back (the report onto the card and into the thread; the snooze when a reminder is due).
A report is written once per report key, whatever retries the pipeline makes: the once
item and the event are one conditional transaction (`Claims.finish_once`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol, Self

from signoff.errors import RefusedError, ValidationError
from signoff.events import Publisher, Topic
from signoff.frozen import frozen
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Status,
    checked_id,
    iso,
    parse_iso,
    person_problem,
    utc,
)
from signoff.refusals import Refusal, RefusalCode
from signoff.text import slack_length, unsafe_characters

MAX_NOTE = 500  # characters, as Slack counts them: a line or two under the card
MAX_URL = 3000  # Slack's limit on a link button's or a rich text link's URL
MAX_KEY = 100
SNOOZE = timedelta(hours=1)
_KEY = re.compile(r"[A-Za-z0-9._:/#@+=-]+")
_URL = re.compile(r"https?://[^\s<>|]+")


class Stage(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@frozen(kw_only=True)
class Reported:
    """What a pipeline did after approval: its stage, a link to its run, a note."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.REPORTED})
    key: str  # the report's key: one report per key, ever
    stage: Stage
    url: str = ""
    note: str = ""

    def detail(self) -> dict[str, str]:
        detail = {"key": self.key, "stage": self.stage.value}
        if self.url:
            detail["url"] = self.url
        if self.note:
            detail["note"] = self.note
        return detail

    @classmethod
    def read(cls, d: Mapping[str, str]) -> Self:
        stage = d.get("stage", "")
        return cls(
            key=d.get("key", ""),
            stage=Stage(stage) if stage in set(Stage) else Stage.STARTED,
            url=d.get("url", ""),
            note=d.get("note", ""),
        )

    @property
    def run(self) -> str:
        """How the link is labelled: "run #123" for a CI run's URL, else "the run"."""
        found = re.search(r"/runs?/(\d+)", self.url)
        return f"run #{found.group(1)}" if found else "the run"


@frozen(kw_only=True)
class Snoozed:
    """An approver asked for no reminders of this request until `until`."""

    KINDS: ClassVar[frozenset[AuditKind]] = frozenset({AuditKind.SNOOZED})
    until: datetime

    def detail(self) -> dict[str, str]:
        return {"until": iso(self.until)}

    @classmethod
    def read(cls, d: Mapping[str, str]) -> Self:
        try:
            return cls(until=parse_iso(d.get("until", "")))
        except ValueError:
            return cls(until=datetime.fromtimestamp(0, UTC))


@frozen(kw_only=True)
class Report:
    """One report as the card and the thread show it."""

    reported: Reported
    by: str
    at: datetime


def reports(audit: Iterable[AuditEvent]) -> list[Report]:
    """The approval's reports, in the order they were made."""
    return [
        Report(reported=found, by=e.actor, at=e.at)
        for e in audit
        if (found := e.read(Reported)) is not None
    ]


def snoozed(audit: Iterable[AuditEvent], user: str, at: datetime) -> bool:
    """Whether `user` had snoozed the approval's reminders at `at`."""
    return any(
        e.actor == user and (found := e.read(Snoozed)) is not None and found.until > utc(at)
        for e in audit
    )


def new_key() -> str:
    """A report key for one `signoff report` call that names none."""
    return "call-" + uuid.uuid4().hex[:16]


def report_problem(stage: str, url: str, note: str, key: str) -> str | None:
    """What is wrong with a report's input, said plainly (None: nothing)."""
    if stage not in set(Stage):
        return f"the stage is started, succeeded or failed, not {stage!r}"
    if url and (len(url) > MAX_URL or not _URL.fullmatch(url)):
        return f"--url must be an http(s) URL of at most {MAX_URL} characters, without spaces"
    if slack_length(note) > MAX_NOTE:
        return (
            f"--note is {slack_length(note)} characters as Slack counts them; at most "
            f"{MAX_NOTE} are shown whole, so shorten it"
        )
    if bad := unsafe_characters(note, multiline=True):
        return f"--note holds {bad}; type it without"
    if not key or len(key) > MAX_KEY or not _KEY.fullmatch(key):
        return (
            f"--key is 1 to {MAX_KEY} letters, digits or . _ : / # @ + = - "
            "(for instance the CI run's id and the stage)"
        )
    return None


class ReportStore(Protocol):
    """What reports and snoozes read and write."""

    def get(self, approval_id: str) -> Approval: ...
    def audit(self, approval_id: str, since: datetime | None = None) -> list[AuditEvent]: ...
    def record(
        self, approval_id: str, event: AuditEvent, expires_at: datetime | None = None
    ) -> None: ...
    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None: ...


@frozen(kw_only=True)
class ReportResult:
    approval: Approval
    report: Reported
    new: bool  # False: this key was reported before (this call wrote nothing)


@frozen(kw_only=True)
class Reports:
    """The use cases: a pipeline's report, an approver's snooze."""

    store: ReportStore
    clock: Callable[[], datetime]
    publisher: Publisher | None = None

    def report(
        self,
        approval_id: str,
        stage: str,
        *,
        actor: str,
        url: str = "",
        note: str = "",
        key: str = "",
    ) -> ReportResult:
        """Record what the pipeline did, once per `key`, and have the notifier show it.

        Refused (RefusedError, NOT_APPROVED) unless the request was approved; bad input is
        a ValidationError before anything is read.
        """
        checked_id(approval_id)
        key = key or new_key()
        if problem := report_problem(stage, url, note, key) or person_problem("--as", actor):
            raise ValidationError(problem)
        approval = self.store.get(approval_id)
        if approval.status is not Status.APPROVED:
            details = {"approval_id": approval.id, "title": approval.title}
            raise RefusedError(
                Refusal(RefusalCode.NOT_APPROVED, {**details, "status": approval.status.value})
            )
        reported = Reported(key=key, stage=Stage(stage), url=url, note=note)
        event = AuditEvent(
            kind=AuditKind.REPORTED, at=utc(self.clock()), actor=actor, detail=reported.detail()
        )
        self.store.finish_once(approval_id, report_key(key), event.at, event)
        new = any(e.ref == event.ref for e in self.store.audit(approval_id, event.at))
        if self.publisher is not None:
            # Every call publishes: a repeat after a lost publish still gets it shown; the
            # notifier shows each report once.
            self.publisher.publish(Topic.REPORTED, approval_id)
        return ReportResult(approval=approval, report=reported, new=new)


def report_key(key: str) -> str:
    """The once-key under which report `key` is written."""
    return f"reported:{key}"


def shown(found: Sequence[Report], limit: int = 10) -> tuple[list[Report], int]:
    """The reports a card shows (the latest `limit`) and how many earlier ones it leaves out."""
    latest = list(found[max(0, len(found) - limit) :])
    return latest, len(found) - len(latest)


class SnoozeStore(Protocol):
    def get(self, approval_id: str) -> Approval: ...
    def record(
        self, approval_id: str, event: AuditEvent, expires_at: datetime | None = None
    ) -> None: ...


def snooze(
    store: SnoozeStore,
    clock: Callable[[], datetime],
    approval_id: str,
    user: str,
    span: timedelta = SNOOZE,
) -> tuple[Approval, datetime]:
    """No reminders of this request for `user` until now + `span` (audited): the request
    and that time.

    Only someone the request still waits for may snooze it; anyone else (or a closed
    request) is refused with the vote's own refusal.
    """
    approval = store.get(checked_id(approval_id))
    now = utc(clock())
    refusal = approval.vote_refusal(user, now)
    if refusal is not None:
        raise RefusedError(refusal)
    until = now + span
    event = AuditEvent(
        kind=AuditKind.SNOOZED, at=now, actor=user, detail=Snoozed(until=until).detail()
    )
    store.record(approval_id, event, approval.expires_at)
    return approval, until
