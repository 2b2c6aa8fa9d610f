"""The Bolt app over Socket Mode, against a fake Slack Socket Mode server on loopback.

apps.connections.open hands out a ws:// URL on 127.0.0.1; envelopes arrive over the
socket, unsigned (Slack authenticates the socket), and each must be acknowledged with its
envelope_id, the answer riding in the ack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from signoff.errors import ConfigError
from signoff.local import socket_mode
from signoff.local.socket_mode import SocketModeSettings
from signoff.model import Status
from signoff.service import Approvals
from signoff.slack.app import build_app
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import block_actions_payload, view_submission_payload
from tests.slack_text import shown_as_typed
from tests.socket_slack import SocketModeSlack

pytestmark = pytest.mark.integration


@pytest.fixture
def fake_slack() -> Iterator[SocketModeSlack]:
    fake = SocketModeSlack()
    yield fake
    fake.stop()


@pytest.fixture
def connected(
    approvals: Approvals, slack: StandInServer, fake_slack: SocketModeSlack
) -> Iterator[SocketModeSlack]:
    """The same App the Lambda adapter serves, its Web API calls going to the stand-in."""
    app = build_app(
        approvals,
        signing_secret=SIGNING_SECRET,
        client=WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/"),
    )
    settings = SocketModeSettings("xapp-1-test", BOT_TOKEN, fake_slack.api_url)
    handler = socket_mode.connect(app, settings)
    yield fake_slack
    handler.close()


def click(slack: StandInServer, user: str, action: str, approval_id: str) -> dict[str, Any]:
    response_url = slack.standin.response_url("approvals", user, None)
    return block_actions_payload(user, action, approval_id, response_url)


def test_an_approve_click_over_the_socket_is_acknowledged_and_decides(
    approvals: Approvals, slack: StandInServer, connected: SocketModeSlack
) -> None:
    approvals.open(start_request("apr-socket", approvers=("U0A",)))
    assert connected.methods()[0] == "apps.connections.open"
    assert connected.calls[0]["token"] == "xapp-1-test"  # the app-level token opens it

    ack = connected.deliver("interactive", click(slack, "U0A", "signoff.approve", "apr-socket"))

    assert ack is not None and "envelope_id" in ack
    approval = approvals.get("apr-socket")
    assert approval.status is Status.APPROVED and approval.decided_by == "U0A"


def test_a_refused_click_is_acknowledged_and_told_privately(
    approvals: Approvals, slack: StandInServer, connected: SocketModeSlack
) -> None:
    approvals.open(start_request("apr-socket-no", approvers=("U0A",)))
    ack = connected.deliver(
        "interactive", click(slack, "U0STRANGER", "signoff.approve", "apr-socket-no")
    )
    assert ack is not None
    assert approvals.get("apr-socket-no").status is Status.PENDING
    told = [e for e in slack.standin.conversation()["ephemerals"] if e["user"] == "U0STRANGER"]
    assert len(told) == 1 and "not an approver" in told[0]["text"]


def test_an_empty_reason_is_refused_in_the_ack_then_a_reason_rejects(
    approvals: Approvals, connected: SocketModeSlack
) -> None:
    approvals.open(start_request("apr-socket-why", approvers=("U0A",)))
    ack = connected.deliver("interactive", view_submission_payload("U0A", "apr-socket-why", None))
    assert ack["payload"]["response_action"] == "errors"
    assert "reason" in ack["payload"]["errors"]
    assert approvals.get("apr-socket-why").status is Status.PENDING

    ack = connected.deliver(
        "interactive", view_submission_payload("U0A", "apr-socket-why", "not today")
    )
    assert "payload" not in ack  # an empty ack closes the modal
    approval = approvals.get("apr-socket-why")
    assert approval.status is Status.REJECTED and approval.reason == "not today"


def test_a_slash_command_is_answered_in_the_ack(
    approvals: Approvals, connected: SocketModeSlack
) -> None:
    approvals.open(start_request("apr-socket-list", title="Rotate <!here> keys"))
    command = {
        "command": "/signoff",
        "text": "list",
        "user_id": "U0A",
        "channel_id": "C1",
        "team_id": "T0LOCAL",
        "response_url": "https://hooks.slack.invalid/x",
        "trigger_id": "t-1",
    }
    ack = connected.deliver("slash_commands", command)
    assert ack["payload"]["response_type"] == "ephemeral"
    text = str(ack["payload"]["blocks"])
    assert "apr-socket-list" in text and shown_as_typed(
        ack["payload"]["blocks"], "Rotate <!here> keys"
    )


def test_an_envelope_signoff_does_not_accept_over_http_is_not_acknowledged(
    approvals: Approvals, slack: StandInServer, connected: SocketModeSlack
) -> None:
    approvals.open(start_request("apr-socket-odd", approvers=("U0A",)))
    payload = click(slack, "U0A", "signoff.approve", "apr-socket-odd")
    payload["message"] = "not an object"  # Slack sends an object; Bolt would not mind
    assert connected.deliver("interactive", payload, timeout=2) is None
    assert approvals.get("apr-socket-odd").status is Status.PENDING


def test_a_refused_app_token_is_a_sentence(
    approvals: Approvals, slack: StandInServer, fake_slack: SocketModeSlack
) -> None:
    app = build_app(approvals, signing_secret=SIGNING_SECRET, client=WebClient(token=BOT_TOKEN))
    # The fake refuses any token that is not an app-level one, as Slack does.
    settings = SocketModeSettings("xoxb-not-an-app-token", BOT_TOKEN, fake_slack.api_url)
    with pytest.raises(ConfigError, match="refused the Socket Mode connection"):
        socket_mode.connect(app, settings)


def test_tokens_come_from_the_environment() -> None:
    assert SocketModeSettings.from_env({}) is None
    settings = SocketModeSettings.from_env(
        {"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-2"}
    )
    assert settings == SocketModeSettings("xapp-1", "xoxb-2", "https://slack.com/api/")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN must be the bot token"):
        SocketModeSettings.from_env({"SLACK_APP_TOKEN": "xapp-1"})
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN must be the app-level token"):
        SocketModeSettings.from_env({"SLACK_APP_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "xoxb-2"})
