"""The settings that make the Slack secret rotate, and the refusal codes metrics carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signoff.config import Settings
from signoff.errors import ConfigError
from signoff.model import Approval, Decision
from signoff.observability import refusal_code
from tests.factories import start_request

REQUIRED = {"SIGNOFF_TABLE": "t", "SIGNOFF_TOPIC_ARN": "arn", "SIGNOFF_SLACK_SECRET_ID": "s"}


def test_the_secret_is_read_again_after_five_minutes_by_default() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.secret_max_age_seconds == 300
    assert settings.secret_refresh_seconds == 30


def test_secret_timings_come_from_the_environment() -> None:
    env = {
        **REQUIRED,
        "SIGNOFF_SECRET_MAX_AGE_SECONDS": "60",
        "SIGNOFF_SECRET_REFRESH_SECONDS": "5",
    }
    settings = Settings.from_env(env)
    assert (settings.secret_max_age_seconds, settings.secret_refresh_seconds) == (60, 5)


@pytest.mark.parametrize(
    "name, value",
    [
        ("SIGNOFF_SECRET_MAX_AGE_SECONDS", "0"),
        ("SIGNOFF_SECRET_MAX_AGE_SECONDS", "soon"),
        ("SIGNOFF_SECRET_REFRESH_SECONDS", "-1"),
    ],
)
def test_bad_secret_timings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({**REQUIRED, name: value})


def test_every_refusal_of_the_rules_has_its_own_code() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    approval, _ = Approval.open(start_request("apr-c", approvers=("U0A", "U0REQ")), now, "c")
    decided, _ = approval.vote("U0A", Decision.APPROVE, now)
    refusals = {
        "not_approver": approval.vote_refusal("U0X", now),
        "self_approval": approval.vote_refusal("U0REQ", now),
        "expired": approval.vote_refusal("U0A", approval.expires_at),
        "closed": decided.vote_refusal("U0REQ", now),
    }
    assert {code: refusal_code(why or "") for code, why in refusals.items()} == {
        code: code for code in refusals
    }
    assert refusal_code("something new") == "other"
