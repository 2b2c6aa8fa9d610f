"""`SlackStandIn`: the one object the local stack and tests hold — the recorded
conversation, the Web API the bot calls, and a user's acts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from signoff.local.slack_standin import acts, views
from signoff.local.slack_standin.state import State
from signoff.local.slack_standin.web_api import Answer, Fault, WebApi


class SlackStandIn:
    def __init__(
        self,
        state_file: Path,
        *,
        bot_token: str,
        signing_secret: str,
        events_url: str,
        base_url: str,
        on_answer: Callable[[str, dict[str, Any]], None] | None = None,
    ):
        """`state_file` is the journal (`.signoff/slack.jsonl`); `on_answer(method, args)`
        runs once a Web API call is recorded, before its answer."""
        self.state = State(state_file, base_url=base_url)
        self._web_api = WebApi(
            self.state, bot_token=bot_token, base_url=base_url, on_answer=on_answer
        )
        self._signing_secret = signing_secret
        self._events_url = events_url

    # -- what was said -------------------------------------------------------------

    def conversation(self) -> dict[str, Any]:
        """What the page shows: everything recorded, and the user groups' handles by id
        (a mention of a group reads `@handle`, as in Slack)."""
        return {**self.state.snapshot(), "usergroups": self._web_api.group_handles()}

    def has_message(self, channel: str, ts: str) -> bool:
        """Whether a message was posted at (channel, ts)."""
        return self.state.has_message(channel, ts)

    def close(self) -> None:
        """Stop recording (every change is in the journal already)."""
        self.state.close()

    # -- the Web API and its faults ---------------------------------------------------

    def api(self, method: str, token: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.call(method, token, args)[0]

    def call(self, method: str, token: str, args: dict[str, Any]) -> Answer:
        """One Web API call: (the JSON answer, the HTTP status, extra headers)."""
        return self._web_api.call(method, token, args)

    def fault(
        self,
        method: str,
        error: str,
        count: int = 1,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        channel: str | None = None,
    ) -> Fault:
        """Fail the next `count` calls of `method` with `error` (see `WebApi.fault`)."""
        return self._web_api.fault(
            method, error, count, status=status, retry_after=retry_after, channel=channel
        )

    def clear_faults(self) -> None:
        self._web_api.clear_faults()

    def define_group(
        self, group_id: str, users: tuple[str, ...] | list[str], handle: str | None = None
    ) -> None:
        """Make `usergroups.users.list` answer `users` for `group_id`, shown on the page as
        `@handle` (default: from the id, S0DBA is @dba)."""
        self._web_api.define_group(group_id, users, handle)

    def set_member(self, channel: str, member: bool) -> None:
        """Put the bot in `channel` or take it out (it starts in every channel)."""
        self._web_api.set_member(channel, member)

    # -- response_url and trigger_id -------------------------------------------------

    def respond(self, token: str, body: dict[str, Any]) -> bool:
        return self.state.respond(token, body)

    def response_url(self, channel: str, user: str, ts: str | None = None) -> str:
        """A response_url as Slack puts in a request: `ts` is the message it may replace."""
        with self.state.lock:
            return self.state.response_url(channel, user, ts)

    def trigger(self, user: str) -> str:
        """A trigger_id for `user`, as Slack puts in a click or a command (opens one view)."""
        with self.state.lock:
            return self.state.trigger(user)

    # -- a user acting -------------------------------------------------------------

    def post_as_slack(self, body: str, content_type: str) -> tuple[int, str]:
        """Send `body` to the Bolt endpoint, signed as Slack signs it."""
        return acts.post_signed(self._events_url, self._signing_secret, body, content_type)

    def click(self, user: str, channel: str, ts: str, action_id: str) -> tuple[int, str]:
        return acts.click(self, user, channel, ts, action_id)

    def submit_view(
        self, view_id: str, user: str, values: dict[str, dict[str, str]]
    ) -> tuple[int, str]:
        return views.submit_view(self, view_id, user, values)

    def command(self, user: str, text: str, channel: str = "approvals") -> tuple[int, str]:
        return acts.command(self, user, text, channel)
