"""The request's Slack message: post it, find it again, re-render it from the record.

Shared by the notifier (post, outcome) and the Bolt app (the update after a click). The
message carries metadata naming the approval, so a notifier that lost the answer of a post
(it crashed, or the answer timed out) can find the message instead of posting another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff import blocks
from signoff.errors import BackendError
from signoff.model import Approval, OnceClaim, SlackRef

if TYPE_CHECKING:
    from signoff.service import Approvals

log = logging.getLogger(__name__)

METADATA_TYPE = "signoff_request"
NOTICE_TYPE = "signoff_notice"  # a thread reply or a DM, named by (approval id, key)
HISTORY_LOOKBACK = 100  # messages: a takeover happens within minutes of the lost post

# Errors no retry can fix: someone must change something in Slack (or the secret) first.
PERMANENT_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_authed",
        "missing_scope",
    }
)
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"}
)


class SlackRefusedError(BackendError):
    """Slack answered a call with an error: nothing was done (a retry may still work)."""

    def __init__(self, method: str, error: str):
        super().__init__(f"Slack {method} failed: {error}")
        self.method = method
        self.error = error


class PermanentSlackError(SlackRefusedError):
    """Slack refused a call in a way no retry fixes: do not retry, tell someone."""


def slack_failure(method: str, exc: Exception) -> BackendError:
    """The error to raise for a failed Web API call: permanent, refused, or unanswered.

    An unanswered call (a timeout, a dropped connection) is a plain BackendError: Slack
    may have done it.
    """
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error") or exc.response.status_code)
        if code in PERMANENT_ERRORS:
            return PermanentSlackError(method, code)
        return SlackRefusedError(method, code)
    return BackendError(f"Slack {method} failed: {exc!r}")


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
    except SlackApiError as exc:  # a lost answer (OSError) propagates: it may have posted
        raise slack_failure("chat.postMessage", exc) from exc
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
    except (SlackApiError, OSError) as exc:  # OSError: a timeout or a dropped connection
        raise slack_failure("chat.update", exc) from exc
    return True


def permalink(client: WebClient, ref: SlackRef) -> str:
    try:
        response = client.chat_getPermalink(channel=ref.channel, message_ts=ref.ts)
    except (SlackApiError, OSError) as exc:
        raise slack_failure("chat.getPermalink", exc) from exc
    return str(response["permalink"])


# -- once-only notices: thread replies and direct messages ---------------------------

# What to say, or how to make it: a maker runs only when the notice is about to be sent,
# so a delivery that finds it sent already costs no Slack call (a permalink, say).
Notice = blocks.Notice | Callable[[], blocks.Notice]


def _made(notice: Notice) -> blocks.Notice:
    return notice if isinstance(notice, blocks.Notice) else notice()


def reply_in_thread(
    client: WebClient,
    approvals: Approvals,
    approval: Approval,
    notice: Notice,
    key: str,
    lease: timedelta,
) -> bool:
    """Reply in the request message's thread, once per (approval, key), ever.

    True when this call posted it; False when it was posted before (or there is no
    message to reply to yet). Raises PermanentSlackError when Slack refuses for good
    (the claim is then finished: nobody tries again), BackendError when a retry may
    help (the claim is released). See `once` for the crash window.
    """
    ref = approval.message
    if ref is None:
        return False

    def find() -> bool:
        return _find_notice(client, "conversations.replies", approval.id, key, ref.channel, ref.ts)

    def send() -> None:
        _post_notice(client, approval.id, key, notice, ref.channel, thread_ts=ref.ts)

    return once(approvals, approval.id, key, lease, send=send, find=find)


def direct_message(
    client: WebClient,
    approvals: Approvals,
    approval: Approval,
    user: str,
    notice: Notice,
    key: str,
    lease: timedelta,
) -> bool:
    """A direct message from the bot to `user`, once per (approval, key), ever.

    Only Slack user ids can be messaged; for anyone else this is False and nothing
    happens. Errors as for `reply_in_thread`.
    """
    if not blocks.is_slack_user(user):
        return False
    channel: list[str] = []

    def open_dm() -> str:
        if not channel:
            try:
                response = client.conversations_open(users=user)
            except (SlackApiError, OSError) as exc:
                raise slack_failure("conversations.open", exc) from exc
            channel.append(str(response["channel"]["id"]))
        return channel[0]

    def find() -> bool:
        return _find_notice(client, "conversations.history", approval.id, key, open_dm())

    def send() -> None:
        _post_notice(client, approval.id, key, notice, open_dm())

    return once(approvals, approval.id, key, lease, send=send, find=find)


def once(
    approvals: Approvals,
    approval_id: str,
    key: str,
    lease: timedelta,
    *,
    send: Callable[[], None],
    find: Callable[[], bool],
) -> bool:
    """Do `send` once per (approval, key) under SNS redelivery and workflow replay.

    A claim on the store guards it: granted to one caller, finished after the send. The
    crash window (the send happened, the process died before finishing the claim) is
    closed by the lease and a look: a claim left unfinished for `lease` is taken over,
    and the new holder first looks for what the old one sent (`find`: every notice
    carries metadata naming its approval and key) before sending again.

    A claim held by a live caller raises BackendError, so the event is retried later
    and finds the claim done, or lapsed if its holder died. When Slack answers the send
    with an error, nothing was sent: the claim is released (a permanent error finishes
    it instead: nobody tries again). When the answer is lost, the claim stays, to lapse.
    """
    claim = approvals.claim_once(approval_id, key, lease)
    if claim is OnceClaim.DONE:
        return False
    if claim is OnceClaim.BUSY:
        raise BackendError(f"{approval_id}: another delivery is sending {key!r}")
    if claim is OnceClaim.TAKEOVER and find():
        approvals.finish_once(approval_id, key)
        return False
    try:
        send()
    except PermanentSlackError:
        approvals.finish_once(approval_id, key)  # given up for good: the caller tells someone
        raise
    except SlackRefusedError:
        approvals.release_once(approval_id, key)
        raise
    approvals.finish_once(approval_id, key)
    return True


def _notice_metadata(approval_id: str, key: str) -> dict[str, Any]:
    return {"event_type": NOTICE_TYPE, "event_payload": {"id": approval_id, "key": key}}


def _post_notice(
    client: WebClient,
    approval_id: str,
    key: str,
    notice: Notice,
    channel: str,
    thread_ts: str | None = None,
) -> None:
    made = _made(notice)
    try:
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=made.text,
            blocks=made.blocks,
            metadata=_notice_metadata(approval_id, key),
            unfurl_links=False,
            unfurl_media=False,
        )
    except (SlackApiError, OSError) as exc:
        raise slack_failure("chat.postMessage", exc) from exc


def _find_notice(
    client: WebClient,
    method: str,
    approval_id: str,
    key: str,
    channel: str,
    thread_ts: str | None = None,
) -> bool:
    """Whether Slack shows a notice for (approval, key) in the channel or thread."""
    try:
        if thread_ts is not None:
            response = client.conversations_replies(
                channel=channel, ts=thread_ts, limit=200, include_all_metadata=True
            )
        else:
            response = client.conversations_history(
                channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
    except (SlackApiError, OSError) as exc:
        raise slack_failure(method, exc) from exc
    wanted = {"id": approval_id, "key": key}
    for message in response.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == NOTICE_TYPE and metadata.get("event_payload") == wanted:
            return True
    return False


# -- App Home ------------------------------------------------------------------------


def publish_home(client: WebClient, approvals: Approvals, user: str, notice: str = "") -> bool:
    """Render `user`'s Home tab from the pending index. Best effort: False if it failed.

    `notice` is signoff's own Slack text shown on top (user text in it must be escaped).
    """
    if not blocks.is_slack_user(user):
        return False
    try:
        waiting, asked = approvals.pending_for(user)
        client.views_publish(user_id=user, view=blocks.home_view(waiting, asked, notice))
    except (SlackApiError, OSError, BackendError):
        log.warning("could not publish the Home tab of %s", user, exc_info=True)
        return False
    return True
