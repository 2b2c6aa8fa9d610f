"""The settings that make the Slack secret rotate, and the refusal codes metrics carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signoff.config import Settings
from signoff.errors import ConfigError, RefusedError
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval, Decision
from signoff.observability import CLICKS_REFUSED
from signoff.refusals import SENTENCES, Refusal, RefusalCode
from signoff.service import Approvals
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


def test_every_vote_refusal_of_the_rules_has_its_own_code() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    request = start_request("apr-c", approvers=("U0A", "U0B", "U0REQ"), min_approvals=2)
    approval, _ = Approval.open(request, now, "c")
    voted, _ = approval.vote("U0A", Decision.APPROVE, now)
    decided, _ = voted.vote("U0B", Decision.APPROVE, now)
    refusals = {
        RefusalCode.NOT_APPROVER: approval.vote_refusal("U0X", now),
        RefusalCode.SELF_APPROVAL: approval.vote_refusal("U0REQ", now),
        RefusalCode.EXPIRED: approval.vote_refusal("U0A", approval.expires_at),
        RefusalCode.CLOSED: decided.vote_refusal("U0REQ", now),
        RefusalCode.ALREADY_VOTED: voted.vote_refusal("U0A", now),
    }
    assert {code: r.code if r else None for code, r in refusals.items()} == {
        code: code for code in refusals
    }


class Counted:
    """Telemetry that keeps the metrics it was given."""

    def __init__(self) -> None:
        self.counted: list[tuple[str, dict[str, str]]] = []

    def tag(self, **keys: str) -> None:
        pass

    def correlate(self, correlation_id: str) -> None:
        pass

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        self.counted.append((name, dimensions))

    def measure(self, name: str, value: float, unit: str, **dimensions: str) -> None:
        pass


def test_a_refused_click_is_counted_by_its_code() -> None:
    """Keyed by the code the rules gave, not by the sentence: a changed vote counts as
    already_voted (matching sentences by prefix, it counted as "other"). Only votes count
    (the dimension's values are the vote refusals' codes)."""
    telemetry = Counted()
    approvals = Approvals(InMemoryApprovalStore(), telemetry=telemetry)
    approvals.open(start_request("apr-m", approvers=("U0A", "U0B"), min_approvals=2))
    approvals.decide("apr-m", "U0A", Decision.APPROVE)
    for user, decision in (("U0A", Decision.REJECT), ("U0X", Decision.APPROVE)):
        with pytest.raises(RefusedError):
            approvals.decide("apr-m", user, decision, "no")
    with pytest.raises(RefusedError):  # audited as cancel_refused; not a vote's refusal
        approvals.cancel("apr-m", "U0X")
    assert [d for name, d in telemetry.counted if name == CLICKS_REFUSED] == [
        {"Reason": "already_voted"},
        {"Reason": "not_approver"},
    ]


def test_a_refusals_sentence_comes_from_its_code_and_details() -> None:
    closed = Refusal(RefusalCode.CLOSED, {"status": "approved"})
    assert str(RefusedError(closed)) == (
        "this request is already approved: nothing more can be decided on it"
    )
    assert RefusedError(closed).code is RefusalCode.CLOSED
    assert str(RefusedError(RefusalCode.EXPIRED)).startswith("this request has expired")
    with pytest.raises(KeyError, match="status"):
        Refusal(RefusalCode.CLOSED)  # the sentence names a status it was not given
    assert set(SENTENCES) == set(RefusalCode)
