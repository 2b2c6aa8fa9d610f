"""The one table of Slack errors: what each means and what a person should do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from signoff import messages
from signoff.messages import (
    PERMANENT_ERRORS,
    SLACK_ERRORS,
    TOKEN_ERRORS,
    PermanentSlackError,
    Problem,
    SlackRefusedError,
    SlackUnansweredError,
    failure_advice,
    slack_failure,
)
from signoff.model import Approval
from tests.factories import start_request

# Errors Slack documents for the calls the notifier makes, that no retry can fix.
MUST_BE_PERMANENT = [
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "channel_is_archived",
    "message_not_found",
    "thread_not_found",
    "cant_update_message",
    "edit_window_closed",
    "msg_too_long",
    "invalid_blocks",
    "no_text",
    "restricted_action",
    "user_not_found",
    "cannot_dm_bot",
    "team_access_not_granted",
    "not_allowed_token_type",
    "ekm_access_denied",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_authed",
    "missing_scope",
]
APPROVAL, _ = Approval.open(
    start_request("apr-e1", channel="C0OPS", requester="U0REQ"), datetime(2026, 11, 27, tzinfo=UTC)
)


def api_error(code: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.update",
        req_args={},
        data={"ok": False, "error": code},
        headers={},
        status_code=200,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize("code", MUST_BE_PERMANENT)
def test_errors_no_retry_fixes_are_permanent(code: str) -> None:
    assert code in PERMANENT_ERRORS
    raised = slack_failure("chat.update", api_error(code))
    assert isinstance(raised, PermanentSlackError) and raised.error == code


@pytest.mark.parametrize("code", ["ratelimited", "internal_error", "fatal_error", "not_a_code"])
def test_other_errors_are_retried(code: str) -> None:
    raised = slack_failure("chat.postMessage", api_error(code))
    assert type(raised) is SlackRefusedError and raised.error == code


def test_a_lost_answer_is_its_own_error() -> None:
    raised = slack_failure("chat.update", TimeoutError("timed out"))
    assert isinstance(raised, SlackUnansweredError) and raised.error == messages.NO_RESPONSE


@pytest.mark.parametrize("code", sorted(SLACK_ERRORS))
def test_every_error_says_what_to_do_and_how_to_decide_meanwhile(code: str) -> None:
    advice = failure_advice(APPROVAL, code, "chat.update")
    assert "{" not in advice and advice.endswith("--as USER.")
    assert "signoff decide apr-e1 approve|reject" in advice
    problem, _ = SLACK_ERRORS[code]
    if problem is Problem.CHANNEL:
        assert "C0OPS" in advice
    if problem is Problem.RECIPIENT:
        assert "U0REQ" in advice
    assert (code in TOKEN_ERRORS) == (problem is Problem.APP)


def test_an_error_given_up_after_retries_says_how_often_it_was_tried() -> None:
    advice = failure_advice(APPROVAL, "internal_error", "chat.update", tries=3)
    assert "kept answering chat.update with internal_error (3 tries)" in advice
