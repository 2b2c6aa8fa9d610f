"""The stand-in's acts for the page: clicks in private messages and in App Home, Home opened.

Each becomes the request Slack would send, signed with the signing secret: checked here
with signoff's own signature check and body check, as the Bolt endpoint checks it.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from signoff.local import serving
from signoff.slack.request import RequestSignature, read_body
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer

pytestmark = pytest.mark.integration

BUTTON = {
    "type": "button",
    "action_id": "signoff.approve",
    "value": "apr-1",
    "text": {"type": "plain_text", "text": "Approve"},
}


class Events:
    """Stands in for the Bolt endpoint: keeps each request's headers and raw body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        events = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                events.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slack/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def last(self) -> dict[str, Any]:
        """The last request, after the checks the Bolt endpoint makes."""
        headers, raw = self.received[-1]
        assert RequestSignature(lambda: SIGNING_SECRET).verify(headers, raw)
        body = read_body(raw, headers["content-type"])  # raises if signoff would refuse it
        if headers["content-type"] == "application/json":
            return dict(json.loads(raw))
        assert body
        return dict(json.loads(dict(parse_qsl(raw))["payload"]))


@pytest.fixture
def events() -> Iterator[Events]:
    recorder = Events()
    yield recorder
    serving.stop(recorder.server)


@pytest.fixture
def standin(tmp_path: Path, events: Events) -> Iterator[StandInServer]:
    from signoff.local.slack_standin.routes import page_blueprint

    server = StandInServer(tmp_path, events_url=events.url)
    flask_app: Any = server.server.app  # the Flask app StandInServer serves
    flask_app.register_blueprint(page_blueprint(server.standin))
    yield server
    server.stop()


def post(server: StandInServer, path: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return exc.code, dict(json.loads(exc.read()))


def test_a_click_in_a_private_message_is_a_signed_ephemeral_block_action(
    standin: StandInServer, events: Events
) -> None:
    blocks = [{"type": "actions", "block_id": "mine", "elements": [BUTTON]}]
    standin.standin.api(
        "chat.postEphemeral",
        BOT_TOKEN,
        {"channel": "approvals", "user": "U0A", "text": "yours", "blocks": blocks},
    )
    status, _ = post(
        standin, "/local/ephemerals/0/click", {"user": "U0A", "action_id": "signoff.approve"}
    )
    assert status == 200
    payload = events.last()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U0A"
    assert payload["container"]["is_ephemeral"] is True
    assert payload["actions"][0]["value"] == "apr-1"  # from the recorded button
    assert payload["response_url"].startswith(standin.base_url)

    # Only the one it was shown to can click it; a button it does not have is refused.
    assert post(standin, "/local/ephemerals/0/click", {"user": "U0B", "action_id": "x"})[0] == 400
    assert post(standin, "/local/ephemerals/0/click", {"user": "U0A", "action_id": "x"})[0] == 400
    assert len(events.received) == 1


def test_a_click_in_app_home_is_a_view_block_action_without_response_url(
    standin: StandInServer, events: Events
) -> None:
    view = {"type": "home", "blocks": [{"type": "actions", "block_id": "h", "elements": [BUTTON]}]}
    standin.standin.api("views.publish", BOT_TOKEN, {"user_id": "U0A", "view": view})
    status, _ = post(standin, "/local/home/click", {"user": "U0A", "action_id": "signoff.approve"})
    assert status == 200
    payload = events.last()
    assert payload["container"]["type"] == "view" and payload["view"]["type"] == "home"
    assert "response_url" not in payload
    assert payload["actions"][0]["block_id"] == "h"
    # Nobody else has that Home tab.
    assert (
        post(standin, "/local/home/click", {"user": "U0B", "action_id": "signoff.approve"})[0]
        == 400
    )


def test_opening_home_sends_app_home_opened(standin: StandInServer, events: Events) -> None:
    status, _ = post(standin, "/local/home/opened", {"user": "U0A"})
    assert status == 200
    headers, raw = events.received[-1]
    assert headers["content-type"] == "application/json"
    assert RequestSignature(lambda: SIGNING_SECRET).verify(headers, raw)
    body = json.loads(raw)
    assert body["type"] == "event_callback"
    assert body["event"]["type"] == "app_home_opened" and body["event"]["user"] == "U0A"
    assert body["event"]["tab"] == "home"
