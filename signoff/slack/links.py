"""Links to requests' messages, for the lists where a vote can be cast.

One `chat.getPermalink` gives the workspace's address; the other messages' links follow
Slack's permalink shape (`…/archives/CHANNEL/pTS`, the ts without its dot), so a list of
ten costs one call, inside a slash command's 3 s. Best effort: no link is better than
no list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff.model import Approval, SlackRef

log = logging.getLogger(__name__)


def _path(ref: SlackRef) -> str:
    return f"/archives/{ref.channel}/p{ref.ts.replace('.', '')}"


def message_links(client: WebClient, approvals: Iterable[Approval]) -> dict[str, str]:
    """Approval id → its message's permalink, for those posted; {} when Slack cannot say."""
    posted = [(a.id, a.message) for a in approvals if a.message is not None]
    if not posted:
        return {}
    _, first = posted[0]
    try:
        answer = client.chat_getPermalink(channel=first.channel, message_ts=first.ts)
        permalink = str(answer["permalink"])
    except (SlackApiError, OSError, KeyError):
        log.warning("no permalink for the list's links", exc_info=True)
        return {}
    if not permalink.endswith(_path(first)):  # not the shape assumed: only what Slack said
        return {posted[0][0]: permalink}
    base = permalink[: -len(_path(first))]
    return {approval_id: base + _path(ref) for approval_id, ref in posted}
