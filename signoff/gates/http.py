"""The Function URL adapter of the gates' webhook doors (the Slack function routes by path)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from signoff.errors import SignoffError
from signoff.gates.github import MAX_BODY, GitHubDoor

log = logging.getLogger(__name__)


def handle_github(door: GitHubDoor | None, event: dict[str, Any]) -> dict[str, Any]:
    """A Function URL event for POST /github/events → its HTTP answer (never a 500 for
    what the sender controls; a failure of ours is a 503, which GitHub shows)."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "POST")
    if door is None:
        return _answer(404, {"error": "this deployment has no GitHub gate"})
    if method != "POST":
        return _answer(405, {"error": "POST only"})
    raw = event.get("body") or ""
    if len(raw) > MAX_BODY * 2:  # base64 grows 4/3; decoded size is checked by the door
        return _answer(413, {"error": f"the body is over {MAX_BODY} bytes"})
    try:
        body = (
            base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode()
        )
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return _answer(400, {"error": "the body is not valid base64"})
    headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    try:
        status, answer = door.handle(headers, body)
    except SignoffError as exc:  # our table or the workflow start failed: GitHub may retry
        log.error("a GitHub webhook could not be handled: %s", exc)
        return _answer(503, {"error": "signoff could not take the request now; redeliver it"})
    return _answer(status, answer)


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
