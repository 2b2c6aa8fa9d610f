"""Settings: what the environment may say, and what it may not on Lambda."""

from __future__ import annotations

import pytest

from signoff.config import Settings
from signoff.errors import ConfigError

BASE = {
    "SIGNOFF_TABLE": "t",
    "SIGNOFF_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    "SIGNOFF_SLACK_SECRET_ID": "s",
}
ON_LAMBDA = {**BASE, "AWS_LAMBDA_FUNCTION_NAME": "signoff-workflow"}


def test_on_lambda_the_default_poll_keeps_a_week_within_the_durable_budget() -> None:
    settings = Settings.from_env(ON_LAMBDA)
    assert settings.poll_max_seconds == 4 * 3600


@pytest.mark.parametrize("maximum", ["60", "600"])
def test_on_lambda_a_poll_that_would_pass_awss_operations_limit_is_refused(maximum: str) -> None:
    env = {**ON_LAMBDA, "SIGNOFF_POLL_INITIAL_SECONDS": "1", "SIGNOFF_POLL_MAX_SECONDS": maximum}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert "durable operations over a 7-day request" in message
    assert "AWS allows 3,000 per execution" in message


def test_off_lambda_the_local_stacks_short_poll_is_allowed() -> None:
    # The emulator enforces no limits, and the local stack polls every minute at most.
    env = {**BASE, "SIGNOFF_POLL_INITIAL_SECONDS": "1", "SIGNOFF_POLL_MAX_SECONDS": "60"}
    assert Settings.from_env(env).poll_max_seconds == 60


def test_home_tabs_are_published_per_event_unless_a_window_is_set() -> None:
    assert Settings.from_env(BASE).home_window_seconds == 0.0  # Lambda: no timers
    windowed = Settings.from_env({**BASE, "SIGNOFF_HOME_WINDOW_SECONDS": "2"})
    assert windowed.home_window_seconds == 2.0
    with pytest.raises(ConfigError, match="SIGNOFF_HOME_WINDOW_SECONDS"):
        Settings.from_env({**BASE, "SIGNOFF_HOME_WINDOW_SECONDS": "600"})
