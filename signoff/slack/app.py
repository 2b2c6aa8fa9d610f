"""The Bolt app: the signature check as its first middleware, its error handler, and the
listeners (`signoff.slack.listeners`) registered on it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from signoff import blocks, notices
from signoff.frozen import frozen
from signoff.observability import Telemetry
from signoff.service import Approvals
from signoff.slack.listeners import Listeners
from signoff.slack.request import MalformedRequestError, RequestSignature

log = logging.getLogger(__name__)


@frozen
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

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> Any:
        # One workspace, one bot token: no auth.test round trip on the first request of a
        # sandbox (Bolt's single-team default makes one, on the click path). The token is
        # the current one, so a rotated token is used on the next request.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token()
        )

    def verify_again(req: BoltRequest, resp: BoltResponse, next: Callable[[], Any]) -> Any:
        if req.mode == "socket_mode":
            return next()  # no signature: Slack authenticated the socket (the app token)
        headers = {k: v[0] for k, v in req.headers.items() if v}
        if not signature.verify(headers, req.raw_body):
            return BoltResponse(status=401, body="")
        return next()

    app = App(
        # Without a name Bolt names the app from inspect.stack() (~0.1 s cold). Bolt sets its
        # app logger (this name) to the root logger's level: a child of the core's logger,
        # not the core's own, whose level is POWERTOOLS_LOG_LEVEL.
        name="signoff.bolt",
        # Bolt's own check holds one secret for the app's life; the same check runs as the
        # first middleware instead, with the secret as it stands now.
        request_verification_enabled=False,
        client=client,
        authorize=authorize,
        process_before_response=True,  # Lambda: finish the work before answering
    )
    app.middleware(verify_again)
    app.error(on_error)
    listeners = Listeners(approvals, telemetry)
    app.action(blocks.APPROVE_ACTION)(listeners.approve)
    app.action(blocks.REJECT_ACTION)(listeners.reject)
    app.action(blocks.CANCEL_ACTION)(listeners.cancel)
    app.view(blocks.REJECT_VIEW)(listeners.reason)
    app.view(blocks.CANCEL_VIEW)(listeners.cancel_reason)
    app.command("/signoff")(listeners.command)
    app.action(blocks.NEXT_PAGE_ACTION)(listeners.next_page)
    app.action(notices.SNOOZE_ACTION)(listeners.snooze)
    # A link button opens its URL in the browser; Slack still tells us: acknowledged only.
    app.action(re.compile(rf"^{re.escape(blocks.LINK_ACTION)}\.[0-9]+$"))(_ack_only)
    app.event("app_home_opened")(listeners.home_opened)
    return SlackApp(app, signature)


def _ack_only(ack: Any) -> None:
    ack()


def on_error(error: Exception) -> BoltResponse | None:
    """What a listener raised: a malformed request is a 400, anything else Bolt's 500."""
    if isinstance(error, MalformedRequestError):
        log.warning("malformed Slack request: %s", error)
        return BoltResponse(status=400, body=f"malformed request: {error}")
    log.error("a Slack listener failed", exc_info=error)
    return None
