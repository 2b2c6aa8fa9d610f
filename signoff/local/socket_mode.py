"""Slack over Socket Mode: the same Bolt app, reached through a WebSocket a laptop opens.

`signoff dev --slack socket` connects out to a real workspace (an app made from
manifest.dev.yaml), so no public URL is needed. Slack authenticates the socket itself
(the app-level `xapp-` token opens it), so Socket Mode envelopes carry no request
signature to check. Each envelope's payload still goes through the same body check as a
signed HTTP request (`read_body`) before the one Bolt app (`signoff.slack.app`) sees it:
this adapter only translates, as the Lambda adapter does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_bolt import BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from signoff.config import SLACK_API_DEFAULT
from signoff.errors import ConfigError
from signoff.slack.app import SlackApp
from signoff.slack.request import MalformedRequestError, read_body

log = logging.getLogger(__name__)

APP_TOKEN_ENV = "SLACK_APP_TOKEN"
BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"
API_URL_ENV = "SIGNOFF_SLACK_API_URL"


@dataclass(frozen=True)
class SocketModeSettings:
    """What Socket Mode needs: the app-level token, the bot token, Slack's Web API."""

    app_token: str
    bot_token: str
    api_url: str = SLACK_API_DEFAULT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SocketModeSettings | None:
        """None when neither token is set; a ConfigError when they are set but unusable."""
        app_token = env.get(APP_TOKEN_ENV, "").strip()
        bot_token = env.get(BOT_TOKEN_ENV, "").strip()
        if not app_token and not bot_token:
            return None
        problems = []
        if not app_token.startswith("xapp-"):
            problems.append(
                f"{APP_TOKEN_ENV} must be the app-level token (xapp-…, scope connections:write)"
            )
        if not bot_token.startswith("xoxb-"):
            problems.append(f"{BOT_TOKEN_ENV} must be the bot token (xoxb-…)")
        if problems:
            raise ConfigError("; ".join(problems))
        api_url = env.get(API_URL_ENV) or SLACK_API_DEFAULT
        return cls(app_token, bot_token, api_url if api_url.endswith("/") else api_url + "/")


MISSING_TOKENS = (
    f"--slack socket needs {APP_TOKEN_ENV} (xapp-…) and {BOT_TOKEN_ENV} (xoxb-…) from the "
    "dev Slack app (manifest.dev.yaml); neither is set, so the local Slack stand-in is used"
)


def envelope_body(envelope_type: str | None, payload: Any) -> dict[str, Any]:
    """The envelope's payload as Bolt should see it, checked as an HTTP body would be.

    Raises MalformedRequestError for what signoff does not accept over HTTP either.
    """
    if not isinstance(payload, dict):
        raise MalformedRequestError("the envelope has no payload object")
    if envelope_type == "slash_commands":
        form = {k: v for k, v in payload.items() if isinstance(v, str)}
        return read_body(urlencode(form), None)
    if envelope_type == "interactive":
        return read_body(urlencode({"payload": json.dumps(payload)}), None)
    if envelope_type == "events_api":
        return read_body(json.dumps(payload), "application/json")
    raise MalformedRequestError(f"unsupported envelope type {envelope_type!r}")


class SignoffSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, with signoff's body check in front of the app.

    A malformed envelope is not acknowledged (over HTTP it gets a 400): Slack then tells
    the user the action failed, and nothing was changed.
    """

    def __init__(self, slack: SlackApp, app_token: str, api_url: str = SLACK_API_DEFAULT):
        # The app's own client carries the bot token; apps.connections.open takes the
        # app-level token, passed per call by the Socket Mode client.
        super().__init__(
            slack.bolt,
            app_token=app_token,
            web_client=WebClient(base_url=api_url, timeout=10),
        )

    def connect(self) -> None:
        self.client.connect()

    def close(self) -> None:
        # The reader holds the socket's receive lock while it waits for a frame (up to 3 s),
        # and closing needs that lock: shutting the socket down ends the wait at once.
        session = self.client.current_session
        sock: socket.socket | None = getattr(session, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # Likewise the message processor waits up to 1 s for a message before it looks
        # whether the client is closed: it is told first, then woken.
        self.client.closed = True
        self.client.message_queue.put(None)
        self.client.close()

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.time()
        try:
            body = envelope_body(req.type, req.payload)
        except MalformedRequestError as exc:
            log.warning("malformed Socket Mode envelope (%s): %s", req.type, exc)
            return
        request = BoltRequest(mode="socket_mode", body=body, headers=build_headers(req))
        send_response(client, req, self.app.dispatch(request), start)


def connect(slack: SlackApp, settings: SocketModeSettings) -> SignoffSocketModeHandler:
    """Open the socket (apps.connections.open, then the WebSocket); close() ends it."""
    handler = SignoffSocketModeHandler(slack, settings.app_token, settings.api_url)
    try:
        handler.connect()
    except SlackApiError as exc:
        handler.close()
        error = exc.response.get("error", "error") if exc.response is not None else "error"
        raise ConfigError(
            f"Slack refused the Socket Mode connection ({error}): check {APP_TOKEN_ENV} "
            "is the dev app's app-level token with connections:write, and Socket Mode is on"
        ) from exc
    except OSError as exc:
        handler.close()
        raise ConfigError(f"could not reach Slack for Socket Mode: {exc}") from exc
    return handler
