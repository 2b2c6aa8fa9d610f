"""Build the requests Slack sends, signed the way Slack signs them."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from signoff.local import serving
from signoff.local.slack_standin.acts import signed_headers
from signoff.local.stack import function_url_event


def block_actions_payload(
    user: str,
    action_id: str,
    value: str,
    response_url: str,
    *,
    channel: str = "approvals",
    ts: str = "1.000001",
    trigger_id: str = "trigger-1",
    overflow: bool = False,
) -> dict[str, Any]:
    """A button click; with `overflow`, the choice of an overflow menu's option whose
    value is `value` (Slack sends it as `selected_option`)."""
    action: dict[str, Any] = {"type": "button", "value": value}
    if overflow:
        option = {"text": {"type": "plain_text", "text": "Cancel request…"}, "value": value}
        action = {"type": "overflow", "selected_option": option}
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user, "team_id": "T0LOCAL"},
        "api_app_id": "A0SIGNOFF",
        "team": {"id": "T0LOCAL", "domain": "local"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel, "name": channel},
        "trigger_id": trigger_id,
        "response_url": response_url,
        "actions": [{**action, "action_id": action_id, "block_id": "b", "action_ts": "1"}],
    }


def block_actions(
    user: str,
    action_id: str,
    value: str,
    response_url: str,
    *,
    channel: str = "approvals",
    ts: str = "1.000001",
    overflow: bool = False,
) -> str:
    return payload_form(
        block_actions_payload(
            user, action_id, value, response_url, channel=channel, ts=ts, overflow=overflow
        )
    )


def view_submission_payload(
    user: str, approval_id: str, reason: str | None, callback_id: str = "signoff.reject_reason"
) -> dict[str, Any]:
    """A reason dialog (reject's by default, or cancel's) submitted, as Slack sends it (an
    empty input is null)."""
    return {
        "type": "view_submission",
        "team": {"id": "T0LOCAL", "domain": "local"},
        "user": {"id": user, "username": user, "team_id": "T0LOCAL"},
        "api_app_id": "A0SIGNOFF",
        "trigger_id": "trigger-2",
        "view": {
            "id": "V0REASON",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": approval_id,
            "state": {
                "values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
            },
        },
    }


def payload_form(payload: Any) -> str:
    """An interactivity request: the JSON payload in a `payload=` form field."""
    return urlencode({"payload": json.dumps(payload)})


def slash_command(user: str, text: str) -> str:
    return urlencode(
        {
            "command": "/signoff",
            "text": text,
            "user_id": user,
            "team_id": "T0LOCAL",
            "channel_id": "C1",
            "channel_name": "approvals",
            "api_app_id": "A0SIGNOFF",
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "t",
        }
    )


def signed_event(
    body: str, secret: str, *, timestamp: int | None = None, retry: int | None = None
) -> dict[str, Any]:
    headers = signed_headers(secret, body, timestamp if timestamp is not None else int(time.time()))
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return function_url_event("/slack/events", "POST", headers, body)


class ResponseRecorder:
    """A loopback HTTP server standing in for Slack's response_url: it keeps every POST."""

    def __init__(self) -> None:
        recorded: list[tuple[str, dict[str, Any]]] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}")
                with lock:
                    recorded.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._recorded = recorded
        self._lock = lock
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, key: str) -> str:
        return f"{self.base_url}/respond/{key}"

    def responses(self, key: str | None = None) -> list[dict[str, Any]]:
        """What was posted (to one response URL, or to all of them), in arrival order."""
        with self._lock:
            return [
                body for path, body in self._recorded if key is None or path == f"/respond/{key}"
            ]

    def stop(self) -> None:
        serving.stop(self._server)
        self._thread.join()
