"""Build the requests Slack sends, signed the way Slack signs them."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from signoff.local.slack_standin import signed_headers
from signoff.local.stack import function_url_event


def block_actions(
    user: str,
    action_id: str,
    value: str,
    response_url: str,
    *,
    channel: str = "approvals",
    ts: str = "1.000001",
) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user, "team_id": "T0LOCAL"},
        "api_app_id": "A0SIGNOFF",
        "team": {"id": "T0LOCAL", "domain": "local"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel, "name": channel},
        "trigger_id": "trigger-1",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": "1",
            }
        ],
    }
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


def signed_event(body: str, secret: str, *, timestamp: int | None = None) -> dict[str, Any]:
    headers = signed_headers(secret, body, timestamp if timestamp is not None else int(time.time()))
    return function_url_event("/slack/events", "POST", headers, body)
