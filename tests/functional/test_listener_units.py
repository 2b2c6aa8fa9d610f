"""Each Slack listener alone: a `Listeners` method called as Bolt calls it, over the
in-memory store, with fakes of what Slack hands a listener — `ack` and `respond` record
what they were told, and the Web API client answers from memory (no server, no Java).

What a person is told is asserted word for word: the sentences are the app's interface.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from signoff import blocks
from signoff.errors import BackendError, ConfigError, ConflictError
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Approval, AuditEvent, Decision, Status
from signoff.service import Approvals
from signoff.slack.listeners import Listeners
from signoff.slack.request import MalformedRequestError
from tests.factories import Bell, start_request
from tests.integration.slack_events import block_actions_payload, view_submission_payload

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
URL = "https://hooks.slack.test/actions/T0/1/x"
NOT_APPROVER = "you are not an approver of this request"


class Recorder:
    """Bolt's `ack` or `respond`, as Slack receives them: every call's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **said: Any) -> None:
        self.calls.append(said)

    @property
    def texts(self) -> list[str]:
        return [str(c.get("text", "")) for c in self.calls]


class FakeSlack(WebClient):
    """Slack's Web API answering from memory: each call is recorded; a method named in
    `failing` is refused as Slack refuses (`ok: false`), which slack_sdk raises."""

    def __init__(self, failing: Collection[str] = ()) -> None:
        super().__init__(token="xoxb-test")
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failing = set(failing)

    def api_call(
        self, api_method: str, *, json: dict[str, Any] | None = None, **kwargs: Any
    ) -> SlackResponse:
        self.calls.append((api_method, dict(json or kwargs.get("params") or {})))
        data = {"ok": False, "error": "expired_trigger_id"} if api_method in self.failing else {}
        response = SlackResponse(
            client=self,
            http_verb="POST",
            api_url=api_method,
            req_args={},
            data={"ok": True, **data},
            headers={},
            status_code=200,
        )
        response.validate()  # raises SlackApiError for ok: false, as a real call does
        return response


class Store(InMemoryApprovalStore):
    """The in-memory store, failing as DynamoDB can when told to: every commit, or every
    read, raises the error set here."""

    def __init__(self) -> None:
        super().__init__()
        self.commit_error: Exception | None = None
        self.read_error: Exception | None = None

    def commit(self, before: Approval, after: Approval, events: Any, **kwargs: Any) -> None:
        if self.commit_error:
            raise self.commit_error
        super().commit(before, after, events, **kwargs)

    def get(self, approval_id: str) -> Approval:
        if self.read_error:
            raise self.read_error
        return super().get(approval_id)

    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]:
        if self.read_error:
            raise self.read_error
        return super().list_pending(limit, after)


class Tags:
    """Telemetry that keeps the log keys it was given (metrics are not listened for)."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def tag(self, **keys: str) -> None:
        self.keys.update(keys)

    def correlate(self, correlation_id: str) -> None:
        pass

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        pass

    def measure(self, name: str, value: float, unit: str, **dimensions: str) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def bell() -> Bell:
    return Bell()


@pytest.fixture
def approvals(store: Store, clock: Clock, bell: Bell) -> Approvals:
    service = Approvals(store, clock, doorbell=bell, admins=lambda: ("U0ADM",))
    service.open(start_request("apr-u1", title="Rotate <!here> keys", approvers=("U0A", "U0B")))
    return service


@pytest.fixture
def tags() -> Tags:
    return Tags()


@pytest.fixture
def listeners(approvals: Approvals, tags: Tags) -> Listeners:
    return Listeners(approvals, tags)


@pytest.fixture
def ack() -> Recorder:
    return Recorder()


@pytest.fixture
def respond() -> Recorder:
    return Recorder()


@pytest.fixture
def client() -> FakeSlack:
    return FakeSlack()


def click(user: str, action: str, value: str = "apr-u1") -> dict[str, Any]:
    return block_actions_payload(user, action, value, URL)


def home_click(user: str, action: str, value: str = "apr-u1") -> dict[str, Any]:
    """A button on the Home tab: a view container, no response_url."""
    body = block_actions_payload(user, action, value, "unused")
    del body["response_url"], body["channel"]
    body["container"] = {"type": "view", "view_id": "VHOME"}
    body["view"] = {"id": "VHOME", "type": "home", "callback_id": "signoff.home"}
    return body


def reason(user: str, text: str | None, approval_id: str = "apr-u1") -> dict[str, Any]:
    return view_submission_payload(user, approval_id, text)


def audited(approvals: Approvals, approval_id: str = "apr-u1") -> Counter[str]:
    return Counter(e.kind for e in approvals.audit(approval_id))


def refused_with(approvals: Approvals, kind: str) -> AuditEvent:
    """The last refusal of `kind` audited on apr-u1."""
    return next(e for e in reversed(approvals.audit("apr-u1")) if e.kind == kind)


# -- Approve ----------------------------------------------------------------------------


def test_approve_is_acked_recorded_and_rings_the_workflow_with_nothing_said(
    listeners: Listeners,
    approvals: Approvals,
    ack: Recorder,
    respond: Recorder,
    client: FakeSlack,
    bell: Bell,
    tags: Tags,
) -> None:
    approvals.arm_doorbell("apr-u1", "cb-1")
    listeners.approve(ack, click("U0A", blocks.APPROVE_ACTION), client, respond)
    assert ack.calls == [{}]
    assert respond.calls == [] and client.calls == []  # the notifier re-renders the message
    assert approvals.get("apr-u1").status is Status.APPROVED
    assert bell.rung == ["cb-1"]
    assert tags.keys == {"approval_id": "apr-u1", "slack_user": "U0A"}


def test_a_repeated_approve_is_told_it_is_already_recorded(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    listeners.approve(ack, click("U0A", blocks.APPROVE_ACTION), client, respond)
    listeners.approve(ack, click("U0A", blocks.APPROVE_ACTION), client, respond)
    assert ack.calls == [{}, {}]
    assert respond.calls == [
        {
            "text": "Your approval is already recorded.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]
    assert audited(approvals)["vote_refused"] == 0


def _closed(approvals: Approvals, clock: Clock) -> None:
    approvals.decide("apr-u1", "U0A", Decision.APPROVE)


def _expired(approvals: Approvals, clock: Clock) -> None:
    clock.now = approvals.get("apr-u1").expires_at


def _unchanged(approvals: Approvals, clock: Clock) -> None:
    pass


@pytest.mark.parametrize(
    ("user", "before", "why", "code"),
    [
        ("U0X", _unchanged, NOT_APPROVER, "not_approver"),
        ("U0B", _closed, "this request is already approved", "closed"),
        ("U0B", _expired, "this request has expired", "expired"),
    ],
    ids=["not-an-approver", "closed", "expired"],
)
def test_an_approve_the_rules_refuse_is_told_why_privately_and_audited(
    listeners: Listeners,
    approvals: Approvals,
    clock: Clock,
    ack: Recorder,
    respond: Recorder,
    client: FakeSlack,
    user: str,
    before: Any,
    why: str,
    code: str,
) -> None:
    before(approvals, clock)
    listeners.approve(ack, click(user, blocks.APPROVE_ACTION), client, respond)
    assert ack.calls == [{}]
    assert respond.calls == [
        {
            "text": f"Your approval was not recorded: {why}.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]
    refusal = refused_with(approvals, "vote_refused")
    assert refusal.actor == user and refusal.detail["why"] == why
    assert refusal.detail["code"] == code


def test_the_requester_approving_their_own_request_is_refused(
    store: Store, clock: Clock, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    approvals = Approvals(store, clock)
    approvals.open(start_request("apr-own", approvers=("U0A", "U0REQ")))
    Listeners(approvals).approve(
        ack, click("U0REQ", blocks.APPROVE_ACTION, "apr-own"), client, respond
    )
    assert respond.texts == [
        "Your approval was not recorded: you requested this, and self-approval is not allowed."
    ]
    assert audited(approvals, "apr-own")["vote_refused"] == 1


def test_an_approve_of_what_is_not_an_id_is_told_with_the_value_escaped(
    listeners: Listeners, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    """What was clicked is quoted back as text: Slack would otherwise read `<!channel>` as
    a mention of everyone and `&lt;` as `<`."""
    listeners.approve(ack, click("U0A", blocks.APPROVE_ACTION, "<!channel>&lt;"), client, respond)
    (text,) = respond.texts
    assert text == (
        "Your approval was not recorded: '&lt;!channel&gt;&amp;lt;' is not an approval id: "
        "an id is 3-64 lowercase letters, digits or '-' (like apr-1a2b3c4d5e)."
    )


def test_an_approve_of_an_unknown_request_is_told_so(
    listeners: Listeners, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    listeners.approve(ack, click("U0A", blocks.APPROVE_ACTION, "apr-gone"), client, respond)
    assert respond.texts == ["Your approval was not recorded: no approval with id 'apr-gone'."]


@pytest.mark.parametrize(
    "error",
    [ConflictError("someone else wrote first"), BackendError("DynamoDB failed: throttled")],
    ids=["races-kept-winning", "store-failed"],
)
def test_an_approve_that_could_not_be_written_is_told_to_try_again(
    listeners: Listeners,
    approvals: Approvals,
    store: Store,
    ack: Recorder,
    respond: Recorder,
    client: FakeSlack,
    error: Exception,
) -> None:
    store.commit_error = error
    listeners.approve(ack, click("U0A", blocks.APPROVE_ACTION), client, respond)
    assert ack.calls == [{}]
    assert respond.texts == ["Your approval could not be recorded just now; please try again."]
    assert approvals.get("apr-u1").status is Status.PENDING
    assert audited(approvals)["vote_refused"] == 0


def test_a_broken_setting_is_not_told_as_try_again(
    store: Store, clock: Clock, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    store.commit_error = ConfigError("SIGNOFF_TABLE names no table")
    approvals = Approvals(store, clock)
    approvals.open(start_request("apr-cfg"))
    Listeners(approvals).approve(
        ack, click("U0A", blocks.APPROVE_ACTION, "apr-cfg"), client, respond
    )
    assert respond.texts == [
        "signoff's settings are broken, so this could not be done; tell whoever runs it."
    ]


def test_a_click_without_its_response_url_is_malformed_and_not_acked(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    body = click("U0A", blocks.APPROVE_ACTION)
    del body["response_url"]
    with pytest.raises(MalformedRequestError, match="response_url"):
        listeners.approve(ack, body, client, respond)
    assert ack.calls == [] and approvals.get("apr-u1").status is Status.PENDING


# -- the Home tab: a click there is answered on the tab ----------------------------------


def published(client: FakeSlack) -> list[dict[str, Any]]:
    return [args for method, args in client.calls if method == "views.publish"]


def test_an_approve_on_the_home_tab_re_renders_my_tab(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    listeners.approve(ack, home_click("U0A", blocks.APPROVE_ACTION), client, respond)
    assert ack.calls == [{}] and respond.calls == []
    (tab,) = published(client)
    assert tab["user_id"] == "U0A"
    assert tab["view"] == blocks.home_view([], [])  # nothing waits for U0A any more


def test_a_refused_click_on_the_home_tab_is_told_on_top_of_the_tab(
    listeners: Listeners, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    listeners.approve(ack, home_click("U0X", blocks.APPROVE_ACTION, "<apr>"), client, respond)
    assert ack.calls == [{}] and respond.calls == []
    (tab,) = published(client)
    first = tab["view"]["blocks"][0]["text"]
    assert first["type"] == "mrkdwn"
    assert first["text"].startswith("Your approval was not recorded: '&lt;apr&gt;' is not")


# -- Reject: the click opens the reason dialog --------------------------------------------


def test_reject_opens_the_reason_dialog(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    listeners.reject(ack, click("U0A", blocks.REJECT_ACTION), client, respond)
    assert ack.calls == [{}] and respond.calls == []
    assert client.calls == [
        (
            "views.open",
            {"trigger_id": "trigger-1", "view": blocks.reject_modal(approvals.get("apr-u1"))},
        )
    ]
    assert approvals.get("apr-u1").status is Status.PENDING  # nothing decided yet


def test_reject_by_someone_who_may_not_vote_is_refused_without_a_dialog(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    listeners.reject(ack, click("U0X", blocks.REJECT_ACTION), client, respond)
    assert ack.calls == [{}] and client.calls == []
    assert respond.texts == [f"You cannot reject this: {NOT_APPROVER}."]
    assert refused_with(approvals, "vote_refused").detail["code"] == "not_approver"


def test_reject_after_approving_is_refused_a_vote_cannot_change(
    store: Store, clock: Clock, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    approvals = Approvals(store, clock)
    approvals.open(start_request("apr-q2", approvers=("U0A", "U0B"), min_approvals=2))
    approvals.decide("apr-q2", "U0A", Decision.APPROVE)
    Listeners(approvals).reject(ack, click("U0A", blocks.REJECT_ACTION, "apr-q2"), client, respond)
    assert respond.texts == [
        "You cannot reject this: you already approved this request, and a vote cannot be changed."
    ]
    assert client.calls == []


def test_reject_whose_dialog_slack_would_not_open_is_told_to_click_again(
    listeners: Listeners, ack: Recorder, respond: Recorder
) -> None:
    slack = FakeSlack(failing={"views.open"})
    listeners.reject(ack, click("U0A", blocks.REJECT_ACTION), slack, respond)
    assert ack.calls == [{}]
    assert respond.texts == ["The reason dialog could not be opened; please click Reject again."]


def test_reject_when_the_store_cannot_be_read_is_told_to_click_again(
    listeners: Listeners, store: Store, ack: Recorder, respond: Recorder, client: FakeSlack
) -> None:
    store.read_error = BackendError("DynamoDB failed: read timeout")
    listeners.reject(ack, click("U0A", blocks.REJECT_ACTION), client, respond)
    assert ack.calls == [{}] and client.calls == []
    assert respond.texts == ["The reason dialog could not be opened; please click Reject again."]


# -- the reason submitted ----------------------------------------------------------------


def test_a_reason_submitted_rejects_and_closes_the_dialog(
    listeners: Listeners, approvals: Approvals, ack: Recorder, bell: Bell
) -> None:
    approvals.arm_doorbell("apr-u1", "cb-2")
    submit(listeners, ack, reason("U0B", "  not on a Friday "))
    assert ack.calls == [{}]
    approval = approvals.get("apr-u1")
    assert (approval.status, approval.reason) == (Status.REJECTED, "not on a Friday")
    assert bell.rung == ["cb-2"]


def submit(listeners: Listeners, ack: Recorder, body: dict[str, Any]) -> None:
    listeners.reason(ack, body, body["view"])


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_reason_keeps_the_dialog_open_with_an_error(
    listeners: Listeners, approvals: Approvals, ack: Recorder, empty: str | None
) -> None:
    submit(listeners, ack, reason("U0B", empty))
    assert ack.calls == [
        {
            "response_action": "errors",
            "errors": {"reason": "Not recorded: a rejection needs a reason."},
        }
    ]
    assert approvals.get("apr-u1").status is Status.PENDING


def test_a_reason_from_someone_who_may_not_vote_is_refused_in_the_dialog(
    listeners: Listeners, approvals: Approvals, ack: Recorder
) -> None:
    submit(listeners, ack, reason("U0X", "no"))
    assert ack.calls == [
        {"response_action": "errors", "errors": {"reason": f"Not recorded: {NOT_APPROVER}."}}
    ]
    assert refused_with(approvals, "vote_refused").actor == "U0X"


def test_the_dialogs_error_is_plain_text_shown_as_it_is(
    listeners: Listeners, ack: Recorder
) -> None:
    """A dialog's error is not Slack markup: escaping it would show `&lt;` to the person."""
    submit(listeners, ack, reason("U0B", "no", approval_id="<x>"))
    (said,) = ack.calls
    assert said["errors"]["reason"].startswith("Not recorded: '<x>' is not an approval id")


def test_a_repeated_reason_closes_the_dialog_and_changes_nothing(
    listeners: Listeners, approvals: Approvals, ack: Recorder
) -> None:
    submit(listeners, ack, reason("U0B", "no"))
    submit(listeners, ack, reason("U0B", "no, really"))
    assert ack.calls == [{}, {}]
    assert approvals.get("apr-u1").reason == "no"


def test_a_reason_that_could_not_be_written_asks_to_try_again(
    listeners: Listeners, approvals: Approvals, store: Store, ack: Recorder
) -> None:
    store.commit_error = BackendError("DynamoDB failed: throttled")
    submit(listeners, ack, reason("U0B", "no"))
    assert ack.calls == [
        {
            "response_action": "errors",
            "errors": {"reason": "Could not be recorded just now; try again."},
        }
    ]


# -- Cancel -----------------------------------------------------------------------------


def test_the_requester_cancels_with_nothing_said(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder, bell: Bell
) -> None:
    approvals.arm_doorbell("apr-u1", "cb-3")
    listeners.cancel(ack, click("U0REQ", blocks.CANCEL_ACTION), respond)
    assert ack.calls == [{}] and respond.calls == []
    assert approvals.get("apr-u1").status is Status.CANCELLED
    assert bell.rung == ["cb-3"]


def test_an_admin_cancels(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder
) -> None:
    listeners.cancel(ack, click("U0ADM", blocks.CANCEL_ACTION), respond)
    assert respond.calls == [] and approvals.get("apr-u1").status is Status.CANCELLED


def test_a_strangers_cancel_is_refused_privately_and_audited(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder
) -> None:
    listeners.cancel(ack, click("U0A", blocks.CANCEL_ACTION), respond)
    assert ack.calls == [{}]
    why = "only the requester or an admin can cancel this request"
    assert respond.calls == [
        {
            "text": f"The request was not cancelled: {why}.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]
    refusal = refused_with(approvals, "cancel_refused")
    assert (refusal.actor, refusal.detail) == (
        "U0A",
        {"why": why, "code": "not_requester_or_admin"},
    )
    assert approvals.get("apr-u1").status is Status.PENDING


def test_a_strangers_cancel_with_a_broken_policy_document_is_refused_and_audited(
    approvals: Approvals, ack: Recorder, respond: Recorder
) -> None:
    def unreadable() -> tuple[str, ...]:
        raise ConfigError("policies.yaml, line 2: the key 'p-1' is given twice")

    approvals.admins = unreadable
    Listeners(approvals).cancel(ack, click("U0A", blocks.CANCEL_ACTION), respond)
    why = (
        "the deployment's policy document cannot be read, so nobody but the requester can "
        "cancel until an operator fixes it"
    )
    assert respond.texts == [f"The request was not cancelled: {why}."]
    assert refused_with(approvals, "cancel_refused").detail["code"] == "policies_unreadable"
    assert approvals.get("apr-u1").status is Status.PENDING


def test_a_cancel_of_what_is_not_an_id_is_told_with_the_value_escaped(
    listeners: Listeners, ack: Recorder, respond: Recorder
) -> None:
    listeners.cancel(ack, click("U0REQ", blocks.CANCEL_ACTION, "<!here>"), respond)
    (text,) = respond.texts
    assert text.startswith("The request was not cancelled: '&lt;!here&gt;' is not an approval id")


def test_a_cancel_that_could_not_be_written_asks_to_try_again(
    listeners: Listeners, store: Store, ack: Recorder, respond: Recorder
) -> None:
    store.commit_error = BackendError("DynamoDB failed: throttled")
    listeners.cancel(ack, click("U0REQ", blocks.CANCEL_ACTION), respond)
    assert respond.texts == ["The request could not be cancelled just now; please try again."]


# -- /signoff ---------------------------------------------------------------------------


def command(listeners: Listeners, text: str, user: str = "U0A") -> dict[str, Any]:
    """`/signoff <text>`: the one ephemeral answer it was acked with."""
    ack = Recorder()
    listeners.command(ack, {"command": "/signoff", "text": text, "user_id": user})
    (said,) = ack.calls
    assert said.pop("response_type") == "ephemeral"
    return said


def ids_in(shown: Any) -> list[str]:
    """The approval ids a list shows, in order (each is shown as `code`)."""
    return re.findall(r"`(apr-[a-z0-9-]+)`", json.dumps(shown))


def many(approvals: Approvals, count: int) -> None:
    """`count` more pending requests, due after apr-u1, in the order of their numbers."""
    for n in range(count):
        approvals.open(start_request(f"apr-m{n:02}", timeout=timedelta(hours=1, minutes=n)))


@pytest.mark.parametrize("text", ["", "list", "  LIST  "])
def test_signoff_list_shows_the_first_page_with_a_next_button(
    listeners: Listeners, approvals: Approvals, text: str
) -> None:
    many(approvals, 11)
    said = command(listeners, text)
    assert said["text"] == "10 pending approval(s)"
    (button,) = [e for b in said["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == blocks.NEXT_PAGE_ACTION
    assert ids_in(said["blocks"]) == ["apr-u1", *[f"apr-m{n:02}" for n in range(9)]]
    assert "Rotate &lt;!here&gt; keys" in json.dumps(said["blocks"])


def test_next_page_replaces_the_list_with_the_rest(
    listeners: Listeners, approvals: Approvals, ack: Recorder, respond: Recorder
) -> None:
    many(approvals, 11)
    first = command(listeners, "list")
    (cursor,) = [
        e["value"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    listeners.next_page(ack, click("U0A", blocks.NEXT_PAGE_ACTION, cursor), respond)
    assert ack.calls == [{}]
    (shown,) = respond.calls
    assert shown["text"] == "2 more pending approval(s)"
    assert (shown["response_type"], shown["replace_original"]) == ("ephemeral", True)
    assert ids_in(shown["blocks"]) == ["apr-m09", "apr-m10"]
    assert not [b for b in shown["blocks"] if b["type"] == "actions"]  # the last page


def test_next_page_when_the_store_fails_says_try_again(
    listeners: Listeners, store: Store, ack: Recorder, respond: Recorder
) -> None:
    store.read_error = BackendError("DynamoDB failed: read timeout")
    listeners.next_page(ack, click("U0A", blocks.NEXT_PAGE_ACTION, "x#apr-u1"), respond)
    assert ack.calls == [{}]
    assert respond.texts == ["signoff could not answer just now; try again."]


def test_signoff_mine_lists_what_waits_for_my_vote(
    listeners: Listeners, approvals: Approvals
) -> None:
    approvals.open(start_request("apr-else", approvers=("U0B",)))
    said = command(listeners, "mine", user="U0A")
    assert said["text"] == "1 request(s) waiting for your vote"
    assert set(ids_in(said["blocks"])) == {"apr-u1"}


def test_signoff_show_shows_one_request_without_buttons(
    listeners: Listeners, approvals: Approvals
) -> None:
    said = command(listeners, "show apr-u1 extra words")
    assert said["text"] == "Approval requested: Rotate &lt;!here&gt; keys"
    assert said["blocks"] == blocks.show_blocks(approvals.get("apr-u1"))
    assert not [b for b in said["blocks"] if b["type"] == "actions"]


def test_signoff_show_of_an_unknown_id_says_so(listeners: Listeners) -> None:
    assert command(listeners, "show apr-nope") == {
        "text": "no approval with id 'apr-nope'. Try `/signoff list`."
    }


@pytest.mark.parametrize("typed", ["<!channel>", "APR-U1", "apr-\u202e1"])
def test_signoff_show_of_what_is_not_an_id_does_not_echo_it(
    listeners: Listeners, typed: str
) -> None:
    assert command(listeners, f"show {typed}") == {
        "text": "That is not an approval id. Try `/signoff list`."
    }


@pytest.mark.parametrize("text", ["help", "show", "frobnicate apr-u1"])
def test_signoff_help_and_anything_unknown_answer_with_the_help(
    listeners: Listeners, text: str
) -> None:
    assert command(listeners, text) == {"text": blocks.HELP_TEXT}


def test_signoff_when_the_store_fails_says_try_again(listeners: Listeners, store: Store) -> None:
    store.read_error = BackendError("DynamoDB failed: read timeout")
    assert command(listeners, "list") == {"text": "signoff could not answer just now; try again."}


def test_signoff_without_a_user_is_malformed(listeners: Listeners) -> None:
    ack = Recorder()
    with pytest.raises(MalformedRequestError, match="user_id"):
        listeners.command(ack, {"command": "/signoff", "text": "list"})
    assert ack.calls == []


# -- the Home tab opened ------------------------------------------------------------------


def test_opening_the_home_tab_publishes_it(
    listeners: Listeners, approvals: Approvals, client: FakeSlack
) -> None:
    approvals.open(start_request("apr-asked", requester="U0A", approvers=("U0B",)))
    listeners.home_opened({"type": "app_home_opened", "user": "U0A", "tab": "home"}, client)
    (tab,) = published(client)
    assert tab["user_id"] == "U0A"
    waiting, asked = approvals.pending_for("U0A")
    assert tab["view"] == blocks.home_view(waiting, asked)
    assert ([a.id for a in waiting], [a.id for a in asked]) == (["apr-u1"], ["apr-asked"])


def test_opening_the_messages_tab_publishes_nothing(
    listeners: Listeners, client: FakeSlack
) -> None:
    listeners.home_opened({"type": "app_home_opened", "user": "U0A", "tab": "messages"}, client)
    assert client.calls == []
