"""Who signoff can mention and message: Slack user ids, not plain names."""

from __future__ import annotations

import pytest

from signoff.model import is_slack_user, person_problem


@pytest.mark.parametrize("user", ["U0A", "U012ABCDEF", "W0GRID123"])
def test_slack_user_ids_can_be_mentioned(user: str) -> None:
    assert is_slack_user(user) and person_problem("the user", user) is None


@pytest.mark.parametrize(
    "user", ["alice", "alice@example.com", "U0", "u0abc", "S0DBA", "C0CHAN", "U0A\n", "U0A-x"]
)
def test_anything_else_is_a_plain_name(user: str) -> None:
    assert not is_slack_user(user)
