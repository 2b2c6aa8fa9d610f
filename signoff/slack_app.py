"""The Bolt app: button clicks, the reject-reason modal and `/signoff`.

The ack path stays small: verify the signature (Bolt), one conditional write, answer.
The Lambda adapter below is Bolt's own with one repair (see `handle_function_url`).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltContext
from slack_bolt.adapter.aws_lambda.handler import to_aws_response, to_bolt_request
from slack_bolt.request.internals import build_context
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff import blocks
from signoff.errors import (
    AlreadyRecordedError,
    BackendError,
    ConflictError,
    NotFoundError,
    RefusedError,
    SignoffError,
    ValidationError,
)
from signoff.messages import update_message
from signoff.model import Approval, Decision
from signoff.service import Approvals

log = logging.getLogger(__name__)

_REFUSALS = (RefusedError, NotFoundError, ValidationError)


def build_app(approvals: Approvals, *, signing_secret: str, client: WebClient) -> App:
    app = App(
        signing_secret=signing_secret,
        client=client,
        process_before_response=True,  # Lambda: finish the work before answering
        token_verification_enabled=False,  # no auth.test round trip on a cold start
    )

    def tell(respond: Any, text: str) -> None:
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.warning("could not send an ephemeral notice", exc_info=True)

    def refresh(client: WebClient, approval: Approval) -> None:
        try:
            update_message(client, approval)
        except BackendError:
            # The notifier re-renders on the outcome event; the decision already stands.
            log.warning("message update after a click failed", exc_info=True)

    @app.action(blocks.APPROVE_ACTION)
    def on_approve(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        approval_id = body["actions"][0]["value"]
        user = body["user"]["id"]
        try:
            approval = approvals.decide(approval_id, user, Decision.APPROVE)
        except AlreadyRecordedError:
            ack()
            tell(respond, "Your approval is already recorded.")
            return
        except _REFUSALS as exc:
            ack()
            tell(respond, f"Your approval was not recorded: {exc}.")
            return
        except (ConflictError, BackendError):
            log.exception("approve failed")
            ack()
            tell(respond, "Your approval could not be recorded just now; please try again.")
            return
        ack()
        refresh(client, approval)

    @app.action(blocks.REJECT_ACTION)
    def on_reject(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        approval_id = body["actions"][0]["value"]
        user = body["user"]["id"]
        try:
            approval = approvals.check_vote(approval_id, user)
        except _REFUSALS as exc:
            ack()
            tell(respond, f"You cannot reject this: {exc}.")
            return
        ack()
        try:
            client.views_open(trigger_id=body["trigger_id"], view=blocks.reject_modal(approval))
        except SlackApiError:
            log.exception("views.open failed")
            tell(respond, "The reason dialog could not be opened; please click Reject again.")

    @app.view(blocks.REJECT_VIEW)
    def on_reason(ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        approval_id = view["private_metadata"]
        user = body["user"]["id"]
        field = view["state"]["values"][blocks.REASON_BLOCK][blocks.REASON_ACTION]
        reason = field.get("value") or ""
        try:
            approval = approvals.decide(approval_id, user, Decision.REJECT, reason)
        except _REFUSALS as exc:
            ack(response_action="errors", errors={blocks.REASON_BLOCK: f"Not recorded: {exc}."})
            return
        except (ConflictError, BackendError):
            log.exception("reject failed")
            ack(
                response_action="errors",
                errors={blocks.REASON_BLOCK: "Could not be recorded just now; try again."},
            )
            return
        ack()
        refresh(client, approval)

    @app.command("/signoff")
    def on_command(ack: Any, command: dict[str, Any]) -> None:
        verb, _, rest = (command.get("text") or "").strip().partition(" ")
        verb = verb.lower()
        try:
            if verb in ("", "list"):
                pending = approvals.list_pending()
                ack(
                    response_type="ephemeral",
                    text=f"{len(pending)} pending approval(s)",
                    blocks=blocks.pending_list(pending),
                )
            elif verb == "show" and rest.strip():
                approval = approvals.get(rest.strip().split()[0])
                ack(
                    response_type="ephemeral",
                    text=blocks.fallback_text(approval),
                    blocks=blocks.show_blocks(approval),
                )
            else:
                ack(response_type="ephemeral", text=blocks.HELP_TEXT)
        except NotFoundError as exc:
            ack(response_type="ephemeral", text=f"{exc}. Try `/signoff list`.")
        except SignoffError:
            log.exception("/signoff failed")
            ack(response_type="ephemeral", text="signoff could not answer just now; try again.")

    return app


def handle_function_url(app: App, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Bolt's Lambda adapter, repaired for form bodies that contain the word 'payload'.

    Bolt 1.30 treats any form body containing 'payload' as an interactivity payload
    and parses `/signoff list payload` (or a channel named payload-x) as empty.
    """
    method = event.get("requestContext", {}).get("http", {}).get("method")
    if method != "POST":
        return {"statusCode": 404, "body": "Not Found"}
    request = to_bolt_request(event)
    raw = request.raw_body
    if not request.body and raw and not raw.lstrip().startswith("{"):
        params = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" not in params:
            request.body = params
            request.context = build_context(BoltContext({}), params)
    request.context["aws_lambda_function_name"] = getattr(context, "function_name", "")
    request.context["lambda_request"] = event
    return to_aws_response(app.dispatch(request))
