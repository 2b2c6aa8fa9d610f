"""The Bolt app: button clicks, the reject-reason modal, `/signoff` and the Home tab.

The ack path stays small: check the signature, read the body, one conditional write, answer.
Nothing is parsed before the signature holds (401 otherwise); a signed body that is not
one Slack sends us is answered 400 and changes nothing (see `read_body` and `need`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.internals import build_context
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier

from signoff import blocks, messages
from signoff.errors import (
    AlreadyRecordedError,
    BackendError,
    ConflictError,
    NotFoundError,
    RefusedError,
    SignoffError,
    ValidationError,
)
from signoff.model import Decision, id_problem
from signoff.observability import NoTelemetry, Telemetry
from signoff.schema import pending_cursor
from signoff.service import Approvals
from signoff.text import escape, visible

log = logging.getLogger(__name__)


def _quoted(exc: Exception) -> str:
    """An error's sentence in a private reply: as text (not mrkdwn), anything unsafe it
    quotes (a control, bidi or invisible character someone typed) shown as an escape."""
    return escape(visible(str(exc)))


_REFUSALS = (RefusedError, NotFoundError, ValidationError)
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


@dataclass(frozen=True)
class SlackApp:
    """The Bolt app and the signature check that runs before Bolt sees a request."""

    bolt: App
    signature: RequestSignature


def build_app(
    approvals: Approvals,
    *,
    signing_secret: str | Callable[[], str],
    client: WebClient,
    bot_token: Callable[[], str] | None = None,
    refresh_secret: Callable[[], bool] | None = None,
    telemetry: Telemetry | None = None,
) -> SlackApp:
    """The app. `signing_secret` and `bot_token` may be callables, asked on every request,
    so a rotated secret or token is used as soon as it has been read; `refresh_secret`
    reads them again (rate-limited) when a signature fails, before the request is refused.
    """
    secret = signing_secret if callable(signing_secret) else (lambda: signing_secret)
    token = bot_token or (lambda: client.token or "")
    signature = RequestSignature(secret, refresh=refresh_secret)
    observe = telemetry or NoTelemetry()

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> Any:
        # One workspace, one bot token: no auth.test round trip on the first request of a
        # sandbox (Bolt's single-team default makes one, on the click path). The token and
        # the client are the current ones, so a rotated token is used on the next call.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_token=token(),
        )

    app = App(
        # Without a name Bolt names the app from inspect.stack() (~0.1 s cold). Bolt sets its
        # app logger (this name) to the root logger's level: a child of the core's logger,
        # not the core's own, whose level is POWERTOOLS_LOG_LEVEL.
        name="signoff.bolt",
        # Bolt's own check holds one secret for the app's life; the same check runs below
        # as a middleware, with the secret as it stands now.
        request_verification_enabled=False,
        client=client,
        authorize=authorize,
        process_before_response=True,  # Lambda: finish the work before answering
    )

    @app.middleware
    def verify_again(req: BoltRequest, resp: BoltResponse, next: Callable[[], Any]) -> Any:
        if req.mode == "socket_mode":
            return next()  # no signature: Slack authenticated the socket (the app token)
        headers = {k: v[0] for k, v in req.headers.items() if v}
        if not signature.verify(headers, req.raw_body):
            return BoltResponse(status=401, body="")
        return next()

    def tell(respond: Any, text: str) -> None:
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.warning("could not send an ephemeral notice", exc_info=True)

    def teller(body: dict[str, Any], respond: Any, user: str) -> Callable[[str], object]:
        """How to tell the clicker something privately: where they clicked.

        A click on the Home tab has no response_url: its answer is the tab re-rendered
        with the sentence on top. Any other click answers through its response_url.
        """
        if _from_home(body):
            return lambda text: messages.publish_home(client, approvals, user, text)
        need(body, "response_url")
        return lambda text: tell(respond, text)

    @app.error
    def on_error(error: Exception) -> BoltResponse | None:
        if isinstance(error, MalformedRequestError):
            log.warning("malformed Slack request: %s", error)
            return BoltResponse(status=400, body=f"malformed request: {error}")
        log.error("a Slack listener failed", exc_info=error)
        return None  # Bolt answers 500

    @app.action(blocks.APPROVE_ACTION)
    def on_approve(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        approval_id = need(body, "actions", 0, "value")
        user = need(body, "user", "id")
        observe.tag(approval_id=approval_id, slack_user=user)
        say = teller(body, respond, user)  # where a refusal is told, privately
        try:
            approvals.decide(approval_id, user, Decision.APPROVE)
        except AlreadyRecordedError:
            ack()
            say("Your approval is already recorded.")
            return
        except _REFUSALS as exc:
            log.info("approval refused: %s", exc)
            ack()
            say(f"Your approval was not recorded: {_quoted(exc)}.")
            return
        except (ConflictError, BackendError):
            log.exception("approve failed")
            ack()
            say("Your approval could not be recorded just now; please try again.")
            return
        log.info("approval recorded")
        # The click path ends here: verify, one conditional write, the doorbell, answer.
        # The message is re-rendered by the notifier on the workflow's "decided" event,
        # a moment later, outside Slack's 3 s and retried by SNS if Slack fails.
        ack()
        if _from_home(body):
            messages.publish_home(client, approvals, user)  # my action: my tab at once

    @app.action(blocks.REJECT_ACTION)
    def on_reject(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        approval_id = need(body, "actions", 0, "value")
        user = need(body, "user", "id")
        observe.tag(approval_id=approval_id, slack_user=user)
        trigger_id = need(body, "trigger_id")
        say = teller(body, respond, user)  # where a refusal is told, privately
        try:
            approval = approvals.check_vote(approval_id, user)
        except _REFUSALS as exc:
            ack()
            say(f"You cannot reject this: {_quoted(exc)}.")
            return
        except BackendError:
            log.exception("reject check failed")
            ack()
            say("The reason dialog could not be opened; please click Reject again.")
            return
        ack()
        try:
            client.views_open(trigger_id=trigger_id, view=blocks.reject_modal(approval))
        except (SlackApiError, OSError):  # OSError: a timeout or a dropped connection
            log.exception("views.open failed")
            say("The reason dialog could not be opened; please click Reject again.")

    @app.action(blocks.CANCEL_ACTION)
    def on_cancel(ack: Any, body: dict[str, Any], respond: Any) -> None:
        approval_id = need(body, "actions", 0, "value")
        user = need(body, "user", "id")
        need(body, "response_url")  # where a refusal is told, privately
        try:
            approvals.cancel(approval_id, user)
        except _REFUSALS as exc:  # audited as cancel_refused by the service
            ack()
            tell(respond, f"The request was not cancelled: {_quoted(exc)}.")
            return
        except (ConflictError, BackendError):
            log.exception("cancel failed")
            ack()
            tell(respond, "The request could not be cancelled just now; please try again.")
            return
        ack()  # the workflow ends and the notifier re-renders the message

    @app.view(blocks.REJECT_VIEW)
    def on_reason(ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        approval_id = need(view, "private_metadata")
        user = need(body, "user", "id")
        observe.tag(approval_id=approval_id, slack_user=user)
        reason = need(
            view,
            *("state", "values", blocks.REASON_BLOCK, blocks.REASON_ACTION, "value"),
            kind=(str, type(None)),  # an empty input comes as null
        )
        try:
            approvals.decide(approval_id, user, Decision.REJECT, reason or "")
        except AlreadyRecordedError:
            ack()  # a repeated submission: the rejection stands, the modal closes
            return
        except _REFUSALS as exc:
            ack(
                response_action="errors",
                errors={blocks.REASON_BLOCK: f"Not recorded: {visible(str(exc))}."},
            )
            return
        except (ConflictError, BackendError):
            log.exception("reject failed")
            ack(
                response_action="errors",
                errors={blocks.REASON_BLOCK: "Could not be recorded just now; try again."},
            )
            return
        log.info("rejection recorded")
        ack()  # as for Approve: the notifier re-renders the message

    def pending_page(after: str) -> tuple[list[Any], str | None]:
        found = approvals.list_pending(blocks.PAGE_SIZE + 1, after)
        page = found[: blocks.PAGE_SIZE]
        return page, pending_cursor(page[-1]) if len(found) > blocks.PAGE_SIZE else None

    @app.command("/signoff")
    def on_command(ack: Any, command: dict[str, Any]) -> None:
        observe.tag(slack_user=str(command.get("user_id", "")))
        verb, _, rest = (command.get("text") or "").strip().partition(" ")
        verb = verb.lower()
        approval_id = next(iter(rest.split()), "")
        user = need(command, "user_id")
        try:
            if verb in ("", "list"):
                page, cursor = pending_page("")
                ack(
                    response_type="ephemeral",
                    text=f"{len(page)} pending approval(s)",
                    blocks=blocks.pending_page(page, cursor),
                )
            elif verb == "mine":
                waiting, _ = approvals.pending_for(user)
                ack(
                    response_type="ephemeral",
                    text=f"{len(waiting)} request(s) waiting for your vote",
                    blocks=blocks.mine_list(waiting),
                )
            elif verb == "show" and approval_id and id_problem(approval_id):
                ack(
                    response_type="ephemeral",
                    text="That is not an approval id. Try `/signoff list`.",
                )
            elif verb == "show" and approval_id:
                approval = approvals.get(approval_id)
                ack(
                    response_type="ephemeral",
                    text=blocks.fallback_text(approval),
                    blocks=blocks.show_blocks(approval),
                )
            else:
                ack(response_type="ephemeral", text=blocks.HELP_TEXT)
        except NotFoundError as exc:
            # The id is what the user typed: shown as text, never as markup.
            ack(response_type="ephemeral", text=f"{_quoted(exc)}. Try `/signoff list`.")
        except SignoffError:
            log.exception("/signoff failed")
            ack(response_type="ephemeral", text="signoff could not answer just now; try again.")

    @app.action(blocks.NEXT_PAGE_ACTION)
    def on_next_page(ack: Any, body: dict[str, Any], respond: Any) -> None:
        after = need(body, "actions", 0, "value")
        need(body, "response_url")  # the list was an ephemeral answer: it is replaced
        ack()
        try:
            page, cursor = pending_page(after)
        except SignoffError:
            log.exception("/signoff list: next page failed")
            tell(respond, "signoff could not answer just now; try again.")
            return
        try:
            respond(
                text=f"{len(page)} more pending approval(s)",
                blocks=blocks.pending_page(page, cursor, first=False),
                response_type="ephemeral",
                replace_original=True,
            )
        except Exception:
            log.warning("could not show the next page", exc_info=True)

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            messages.publish_home(client, approvals, need(event, "user"))

    return SlackApp(app, signature)


def _from_home(body: dict[str, Any]) -> bool:
    """Whether a click came from the App Home tab (it then has no response_url)."""
    view = body.get("view")
    return isinstance(view, dict) and view.get("type") == "home"


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
