"""The Slack secret rotated under running handlers (moto's Secrets Manager, the Slack
stand-in, DynamoDB Local): no redeploy, no new sandbox.

- A request signed with the new signing secret is accepted at once (the secret is read
  again when a signature fails), one signed with the old secret is refused after that.
- That re-read is rate-limited: within the interval a failing signature reads nothing.
- Without any failure the secret is read again after its max age, signing secret and bot
  token alike: the next Slack call uses the new token.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import notifier.app
import slack_handler.app
from signoff import wiring
from signoff.local import aws
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import signed_event, slash_command

pytestmark = pytest.mark.integration

NEW_SECRET = "rotated-signing-secret-" + "1" * 12
NEWER_SECRET = "rotated-again-signing-secret-" + "2" * 8


def rotate(local_aws: aws.LocalAws, *, signing_secret: str, bot_token: str = BOT_TOKEN) -> None:
    aws.client(local_aws.endpoint, "secretsmanager").put_secret_value(
        SecretId=local_aws.secret_id,
        SecretString=json.dumps({"bot_token": bot_token, "signing_secret": signing_secret}),
    )


def status(secret: str, lambda_context) -> int:
    event = signed_event(slash_command("U0X", "help"), secret)
    return int(slack_handler.app.handler(event, lambda_context)["statusCode"])


def test_a_rotated_signing_secret_is_used_at_once_and_the_old_one_refused(
    lambda_env, local_aws, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNOFF_SECRET_REFRESH_SECONDS", "60")
    wiring.reset()
    assert status(SIGNING_SECRET, lambda_context) == 200  # the sandbox has read the secret

    rotate(local_aws, signing_secret=NEW_SECRET)
    assert status(NEW_SECRET, lambda_context) == 200  # failed once, read again, accepted
    assert status(SIGNING_SECRET, lambda_context) == 401
    assert status(NEW_SECRET, lambda_context) == 200

    # Within the refresh interval a failing signature reads nothing: forged requests cannot
    # make the handler hammer Secrets Manager (nor can this rotation be seen yet).
    rotate(local_aws, signing_secret=NEWER_SECRET)
    assert status("forged", lambda_context) == 401
    assert status(NEWER_SECRET, lambda_context) == 401
    assert status(NEW_SECRET, lambda_context) == 200


def test_after_max_age_the_secret_is_read_again_without_a_failure(
    lambda_env, local_aws, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNOFF_SECRET_MAX_AGE_SECONDS", "1")
    monkeypatch.setenv("SIGNOFF_SECRET_REFRESH_SECONDS", "3600")
    wiring.reset()
    assert status(SIGNING_SECRET, lambda_context) == 200
    assert status("forged", lambda_context) == 401  # spends the one re-read of the hour

    rotate(local_aws, signing_secret=NEW_SECRET)
    assert status(NEW_SECRET, lambda_context) == 401  # cached, and no re-read allowed
    time.sleep(1.2)
    assert status(NEW_SECRET, lambda_context) == 200  # read again after max age
    assert status(SIGNING_SECRET, lambda_context) == 401


def sns_requested(approval_id: str, topic_arn: str) -> dict[str, Any]:
    from signoff.local.sns_bridge import sns_lambda_event

    message = {"type": "requested", "id": approval_id}
    envelope = {"MessageId": f"m-{approval_id}", "Message": json.dumps(message)}
    return sns_lambda_event(envelope, topic_arn)


def test_a_rotated_bot_token_is_used_for_the_next_slack_call(
    lambda_env,
    local_aws,
    approvals,
    slack: StandInServer,
    lambda_context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGNOFF_SECRET_MAX_AGE_SECONDS", "1")
    wiring.reset()
    topic = lambda_env["SIGNOFF_TOPIC_ARN"]
    approvals.open(start_request("apr-rot1"))
    approvals.open(start_request("apr-rot2"))
    assert notifier.app.handler(sns_requested("apr-rot1", topic), lambda_context) == {"handled": 1}
    assert approvals.get("apr-rot1").message is not None  # posted with the token Slack knows

    # A token the stand-in does not know: if the notifier uses it, Slack says invalid_auth.
    rotate(local_aws, signing_secret=SIGNING_SECRET, bot_token="xoxb-rotated-token")
    time.sleep(1.2)
    calls_before = len(slack.standin.conversation()["calls"])
    # invalid_auth is permanent: recorded and told, not retried by SNS.
    assert notifier.app.handler(sns_requested("apr-rot2", topic), lambda_context) == {"handled": 1}
    assert approvals.get("apr-rot2").message is None
    assert len(slack.standin.conversation()["calls"]) > calls_before  # it did call Slack
    failed = [e for e in approvals.store.audit("apr-rot2") if e.kind == "slack_failed"]
    assert failed and "invalid_auth" in json.dumps([dict(e.detail) for e in failed])

    rotate(local_aws, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)  # rotated back
    time.sleep(1.2)
    approvals.open(start_request("apr-rot3"))
    assert notifier.app.handler(sns_requested("apr-rot3", topic), lambda_context) == {"handled": 1}
    assert approvals.get("apr-rot3").message is not None  # the token Slack knows, again
