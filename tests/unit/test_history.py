"""Page tokens and --since: what the history listing accepts from a person."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from signoff.errors import ValidationError
from signoff.history import Window, months, parse_since

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KEY = "2026-11-26T08:00:00.000Z#apr-abc"


@pytest.mark.parametrize(
    ("text", "span"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), (" 7d ", timedelta(days=7))],
)
def test_since_takes_minutes_hours_and_days(text: str, span: timedelta) -> None:
    assert parse_since(text) == span


def test_since_is_at_most_366_days() -> None:
    assert parse_since("366d") == timedelta(days=366)
    with pytest.raises(ValidationError, match="at most 366d"):
        parse_since("367d")


def test_months_cover_the_window_across_a_year() -> None:
    assert months(T0 - timedelta(days=40), T0) == ["2026-10", "2026-11"]
    assert months(datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)) == [
        "2025-12",
        "2026-01",
    ]
    assert months(T0, T0) == ["2026-11"]


def test_a_token_carries_its_window() -> None:
    window = Window(status="approved", since=T0 - timedelta(days=7), until=T0)
    assert Window.from_token(window.token(KEY)) == (window, KEY)
    pending = Window(status="pending")
    assert Window.from_token(pending.token(KEY)) == (pending, KEY)


def _forged(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not base64 !",
        _forged([1, 2]),
        _forged({"status": "all", "since": None, "until": None}),
        _forged({"status": "all", "since": None, "until": None, "after": "apr-abc"}),
        _forged({"status": "all", "since": None, "until": None, "after": KEY + "#ZZ"}),
        _forged({"status": 1, "since": None, "until": None, "after": KEY}),
        _forged(
            {"status": "all", "since": "2026-11-20T00:00:00.000Z", "until": None, "after": KEY}
        ),
        _forged({"status": "all", "since": "yesterday", "until": "today", "after": KEY}),
        # The key lies outside the window the token claims.
        _forged(
            {
                "status": "all",
                "since": "2026-11-26T09:00:00.000Z",
                "until": "2026-11-27T00:00:00.000Z",
                "after": KEY,
            }
        ),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_token_signoff_did_not_print_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="page token is not one signoff printed"):
        Window.from_token(token)
