"""The request's Slack message: post it, find it again, re-render it from the record.

Shared by the notifier (post, outcome) and the Bolt app (the update after a click). The
message carries metadata naming the approval, so a notifier that lost the answer of a post
(it crashed, or the answer timed out) can find the message instead of posting another.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff import blocks
from signoff.errors import BackendError
from signoff.model import Approval, SlackRef

log = logging.getLogger(__name__)

METADATA_TYPE = "signoff_request"
HISTORY_LOOKBACK = 100  # messages: a takeover happens within minutes of the lost post


def _metadata(approval: Approval) -> dict[str, Any]:
    return {"event_type": METADATA_TYPE, "event_payload": {"id": approval.id}}


def post_request(client: WebClient, approval: Approval) -> SlackRef:
    try:
        response = client.chat_postMessage(
            channel=approval.channel,
            text=blocks.fallback_text(approval),
            blocks=blocks.approval_message(approval),
            metadata=_metadata(approval),
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        raise BackendError(f"Slack chat.postMessage failed: {exc.response.get('error')}") from exc
    return SlackRef(str(response["channel"]), str(response["ts"]))


def find_request(client: WebClient, approval: Approval) -> SlackRef | None:
    """The message an earlier, interrupted post left in the channel, if Slack shows it.

    Best effort: without history access (a scope, or a channel name Slack will not
    resolve here) the answer is None and the caller posts.
    """
    try:
        response = client.conversations_history(
            channel=approval.channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
        )
    except SlackApiError as exc:
        log.warning(
            "could not look for an earlier post of %s: %s",
            approval.id,
            exc.response.get("error"),
        )
        return None
    found: list[dict[str, Any]] = response.get("messages") or []
    for message in found:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == METADATA_TYPE and payload.get("id") == approval.id:
            return SlackRef(approval.channel, str(message["ts"]))
    return None


def update_message(client: WebClient, approval: Approval) -> bool:
    """Re-render the request's message from the record. Safe to repeat."""
    if approval.message is None:
        return False
    try:
        client.chat_update(
            channel=approval.message.channel,
            ts=approval.message.ts,
            text=blocks.fallback_text(approval),
            blocks=blocks.approval_message(approval),
        )
    except SlackApiError as exc:
        raise BackendError(f"Slack chat.update failed: {exc.response.get('error')}") from exc
    except OSError as exc:  # a timeout or a dropped connection (slack-sdk raises these as is)
        raise BackendError(f"Slack chat.update failed: {exc!r}") from exc
    return True
