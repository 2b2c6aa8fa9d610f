"""The app's listeners: a click, the reject reason, `/signoff`, the next page, the Home tab.

Each reads its request through `need` (a missing or mistyped field is a 400), calls the
service once and answers. What an error tells the person comes from one table,
`ANSWERS`, in the words of the listener that met it (`Phrases`). The click path ends at
the answer: the notifier re-renders the message on the workflow's event, outside Slack's
3 s and retried by SNS if Slack fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff import blocks, messages, notices, reports
from signoff import richtext as rt
from signoff.errors import (
    AlreadyRecordedError,
    BackendError,
    ConfigError,
    ConflictError,
    NotFoundError,
    RefusedError,
    SignoffError,
    ValidationError,
)
from signoff.frozen import frozen
from signoff.model import Decision, id_problem
from signoff.observability import NoTelemetry, Telemetry
from signoff.service import Approvals
from signoff.slack import commands
from signoff.slack.commands import Verb
from signoff.slack.links import message_links
from signoff.slack.request import need
from signoff.text import escape, visible

log = logging.getLogger(__name__)


class Ack(Protocol):
    """Bolt's `ack`: the answer to the request itself (within Slack's 3 s)."""

    def __call__(self, **answer: Any) -> object: ...


class Respond(Protocol):
    """Bolt's `respond`: a message through the request's response_url."""

    def __call__(self, **message: Any) -> object: ...


class Told(StrEnum):
    """What kind of answer an error gets."""

    ALREADY = "already"  # the same thing stands already: nothing changed, nothing wrong
    REFUSED = "refused"  # the rules or the input say no: the error's sentence is told
    TRY_AGAIN = "try_again"  # a retry can change the answer (a race, a failed service)
    BROKEN = "broken"  # signoff's settings are wrong: no retry helps, an operator must act


# The one mapping from an error to the kind of answer it gets, first match wins. An error
# not listed (MalformedRequestError: a 400) goes on to the app's error handler.
ANSWERS: tuple[tuple[type[SignoffError], Told], ...] = (
    (AlreadyRecordedError, Told.ALREADY),
    (RefusedError, Told.REFUSED),
    (NotFoundError, Told.REFUSED),
    (ValidationError, Told.REFUSED),
    (ConflictError, Told.TRY_AGAIN),
    (BackendError, Told.TRY_AGAIN),  # UnansweredError and Slack's errors with it
    (ConfigError, Told.BROKEN),
)

BROKEN = "signoff's settings are broken, so this could not be done; tell whoever runs it."


@frozen
class Phrases:
    """One listener's words for each kind of answer; `{why}` is the error's sentence.

    `mrkdwn`: the answer is Slack text, so the sentence (which may quote what someone
    typed) is escaped. A modal's error is plain text: it is shown as it is, with any
    control, bidi or invisible character in it made visible.
    """

    doing: str  # for the log: "approval refused: ...", "approval failed"
    refused: str
    try_again: str
    already: str = ""  # "": nothing is said
    mrkdwn: bool = True

    def say(self, told: Told, exc: SignoffError) -> str:
        why = visible(str(exc))
        words = {
            Told.ALREADY: self.already,
            Told.REFUSED: self.refused,
            Told.TRY_AGAIN: self.try_again,
            Told.BROKEN: BROKEN,
        }[told]
        return words.format(why=escape(why) if self.mrkdwn else why)


APPROVE = Phrases(
    doing="approval",
    already="Your approval is already recorded.",
    refused="Your approval was not recorded: {why}.",
    try_again="Your approval could not be recorded just now; please try again.",
)
REJECT = Phrases(
    doing="reject check",
    refused="You cannot reject this: {why}.",
    try_again="The reason dialog could not be opened; please click Reject again.",
)
REASON = Phrases(
    doing="rejection",
    refused="Not recorded: {why}.",
    try_again="Could not be recorded just now; try again.",
    mrkdwn=False,
)
CANCEL = Phrases(
    doing="cancel",
    refused="The request was not cancelled: {why}.",
    try_again="The request could not be cancelled just now; please try again.",
)
CANCEL_REASON = Phrases(
    doing="cancel",
    refused="Not cancelled: {why}.",
    try_again="Could not be cancelled just now; try again.",
    mrkdwn=False,
)
CANCEL_DIALOG_FAILED = "The reason dialog could not be opened; please choose Cancel request again."
SNOOZE = Phrases(
    doing="snooze",
    refused="Not snoozed: {why}.",
    try_again="The snooze could not be recorded just now; please try again.",
)
COMMAND = Phrases(
    doing="/signoff",
    refused="{why}. Try `/signoff list`.",
    try_again="signoff could not answer just now; try again.",
)


def answer(exc: SignoffError, phrases: Phrases) -> tuple[Told, str]:
    """What `exc` tells the person, in `phrases`' words ("" for nothing); an error the
    table does not list is raised again."""
    told = next((told for kind, told in ANSWERS if isinstance(exc, kind)), None)
    if told is None:
        raise exc
    if told is Told.REFUSED:
        log.info("%s refused: %s", phrases.doing, exc)
    elif told is Told.ALREADY:
        log.info("%s: %s", phrases.doing, exc)
    else:
        log.error("%s failed", phrases.doing, exc_info=exc)
    return told, phrases.say(told, exc)


def tell(respond: Respond, text: str) -> None:
    """A private answer through the request's response_url (best effort).

    `text` is Slack text (its user text escaped); what is shown is the same sentence as
    rich text, so a title it names is shown as typed, never formatted.
    """
    typed = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    shown = [rt.block(rt.section(rt.text(typed)))]
    try:
        respond(text=text, blocks=shown, response_type="ephemeral", replace_original=False)
    except Exception:
        log.warning("could not send an ephemeral notice", exc_info=True)


class Listeners:
    """Every listener of the app, over one `Approvals`. Bolt passes each method what its
    parameters name (`ack`, `body`, `client`, `respond`, `view`, `command`, `event`)."""

    def __init__(self, approvals: Approvals, telemetry: Telemetry | None = None) -> None:
        self.approvals = approvals
        self.telemetry = telemetry or NoTelemetry()

    # -- the request's message: Approve, Reject (its modal), Cancel ---------------------

    def approve(self, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        approval_id, user = self._clicked(body)
        say = self._teller(body, client, respond, user)
        try:
            self.approvals.decide(approval_id, user, Decision.APPROVE)
        except SignoffError as exc:
            _, text = answer(exc, APPROVE)
            ack()
            say(text)
            return
        log.info("approval recorded")
        ack()
        if _from_home(body):
            messages.publish_home(client, self.approvals, user)  # my action: my tab at once

    def reject(self, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Reject opens the reason dialog, once the rules say this person may vote."""
        approval_id, user = self._clicked(body)
        trigger_id = need(body, "trigger_id")
        say = self._teller(body, client, respond, user)
        try:
            approval = self.approvals.check_vote(approval_id, user)
        except SignoffError as exc:
            _, text = answer(exc, REJECT)
            ack()
            say(text)
            return
        ack()
        try:
            client.views_open(trigger_id=trigger_id, view=blocks.reject_modal(approval))
        except (SlackApiError, OSError):  # OSError: a timeout or a dropped connection
            log.exception("views.open failed")
            say(REJECT.try_again)

    def reason(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The reason dialog submitted: the rejection, or the dialog says why not."""
        approval_id = need(view, "private_metadata")
        user = need(body, "user", "id")
        self.telemetry.tag(approval_id=approval_id, slack_user=user)
        reason = need(
            view,
            *("state", "values", blocks.REASON_BLOCK, blocks.REASON_ACTION, "value"),
            kind=(str, type(None)),  # an empty input comes as null
        )
        try:
            self.approvals.decide(approval_id, user, Decision.REJECT, reason or "")
        except SignoffError as exc:
            told, text = answer(exc, REASON)
            if told is Told.ALREADY:
                ack()  # a repeated submission: the rejection stands, the dialog closes
            else:
                ack(response_action="errors", errors={blocks.REASON_BLOCK: text})
            return
        log.info("rejection recorded")
        ack()

    def cancel(self, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The overflow's "Cancel request…" opens the reason dialog, once the rules say this
        person may cancel (a refusal is audited by the service and told privately)."""
        approval_id = need(body, "actions", 0, "selected_option", "value")
        user = need(body, "user", "id")
        self.telemetry.tag(approval_id=approval_id, slack_user=user)
        trigger_id = need(body, "trigger_id")
        need(body, "response_url")  # where a refusal is told, privately
        try:
            approval = self.approvals.check_cancel(approval_id, user)
        except SignoffError as exc:
            _, text = answer(exc, CANCEL)
            ack()
            tell(respond, text)
            return
        ack()
        try:
            client.views_open(trigger_id=trigger_id, view=blocks.cancel_modal(approval))
        except (SlackApiError, OSError):  # OSError: a timeout or a dropped connection
            log.exception("views.open failed")
            tell(respond, CANCEL_DIALOG_FAILED)

    def cancel_reason(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The cancel dialog submitted: the request is cancelled with the reason (audited
        and shown on the request), or the dialog says why not."""
        approval_id = need(view, "private_metadata")
        user = need(body, "user", "id")
        self.telemetry.tag(approval_id=approval_id, slack_user=user)
        reason = need(
            view,
            *("state", "values", blocks.REASON_BLOCK, blocks.REASON_ACTION, "value"),
            kind=(str, type(None)),
        )
        try:
            self.approvals.cancel(approval_id, user, reason or "")
        except SignoffError as exc:
            _, text = answer(exc, CANCEL_REASON)
            ack(response_action="errors", errors={blocks.REASON_BLOCK: text})
            return
        ack()  # the workflow ends and the notifier re-renders the message

    # -- /signoff and its pages ---------------------------------------------------------

    def command(self, ack: Ack, command: dict[str, Any], client: WebClient | None = None) -> None:
        """`/signoff [list | mine | show <id> | help]`, answered privately."""
        user = need(command, "user_id")
        self.telemetry.tag(slack_user=user)
        parsed = commands.parse(command.get("text") or "")
        verbs: dict[Verb, Callable[[], dict[str, Any]]] = {
            Verb.LIST: self._list,
            Verb.MINE: lambda: self._mine(user, client),
            Verb.SHOW: lambda: self._show(parsed.approval_id),
            Verb.HELP: lambda: commands.help_answer(parsed.not_understood),
        }
        try:
            said = verbs[parsed.verb]()
        except SignoffError as exc:
            said = {"text": answer(exc, COMMAND)[1]}
        ack(response_type="ephemeral", **said)

    def next_page(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        """The list's "Next" button: the ephemeral list is replaced by its next page."""
        after = need(body, "actions", 0, "value")
        need(body, "response_url")
        ack()
        try:
            page = self.approvals.pending_page(blocks.PAGE_SIZE, after)
        except SignoffError as exc:
            tell(respond, answer(exc, COMMAND)[1])
            return
        try:
            respond(
                text=f"{len(page.approvals)} more pending approval(s)",
                blocks=blocks.pending_page(page.approvals, page.next_page, first=False),
                response_type="ephemeral",
                replace_original=True,
            )
        except Exception:
            log.warning("could not show the next page", exc_info=True)

    def snooze(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        """A reminder's "Remind me in 1 h": no reminders of it for this person until then
        (audited); told privately, or why not."""
        approval_id, user = self._clicked(body)
        need(body, "response_url")
        store, clock = self.approvals.store, self.approvals.clock
        try:
            approval, until = reports.snooze(store, clock, approval_id, user)
        except SignoffError as exc:
            _, text = answer(exc, SNOOZE)
            ack()
            tell(respond, text)
            return
        ack()
        said = notices.snoozed_notice(approval, until)
        try:
            respond(
                text=said.text,
                blocks=said.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception:
            log.warning("could not confirm a snooze", exc_info=True)

    def home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            messages.publish_home(client, self.approvals, need(event, "user"))

    # -- helpers ------------------------------------------------------------------------

    def _clicked(self, body: dict[str, Any]) -> tuple[str, str]:
        """The approval a button is for, and who clicked it."""
        approval_id = need(body, "actions", 0, "value")
        user = need(body, "user", "id")
        self.telemetry.tag(approval_id=approval_id, slack_user=user)
        return approval_id, user

    def _teller(
        self, body: dict[str, Any], client: WebClient, respond: Respond, user: str
    ) -> Callable[[str], object]:
        """How to tell the clicker something privately: where they clicked.

        A click on the Home tab has no response_url: its answer is the tab re-rendered
        with the sentence on top. Any other click answers through its response_url.
        """
        if _from_home(body):
            return lambda text: messages.publish_home(client, self.approvals, user, text)
        need(body, "response_url")
        return lambda text: tell(respond, text)

    def _list(self) -> dict[str, Any]:
        page = self.approvals.pending_page(blocks.PAGE_SIZE)
        return {
            "text": f"{len(page.approvals)} pending approval(s)",
            "blocks": blocks.pending_page(page.approvals, page.next_page),
        }

    def _mine(self, user: str, client: WebClient | None) -> dict[str, Any]:
        waiting, _ = self.approvals.pending_for(user)
        shown = waiting[: blocks.MINE_SHOWN]
        links = message_links(client, shown) if client is not None else {}
        return {
            "text": f"{len(waiting)} request(s) waiting for your vote",
            "blocks": blocks.mine_list(waiting, links),
        }

    def _show(self, approval_id: str) -> dict[str, Any]:
        if id_problem(approval_id):  # what was typed is not echoed
            return {"text": "That is not an approval id. Try `/signoff list`."}
        approval = self.approvals.get(approval_id)
        return {"text": notices.card_text(approval), "blocks": blocks.show_blocks(approval)}


def _from_home(body: dict[str, Any]) -> bool:
    """Whether a click came from the App Home tab (it then has no response_url)."""
    view = body.get("view")
    return isinstance(view, dict) and view.get("type") == "home"
