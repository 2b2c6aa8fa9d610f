"""The Events API handshake (`url_verification`): answered only when signed, nothing else JSON.

`signoff doctor` sends it to check a deployment's request URL and signing secret.
"""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from signoff.local.stack import LambdaContext
from signoff.memstore import InMemoryApprovalStore
from signoff.service import Approvals
from signoff.slack.app import SlackApp, build_app
from signoff.slack.request import handle_function_url
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.integration.slack_events import signed_event


@pytest.fixture
def app(slack: StandInServer) -> SlackApp:
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    return build_app(
        Approvals(InMemoryApprovalStore()), signing_secret=SIGNING_SECRET, client=client
    )


def post_json(app: SlackApp, payload: object, secret: str = SIGNING_SECRET) -> dict[str, object]:
    event = signed_event(json.dumps(payload), secret)
    event["headers"]["content-type"] = "application/json"
    return handle_function_url(app, event, LambdaContext("t"))


def test_a_signed_url_verification_is_answered_with_its_challenge(
    app: SlackApp, slack: StandInServer
) -> None:
    answer = post_json(app, {"type": "url_verification", "token": "t", "challenge": "c-123"})
    assert answer["statusCode"] == 200
    assert json.loads(str(answer["body"])) == {"challenge": "c-123"}
    assert slack.standin.conversation()["calls"] == []  # no Slack call, no auth.test


def test_a_forged_url_verification_is_refused(app: SlackApp) -> None:
    payload = {"type": "url_verification", "challenge": "c-123"}
    assert post_json(app, payload, secret="not-the-secret")["statusCode"] == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "event_callback", "event": {"type": "app_mention"}},
        {"type": "url_verification"},
        {"type": "url_verification", "challenge": 7},
        {"type": "url_verification", "challenge": ""},
        ["url_verification"],
    ],
)
def test_other_signed_json_is_a_bad_request(app: SlackApp, payload: object) -> None:
    assert post_json(app, payload)["statusCode"] == 400
