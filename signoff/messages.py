"""The request's Slack message: post it, find it again, re-render it from the record.

Shared by the notifier (post, outcome) and the Bolt app (the update after a click). The
message carries metadata naming the approval, so a notifier that lost the answer of a post
(it crashed, or the answer timed out) can find the message instead of posting another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff import blocks, model
from signoff.claims import Claims, Once
from signoff.errors import BackendError
from signoff.model import Approval, SlackRef

log = logging.getLogger(__name__)

METADATA_TYPE = "signoff_request"
NOTICE_TYPE = "signoff_notice"  # a thread reply or a DM, named by (approval id, key)
HISTORY_LOOKBACK = 100  # messages: a takeover happens within minutes of the lost post


NO_RESPONSE = "no_response"  # the error code of a call whose answer never came


class Problem(StrEnum):
    """What a Slack error says is wrong, and so who must act."""

    CHANNEL = "channel"  # the channel: someone fixes it in Slack, or picks another channel
    MESSAGE = "message"  # the request's message is gone or can no longer be edited
    RECIPIENT = "recipient"  # the requester cannot be sent a direct message
    CONTENT = "content"  # Slack refused what signoff sent: a signoff bug
    APP = "app"  # the token or the app's installation: no call can work, no DM either
    BUSY = "busy"  # Slack is busy or failing: worth a few more tries, not forever


# Every Slack error signoff knows, what it means, and what a person should do about it
# (chat.postMessage, chat.update, chat.getPermalink, conversations.open/.history/.replies;
# docs.slack.dev). {channel} and {requester} are filled in. BUSY errors, and anything not
# here, are retried a bounded number of times (notify.SLACK_TRIES), then recorded with
# the BUSY sentence.
_INVITE = "Invite the signoff app to {channel} (/invite @signoff there)."
_OTHER_CHANNEL = "start the request again with --channel naming another channel"
_BUG = (
    "Slack refused the message signoff sent ({error}): this is a signoff bug, please "
    "report it with the request id."
)
_REINSTALL = (
    "The bot token no longer works (revoked, expired, or the app was uninstalled or "
    "deactivated): reinstall the app and put its bot token in the stack's secret."
)
_NO_DM = (
    "Slack will not open a direct message with the requester {requester} ({error}): the "
    "request goes on; they can follow it in {channel} or with signoff show."
)
_GONE = (
    "The request's message in {channel} is gone or can no longer be changed ({error}): "
    "the request goes on without it; its outcome is in signoff show."
)
SLACK_ERRORS: Mapping[str, tuple[Problem, str]] = {
    "not_in_channel": (Problem.CHANNEL, _INVITE),
    "channel_not_found": (
        Problem.CHANNEL,
        "Slack knows no channel {channel} that the app can see: invite the app to it, "
        "or start the request again with --channel naming a channel it is in.",
    ),
    "is_archived": (
        Problem.CHANNEL,
        f"The channel {{channel}} is archived: unarchive it, or {_OTHER_CHANNEL}.",
    ),
    "channel_is_archived": (
        Problem.CHANNEL,
        f"The channel {{channel}} is archived: unarchive it, or {_OTHER_CHANNEL}.",
    ),
    "restricted_action": (
        Problem.CHANNEL,
        "A workspace setting keeps the app from posting in {channel}: ask a Slack admin "
        f"to allow it, or {_OTHER_CHANNEL}.",
    ),
    "restricted_action_read_only_channel": (
        Problem.CHANNEL,
        f"{{channel}} is read-only: let the app post there, or {_OTHER_CHANNEL}.",
    ),
    "restricted_action_thread_only_channel": (
        Problem.CHANNEL,
        f"{{channel}} takes thread replies only: {_OTHER_CHANNEL}.",
    ),
    "restricted_action_non_threadable_channel": (
        Problem.CHANNEL,
        f"{{channel}} has no threads, where signoff replies: {_OTHER_CHANNEL}.",
    ),
    "restricted_action_thread_locked": (
        Problem.CHANNEL,
        "The request's thread in {channel} is locked: unlock it for later replies.",
    ),
    "team_access_not_granted": (
        Problem.CHANNEL,
        "The app is not granted access to the workspace of {channel}: ask an org admin "
        f"to add the app to that workspace, or {_OTHER_CHANNEL}.",
    ),
    "ekm_access_denied": (
        Problem.CHANNEL,
        "Slack Enterprise Key Management denied access to {channel}: ask a Slack admin "
        "to restore the workspace's keys.",
    ),
    "message_not_found": (Problem.MESSAGE, _GONE),
    "thread_not_found": (Problem.MESSAGE, _GONE),
    "cant_update_message": (Problem.MESSAGE, _GONE),
    "edit_window_closed": (Problem.MESSAGE, _GONE),
    "message_not_owned_by_app": (Problem.MESSAGE, _GONE),
    "cannot_reply_to_message": (Problem.MESSAGE, _GONE),
    "user_not_found": (Problem.RECIPIENT, _NO_DM),
    "user_not_visible": (Problem.RECIPIENT, _NO_DM),
    "user_disabled": (Problem.RECIPIENT, _NO_DM),
    "cannot_dm_bot": (Problem.RECIPIENT, _NO_DM),
    "invalid_user_combination": (Problem.RECIPIENT, _NO_DM),
    "messages_tab_disabled": (Problem.RECIPIENT, _NO_DM),
    "msg_too_long": (Problem.CONTENT, _BUG),
    "invalid_blocks": (Problem.CONTENT, _BUG),
    "invalid_blocks_format": (Problem.CONTENT, _BUG),
    "invalid_attachments": (Problem.CONTENT, _BUG),
    "too_many_attachments": (Problem.CONTENT, _BUG),
    "no_text": (Problem.CONTENT, _BUG),
    "invalid_metadata_format": (Problem.CONTENT, _BUG),
    "invalid_metadata_schema": (Problem.CONTENT, _BUG),
    "metadata_too_large": (Problem.CONTENT, _BUG),
    "invalid_arguments": (Problem.CONTENT, _BUG),
    "invalid_arg_name": (Problem.CONTENT, _BUG),
    "invalid_array_arg": (Problem.CONTENT, _BUG),
    "invalid_charset": (Problem.CONTENT, _BUG),
    "invalid_form_data": (Problem.CONTENT, _BUG),
    "invalid_json": (Problem.CONTENT, _BUG),
    "json_not_object": (Problem.CONTENT, _BUG),
    "invalid_post_type": (Problem.CONTENT, _BUG),
    "missing_post_type": (Problem.CONTENT, _BUG),
    "users_list_not_supplied": (Problem.CONTENT, _BUG),
    "invalid_auth": (Problem.APP, _REINSTALL),
    "account_inactive": (Problem.APP, _REINSTALL),
    "token_revoked": (Problem.APP, _REINSTALL),
    "token_expired": (Problem.APP, _REINSTALL),
    "not_authed": (Problem.APP, _REINSTALL),
    "not_allowed_token_type": (
        Problem.APP,
        "The stack's secret holds a token that is not the app's bot token (xoxb-): put "
        "the bot token there.",
    ),
    "missing_scope": (
        Problem.APP,
        "The Slack app lacks a scope: update it from manifest.yaml and reinstall.",
    ),
    "no_permission": (
        Problem.APP,
        "The app's token may not do this: reinstall the app from manifest.yaml.",
    ),
    "access_denied": (
        Problem.APP,
        "Slack denied the app access: ask a Slack admin to approve or reinstall it.",
    ),
    "org_login_required": (
        Problem.APP,
        "The workspace is migrating into an org: reinstall the app once it is done.",
    ),
    "enterprise_is_restricted": (
        Problem.APP,
        "The org restricts this app: ask an org admin to allow it.",
    ),
    "two_factor_setup_required": (
        Problem.APP,
        "The workspace requires two-factor setup of the app's installer: complete it.",
    ),
    "method_deprecated": (Problem.APP, "Slack retired a method signoff calls: upgrade signoff."),
    "deprecated_endpoint": (Problem.APP, "Slack retired a method signoff calls: upgrade signoff."),
    "upgrade_required": (Problem.APP, "Slack retired a method signoff calls: upgrade signoff."),
    # Worth trying again, a few times: Slack is busy or failing for a while.
    "ratelimited": (Problem.BUSY, ""),
    "rate_limited": (Problem.BUSY, ""),
    "internal_error": (Problem.BUSY, ""),
    "fatal_error": (Problem.BUSY, ""),
    "service_unavailable": (Problem.BUSY, ""),
    "request_timeout": (Problem.BUSY, ""),
    "update_failed": (Problem.BUSY, ""),
    "team_added_to_org": (Problem.BUSY, ""),  # the workspace is moving into an org
    "message_limit_exceeded": (Problem.BUSY, ""),
    NO_RESPONSE: (Problem.BUSY, ""),
}
_BUSY = (
    "Slack kept answering {call} with {error} ({tries} tries): signoff stopped trying "
    "this one. If Slack is having an incident (status.slack.com), it is over by itself; "
    "otherwise look at the notifier's logs."
)
# Errors no retry can fix: someone must change something in Slack (or the secret) first.
PERMANENT_ERRORS = frozenset(
    e for e, (problem, _) in SLACK_ERRORS.items() if problem is not Problem.BUSY
)
# The token or the app is broken: no call can work, so no DM is tried either.
TOKEN_ERRORS = frozenset(e for e, (problem, _) in SLACK_ERRORS.items() if problem is Problem.APP)


def failure_advice(approval: Approval, error: str, call: str = "", tries: int = 0) -> str:
    """What a person should do about a Slack error signoff gave up on (plain text, for the
    audit trail and the requester's DM)."""
    problem, fix = SLACK_ERRORS.get(error, (Problem.BUSY, _BUSY))
    if problem is Problem.BUSY:
        fix = _BUSY
    said = fix.format(
        channel=approval.channel,
        requester=approval.requester,
        error=error,
        call=call or "a call",
        tries=tries,
    )
    return (
        f"{said} Until then the request can be decided from the CLI: "
        f"signoff decide {approval.id} approve|reject --as USER."
    )


class SlackRefusedError(BackendError):
    """Slack answered a call with an error: nothing was done (a retry may still work)."""

    def __init__(self, method: str, error: str):
        super().__init__(f"Slack {method} failed: {error}")
        self.method = method
        self.error = error


class PermanentSlackError(SlackRefusedError):
    """Slack refused a call in a way no retry fixes: do not retry, tell someone."""


class SlackUnansweredError(BackendError):
    """A call whose answer never came (a timeout, a dropped connection): Slack may have
    done it."""

    def __init__(self, method: str, cause: Exception):
        super().__init__(f"Slack {method} failed: {cause!r}")
        self.method = method
        self.error = NO_RESPONSE


def slack_failure(method: str, exc: Exception) -> BackendError:
    """The error to raise for a failed Web API call: permanent, refused, or unanswered."""
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error") or exc.response.status_code)
        if code in PERMANENT_ERRORS:
            return PermanentSlackError(method, code)
        return SlackRefusedError(method, code)
    return SlackUnansweredError(method, exc)


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
    return SlackRef(channel=str(response["channel"]), ts=str(response["ts"]))


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
            return SlackRef(channel=approval.channel, ts=str(message["ts"]))
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
    client: WebClient, once: Once, approval: Approval, notice: Notice, key: str
) -> bool:
    """Reply in the request message's thread, once per (approval, key), ever.

    True when this call posted it; False when it was posted before (or there is no
    message to reply to yet). Raises PermanentSlackError when Slack refuses for good
    (the claim is then finished: nobody tries again), BackendError when a retry may
    help (the claim is released). `once` is the claim rule (`signoff.claims.Once`, made
    by `once_notices`); every notice carries metadata naming its approval and key, which
    is how a takeover finds what a dead holder sent.
    """
    ref = approval.message
    if ref is None:
        return False

    def find() -> bool:
        return _find_notice(client, "conversations.replies", approval.id, key, ref.channel, ref.ts)

    def send() -> None:
        _post_notice(client, approval.id, key, notice, ref.channel, thread_ts=ref.ts)

    return once(approval.id, key, do=send, find=find)


def direct_message(
    client: WebClient, once: Once, approval: Approval, user: str, notice: Notice, key: str
) -> bool:
    """A direct message from the bot to `user`, once per (approval, key), ever.

    Only Slack user ids can be messaged; for anyone else this is False and nothing
    happens. Errors as for `reply_in_thread`.
    """
    if not model.is_slack_user(user):
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

    return once(approval.id, key, do=send, find=find)


def once_notices(claims: Claims, clock: Callable[[], datetime], lease: timedelta) -> Once:
    """The once-claim rule for Slack notices: a permanent Slack error gives the notice up
    (the caller tells someone); a refusal released it (nothing was sent); a lost answer
    keeps the claim, to lapse after `lease` and be looked for by whoever takes it over."""
    return Once(
        claims=claims,
        clock=clock,
        lease=lease,
        given_up=(PermanentSlackError,),
        released=(SlackRefusedError,),
    )


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


class PendingFor(Protocol):
    """What a Home tab shows: the requests waiting for a person, and those they asked for
    (`service.Pending`, or the `Approvals` use cases)."""

    def pending_for(self, user: str) -> tuple[list[Approval], list[Approval]]: ...


def publish_home(client: WebClient, pending: PendingFor, user: str, notice: str = "") -> bool:
    """Render `user`'s Home tab from the pending index. Best effort: False if it failed.

    `notice` is signoff's own Slack text shown on top (user text in it must be escaped).
    """
    if not model.is_slack_user(user):
        return False
    try:
        waiting, asked = pending.pending_for(user)
        client.views_publish(user_id=user, view=blocks.home_view(waiting, asked, notice))
    except (SlackApiError, OSError, BackendError):
        log.warning("could not publish the Home tab of %s", user, exc_info=True)
        return False
    return True
