"""History access paths: the keys the history indexes sort on, and page tokens.

Approvals and audit events are indexed by month (`YYYY-MM`, UTC): a listing over a time
window is one Query per month it touches, newest (or oldest) first, each reading only what
it returns. A page ends at an item; the next page starts after that item's index sort key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from signoff.errors import ValidationError
from signoff.frozen import frozen
from signoff.model import iso, parse_iso, utc

T = TypeVar("T")

DEFAULT_SINCE = timedelta(days=7)
MAX_SINCE = timedelta(days=366)
MAX_LIMIT = 1000

# An index sort key: an ISO timestamp (as `iso` writes it), '#', an approval id, and for an
# audit event its order within the write. Page tokens carry one; nothing else is accepted.
_SORT_KEY_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"
    r"#[a-z0-9][a-z0-9-]{2,63}(#[0-9a-f]{1,16}){0,2}$",
    re.ASCII,
)
_SINCE_RE = re.compile(r"^\s*([0-9]{1,6})\s*([mhd])\s*$", re.ASCII)
_SINCE_UNITS = {"m": 60, "h": 3600, "d": 86400}
# Sorts after every character of an id or an event's order: the inclusive upper bound of
# the keys at one timestamp.
KEY_CEILING = "#~"


def parse_since(text: str) -> timedelta:
    """'30m', '12h', '7d' → timedelta; at most MAX_SINCE."""
    match = _SINCE_RE.match(text)
    since = timedelta(seconds=int(match.group(1)) * _SINCE_UNITS[match.group(2)]) if match else None
    if since is None or not timedelta(0) < since <= MAX_SINCE:
        shown = repr(text if len(text) <= 40 else text[:40] + "…")
        raise ValidationError(
            f"--since {shown} is not a time span: use minutes, hours or days such as "
            f"30m, 12h or 7d (at most {MAX_SINCE.days}d)"
        )
    return since


def month(value: datetime) -> str:
    return utc(value).strftime("%Y-%m")


def months(since: datetime, until: datetime) -> list[str]:
    """Every month from since's to until's, oldest first."""
    year, mon = utc(since).year, utc(since).month
    last = month(until)
    found = []
    while True:
        current = f"{year:04d}-{mon:02d}"
        found.append(current)
        if current >= last:
            return found
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)


def approval_key(created_at: datetime, approval_id: str) -> str:
    """An approval's sort key in the history indexes: newest first means descending."""
    return f"{iso(created_at)}#{approval_id}"


def key_time(sort_key: str) -> datetime:
    return parse_iso(sort_key.split("#", 1)[0])


def key_id(sort_key: str) -> str:
    return sort_key.split("#")[1]


@frozen(kw_only=True)
class Page(Generic[T]):
    """Items in index order; `after` is the last one's sort key when the page is full."""

    items: tuple[T, ...]
    after: str | None = None


@frozen(kw_only=True)
class Window:
    """What a listing reads: a status ("all" for every one) over [since, until], or, with
    no times, the pending list in deadline order. A page token carries it, so the next page
    reads the same window even though `--since 7d` means another instant a minute later."""

    status: str
    since: datetime | None = None
    until: datetime | None = None

    def token(self, after: str) -> str:
        body = {
            "status": self.status,
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until) if self.until else None,
            "after": after,
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> tuple[Window, str]:
        """The window and the key to start after; ValidationError for anything we did not print."""
        bad = ValidationError(
            "the page token is not one signoff printed: pass the `next page` value of the "
            "listing you are continuing, with the same --status"
        )
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = json.loads(raw.decode())
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise bad from None
        if not isinstance(body, dict) or set(body) != {"status", "since", "until", "after"}:
            raise bad
        status, since, until, after = (body[k] for k in ("status", "since", "until", "after"))
        if not isinstance(status, str) or not isinstance(after, str):
            raise bad
        if not _SORT_KEY_RE.match(after):
            raise bad
        if (since is None) != (until is None):
            raise bad
        if since is None:
            return cls(status=status), after
        if not isinstance(since, str) or not isinstance(until, str):
            raise bad
        try:
            window = cls(status=status, since=parse_iso(since), until=parse_iso(until))
        except ValueError:
            raise bad from None
        assert window.since is not None and window.until is not None
        if not window.since <= key_time(after) <= window.until:
            raise bad
        return window, after
