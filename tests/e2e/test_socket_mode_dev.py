"""`signoff dev --slack socket`: the local stack with Slack reached over Socket Mode.

A fake Slack on loopback (tests/socket_slack.py) stands for the real workspace: the
notifier posts to its Web API with the bot token, and a click arrives as an envelope
over the WebSocket that apps.connections.open handed out.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dev_stack import SIGNOFF, Dev
from tests.integration.slack_events import block_actions_payload
from tests.socket_slack import SocketModeSlack

pytestmark = pytest.mark.e2e

BOT = "xoxb-socket-e2e"


@pytest.fixture
def fake_slack() -> Iterator[SocketModeSlack]:
    fake = SocketModeSlack()
    yield fake
    fake.stop()


def test_a_click_over_the_socket_decides_and_the_message_is_updated(
    tmp_path: Path, fake_slack: SocketModeSlack
) -> None:
    dev = Dev(tmp_path / "state")
    dev.start(
        SIGNOFF_DEV_SLACK="socket",  # as `--slack socket`
        SLACK_APP_TOKEN="xapp-1-e2e",
        SLACK_BOT_TOKEN=BOT,
        SIGNOFF_SLACK_API_URL=fake_slack.api_url,
    )
    try:
        assert dev.get("/local/config")["slack"] == "socket"
        assert fake_slack.wait(lambda: fake_slack.connections)
        started = dev.cli(
            "start", "--title", "Deploy api", "--approver", "U0APPROVER",
            "--requester", "U0REQUESTER", "--json",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        approval_id = json.loads(started.stdout)["id"]

        def posted() -> list[dict[str, object]]:
            return [
                c
                for c in fake_slack.calls
                if c["method"] == "chat.postMessage" and approval_id in json.dumps(c["args"])
            ]

        assert fake_slack.wait(posted, timeout=30), fake_slack.methods()
        assert posted()[0]["token"] == BOT  # the notifier posts as the real bot

        click = block_actions_payload(
            "U0APPROVER", "signoff.approve", approval_id, fake_slack.api_url + "respond"
        )
        record = approve_as_a_person_would(dev, fake_slack, click, approval_id)
        assert record["status"] == "approved" and record["decided_by"] == "U0APPROVER"
        # The workflow resumes and the notifier re-renders the message in the workspace.
        assert fake_slack.wait(lambda: "chat.update" in fake_slack.methods(), timeout=30)
    finally:
        dev.stop()


def approve_as_a_person_would(
    dev: Dev, fake_slack: SocketModeSlack, click: dict[str, Any], approval_id: str
) -> dict[str, Any]:
    """Click; on a busy machine the click path may answer "try again", and a person would."""
    for _ in range(3):
        told = len(fake_slack.methods())
        assert fake_slack.deliver("interactive", click) is not None  # acknowledged
        record = dev.show(approval_id)
        if record["status"] != "pending":
            return record
        replies = [c["args"] for c in fake_slack.calls[told:] if c["method"] == "respond"]
        assert any("try again" in json.dumps(r) for r in replies), replies
    return record


def test_without_tokens_it_says_so_and_uses_the_stand_in(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")}
    # A port in use stops the stack right after the choice is made and told.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = subprocess.run(
            [*SIGNOFF, "dev", "--slack", "socket", "--port", port, "--home", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert "neither is set, so the local Slack stand-in is used" in " ".join(result.stderr.split())
    assert f"port {port}" in result.stderr and result.returncode == 1
