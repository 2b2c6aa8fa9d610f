"""The door of the Slack app: the signature check, the body check, the Function URL adapter.

Nothing is parsed before the signature holds (401 otherwise); a signed body that is not
one Slack sends us is answered 400 and changes nothing (`read_body`). Listeners read the
request through `need`, which turns a missing or mistyped field into the same 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.request.internals import build_context
from slack_sdk.signature import Clock, SignatureVerifier

from signoff.errors import SignoffError

if TYPE_CHECKING:
    from signoff.slack.app import SlackApp

log = logging.getLogger(__name__)

_MAX_ID = 255  # Slack ids and ours are far shorter; longer is not a real request


class MalformedRequestError(SignoffError):
    """A signed request whose body is not one Slack sends us: answered 400, nothing changed."""


class RequestSignature:
    """Slack's `v0` request signature, checked on the raw body before anything is parsed.

    The secret is read through a callable each time, so a caller can hand in one that
    re-reads a rotated secret.
    """

    def __init__(
        self,
        secret: Callable[[], str],
        clock: Clock | None = None,
        refresh: Callable[[], bool] | None = None,
    ):
        self._secret = secret
        self._clock = clock or Clock()
        # Read the secret again; True when it changed (then a failed check is tried once more).
        self._refresh = refresh or (lambda: False)

    def verify(self, headers: Mapping[str, str], body: str) -> bool:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        # SignatureVerifier needs an integer timestamp and an ASCII signature.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        if not signature.isascii():
            return False
        if self._valid(body, timestamp, signature):
            return True
        # Signed with a secret rotated since it was read? Only a fresh, well-formed
        # request is worth a read (the refresh itself is rate-limited).
        return (
            self._fresh(timestamp) and self._refresh() and self._valid(body, timestamp, signature)
        )

    def _valid(self, body: str, timestamp: str, signature: str) -> bool:
        verifier = SignatureVerifier(self._secret(), clock=self._clock)
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature)

    def _fresh(self, timestamp: str) -> bool:
        return abs(self._clock.now() - int(timestamp)) <= 60 * 5


# What Slack sends in a slash-command form; other fields are dropped, not passed to Bolt.
_COMMAND_FIELDS = frozenset(
    {
        "token",
        "team_id",
        "team_domain",
        "enterprise_id",
        "enterprise_name",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "response_url",
        "trigger_id",
        "api_app_id",
        "is_enterprise_install",
        "ssl_check",
    }
)

# The interactivity payloads we listen to, their top-level fields and the types Slack gives
# them. Bolt reads these to route and build its context; other fields are dropped.
_NULLABLE_REF = (dict, str, type(None))
_PAYLOAD_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "block_actions": {
        "type": str,
        "user": dict,
        "team": _NULLABLE_REF,
        "enterprise": _NULLABLE_REF,
        "channel": _NULLABLE_REF,
        "container": dict,
        "message": dict,
        "view": dict,
        "state": dict,
        "api_app_id": str,
        "token": str,
        "trigger_id": str,
        "response_url": str,
        "is_enterprise_install": (bool, str),
        "actions": list,
    },
    "view_submission": {
        "type": str,
        "user": dict,
        "team": _NULLABLE_REF,
        "enterprise": _NULLABLE_REF,
        "view": dict,
        "api_app_id": str,
        "token": str,
        "trigger_id": str,
        "is_enterprise_install": (bool, str),
    },
}


def read_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """The body as Bolt should see it: a slash-command form, an interactivity payload or
    (JSON) an Events API body.

    Raises MalformedRequestError for anything else, so Bolt never parses a body itself.
    """
    if content_type == "application/json":
        return read_event(raw)
    form = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" not in form:
        if "command" not in form and "ssl_check" not in form:
            raise MalformedRequestError("neither a slash command nor an interactivity payload")
        return {k: v for k, v in form.items() if k in _COMMAND_FIELDS}
    try:
        payload = json.loads(form["payload"])
    except ValueError as exc:
        raise MalformedRequestError(f"the payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedRequestError("the payload is not a JSON object")
    kind = payload.get("type")
    fields = _PAYLOAD_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise MalformedRequestError("unsupported payload type")
    for key, types in fields.items():
        if key in payload and not isinstance(payload[key], types):
            raise MalformedRequestError(f"the payload's {key} has the wrong type")
    # Bolt routes on these before a listener runs.
    if kind == "block_actions":
        need(payload, "actions", 0, "action_id")
    else:
        need(payload, "view", "callback_id")
        if need(payload, "view", "type") != "modal":  # Bolt reads other views as workflow steps
            raise MalformedRequestError("only modal views are submitted here")
    return {k: v for k, v in payload.items() if k in fields}


# The Events API bodies we accept, their top-level fields and types; others are dropped.
_EVENT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "token": str,
    "challenge": str,
    "team_id": str,
    "enterprise_id": (str, type(None)),
    "api_app_id": str,
    "event": dict,
    "event_id": str,
    "event_time": int,
    "authorizations": list,
    "is_ext_shared_channel": bool,
    "event_context": str,
}
EVENTS = frozenset({"app_home_opened"})  # the events the app subscribes to


def read_event(raw: str) -> dict[str, Any]:
    """An Events API body: the URL check, or one of the events we subscribe to."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise MalformedRequestError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedRequestError("the body is not a JSON object")
    for key, types in _EVENT_FIELDS.items():
        if key in body and not isinstance(body[key], types):
            raise MalformedRequestError(f"the body's {key} has the wrong type")
    kind = body.get("type")
    if kind == "url_verification":
        need(body, "challenge")
    elif kind == "event_callback":
        if need(body, "event", "type") not in EVENTS:
            raise MalformedRequestError("an event the app does not subscribe to")
        need(body, "event", "user")
    else:
        raise MalformedRequestError("unsupported Events API body type")
    return {k: v for k, v in body.items() if k in _EVENT_FIELDS}


def need(source: Any, *path: str | int, kind: type | tuple[type, ...] = str) -> Any:
    """The value at `path`, of `kind`; a string must be non-empty and id-sized.

    The one place a listener reads the request: a missing or mistyped field raises
    MalformedRequestError, which the app answers with 400.
    """
    value = source
    for step in path:
        if isinstance(step, int):
            found = isinstance(value, list) and 0 <= step < len(value)
        else:
            found = isinstance(value, dict) and step in value
        if not found:
            raise MalformedRequestError(f"the request has no {_dotted(path)}")
        value = value[step]
    if not isinstance(value, kind):
        raise MalformedRequestError(f"the request's {_dotted(path)} has the wrong type")
    if isinstance(value, str) and not _is_unicode(value):
        raise MalformedRequestError(f"the request's {_dotted(path)} is not Unicode text")
    if kind is str and not 0 < len(value) <= _MAX_ID:
        raise MalformedRequestError(f"the request's {_dotted(path)} is empty or too long")
    return value


def _is_unicode(text: str) -> bool:
    """False for lone surrogates, which JSON escapes allow but no Slack text contains."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def handle_function_url(slack: SlackApp, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Lambda Function URL event in, a response out: signature, then body, then Bolt.

    Unsigned, forged or stale requests get 401 before anything is parsed; signed bodies
    that are not what Slack sends get 400. Bolt then verifies the signature again and
    dispatches a body it did not have to parse (its own parser mistakes any form
    containing the word 'payload' for an interactivity payload).
    """
    method = event.get("requestContext", {}).get("http", {}).get("method")
    if method != "POST":
        return {"statusCode": 404, "body": "Not Found"}
    headers = {
        str(k).lower(): v for k, v in (event.get("headers") or {}).items() if isinstance(v, str)
    }
    raw = _raw_body(event)
    if raw is None or not slack.signature.verify(headers, raw):
        return {"statusCode": 401, "body": ""}
    if "x-slack-retry-num" in headers:
        # A redelivery: every write below is conditional, so it changes nothing twice.
        log.info(
            "Slack retry %s (%s)", headers["x-slack-retry-num"], headers.get("x-slack-retry-reason")
        )
    try:
        body = read_body(raw, headers.get("content-type", "").split(";")[0].strip() or None)
    except MalformedRequestError as exc:
        log.warning("malformed Slack request: %s", exc)
        return {"statusCode": 400, "body": f"malformed request: {exc}"}
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    request = BoltRequest(body="", headers=bolt_headers)
    request.raw_body = raw
    request.body = body
    request.context = build_context(BoltContext({}), body)
    request.context["aws_lambda_function_name"] = getattr(context, "function_name", "")
    request.context["lambda_request"] = event
    return to_aws_response(slack.bolt.dispatch(request))


def to_aws_response(response: BoltResponse) -> dict[str, Any]:
    """Bolt's answer as a Function URL response (what Bolt's Lambda adapter does, without
    importing that adapter: it brings its lazy-listener runner and OAuth flow along)."""
    return {
        "statusCode": response.status,
        "body": response.body,
        "headers": response.first_headers(),
    }


def _raw_body(event: dict[str, Any]) -> str | None:
    """The body Slack signed (UTF-8 text), or None when the event holds no such body."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        return None
    try:
        if event.get("isBase64Encoded"):
            return base64.b64decode(body, validate=True).decode("utf-8")
        body.encode("utf-8")  # lone surrogates cannot have been signed
    except (binascii.Error, UnicodeError):
        return None
    return body
