"""The local Slack page in a real browser: what an approver sees and does, checked by the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from signoff.local.slack_standin.views import home_view
from tests.browser.conftest import APPROVER, REQUESTER, SlackPage, wait_for

pytestmark = pytest.mark.browser


def _thread_replies(slack: SlackPage, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.recorded()["messages"]
        if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
    ]


def test_approve_asks_for_confirmation_then_updates_the_message(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff()
    slack_page.open(APPROVER)
    message = slack_page.message(approval_id)
    expect(message).to_contain_text("Deploy api v2 to prod")

    message.get_by_role("button", name="Approve").click()
    confirm = slack_page.page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Approve this request?")
    expect(confirm).to_contain_text("Deploy api v2 to prod")
    confirm.get_by_role("button", name="Approve").click()

    expect(message).to_contain_text(f"Approved by @{APPROVER}")
    expect(message.locator("button:not(.replies)")).to_have_count(
        0
    )  # no Block Kit buttons once decided
    expect(message).to_contain_text("(edited)")
    record = slack_page.show(approval_id)
    assert record["status"] == "approved"
    assert record["decided_by"] == APPROVER

    # The outcome is replied in the request's thread (the notifier records it): the page
    # shows the parent and each reply in the thread pane.
    recorded = slack_page.stack.message_for(approval_id)
    replies = wait_for(lambda: _thread_replies(slack_page, recorded), timeout=15)
    assert replies, "no reply in the request's thread"
    message.locator("button.replies").click()
    thread = slack_page.page.locator("#thread-feed .message")
    expect(thread.first).to_contain_text("Deploy api v2 to prod")  # the parent
    expect(thread.nth(len(replies))).to_be_visible()  # and at least these replies
    expect(thread.last).to_contain_text("approved", ignore_case=True)


def test_reject_needs_a_reason_in_the_modal(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff()
    slack_page.open(APPROVER)
    message = slack_page.message(approval_id)
    message.get_by_role("button", name="Reject…").click()
    modal = slack_page.page.get_by_role("dialog", name="Reject request")
    expect(modal).to_contain_text("Why are you rejecting it?")
    submit = modal.get_by_role("button", name="Reject", exact=True)

    # Empty: refused in the modal, as Slack refuses an empty required input.
    submit.click()
    expect(modal.get_by_role("alert")).to_have_text("Please complete this required field.")
    # Blank: sent, and refused by signoff with an error under the input.
    modal.locator("textarea").fill("   ")
    submit.click()
    expect(modal.get_by_role("alert")).to_have_text("Not recorded: a rejection needs a reason.")
    assert slack_page.show(approval_id)["status"] == "pending"

    modal.locator("textarea").fill("change freeze until Monday")
    submit.click()
    expect(modal).to_have_count(0)  # closed once accepted
    expect(message).to_contain_text(f"Rejected by @{APPROVER}")
    expect(message).to_contain_text("change freeze until Monday")
    record = slack_page.show(approval_id)
    assert record["status"] == "rejected"
    assert record["reason"] == "change freeze until Monday"


def test_a_refused_click_is_told_only_to_the_one_who_clicked(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff()
    slack_page.open(APPROVER)
    slack_page.switch_user("U0STRANGER")
    message = slack_page.message(approval_id)
    message.get_by_role("button", name="Approve").click()
    slack_page.page.get_by_role("alertdialog").get_by_role("button", name="Approve").click()

    private = slack_page.page.locator("#feed .message.ephemeral").filter(
        has_text="you are not an approver"
    )
    expect(private).to_have_count(1)
    expect(private).to_contain_text("Only visible to you")
    record = slack_page.show(approval_id)
    assert record["status"] == "pending"
    assert any(
        event["kind"] == "vote_refused" and event["actor"] == "U0STRANGER"
        for event in record["audit"]
    ), record["audit"]

    slack_page.switch_user(APPROVER)  # the approver does not see the stranger's notice
    expect(slack_page.message(approval_id)).to_be_visible()
    expect(private).to_have_count(0)


def test_app_home_shows_what_signoff_published_or_an_empty_state(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    title = f"Home tab check {uuid.uuid4().hex[:8]}"
    approval_id = kickoff(title=title)
    slack_page.open(APPROVER)
    slack_page.page.click("#nav-home")
    expect(slack_page.page.locator("#pane-sub")).to_have_text("Home")
    # Opening Home sends app_home_opened; signoff may answer by publishing the tab.
    home = wait_for(lambda: home_view(slack_page.recorded(), APPROVER), timeout=3)
    feed = slack_page.page.locator("#feed")
    if home is not None:
        expect(feed.locator(".home")).to_contain_text(title)  # waiting for my vote
    else:
        expect(feed.locator("[data-empty=home]")).to_contain_text(
            f"signoff has not published a Home tab for {APPROVER}"
        )
    assert slack_page.show(approval_id)["status"] == "pending"


def test_the_signoff_box_answers_privately(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff()
    slack_page.open(APPROVER)
    private = slack_page.page.locator("#feed .message.ephemeral")
    before = private.count()

    slack_page.command("/signoff list")
    expect(private).to_have_count(before + 1)
    expect(private.last).to_contain_text("Pending approvals")
    expect(private.last).to_contain_text(approval_id)

    slack_page.command(f"/signoff show {approval_id}")
    expect(private).to_have_count(before + 2)
    expect(private.last).to_contain_text("Deploy api v2 to prod")
    assert slack_page.show(approval_id)["status"] == "pending"


HOSTILE = "<!channel> <!here> <@U123> <https://x|y> & <script>window.__pwned=1</script>"
HOSTILE_HTML = "<img src=x onerror=window.__pwned=1> <b>bold?</b>"


def test_user_text_is_shown_as_typed_and_never_becomes_markup(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff(
        "--description",
        f"{HOSTILE}\n{HOSTILE_HTML}",
        "--field",
        f"<!here> <@U123> &={HOSTILE_HTML}",
        title=HOSTILE,
    )
    slack_page.open(APPROVER)
    page = slack_page.page
    message = slack_page.message(approval_id)
    expect(message).to_contain_text(HOSTILE)
    expect(message).to_contain_text(HOSTILE_HTML)

    # Reject with the same text as the reason: the modal shows the title, the message the reason.
    message.get_by_role("button", name="Reject…").click()
    modal = page.get_by_role("dialog", name="Reject request")
    expect(modal).to_contain_text(HOSTILE)
    modal.locator("textarea").fill(f"{HOSTILE} {HOSTILE_HTML}")
    modal.get_by_role("button", name="Reject", exact=True).click()
    expect(message).to_contain_text(f"{HOSTILE} {HOSTILE_HTML}")
    typed = "<script>window.__pwned=1</script><img/src=x/onerror=window.__pwned=1>"
    slack_page.command(f"/signoff show {typed}")
    # Not an id: said so, without the typed text echoed back as anything.
    expect(page.locator("#feed .message.ephemeral").last).to_contain_text(
        "That is not an approval id"
    )

    # Nothing in that text became an element: no link, image, script, bold or mention.
    assert message.locator("a, img, script").count() == 0
    assert page.locator("img").count() == 0
    assert page.locator("script:not([src^='/assets/'])").count() == 0  # only the page's own
    assert page.locator("#feed b").filter(has_text="bold?").count() == 0
    assert page.locator(".mention.special").count() == 0
    assert page.locator(".mention").filter(has_text="@U123").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert slack_page.dialogs == []

    record = slack_page.show(approval_id)
    assert record["status"] == "rejected"
    assert record["title"] == HOSTILE
    assert record["reason"] == f"{HOSTILE} {HOSTILE_HTML}"


def _as_the_bot(slack: SlackPage, method: str, **args: Any) -> dict[str, Any]:
    """A Web API call to the stand-in with the stack's bot token, as signoff makes them."""
    import json
    import urllib.request

    token = json.loads((slack.stack.home / "local-secrets.json").read_text())["bot_token"]
    request = urllib.request.Request(
        f"{slack.stack.url}/api/{method}",
        data=json.dumps(args).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_threads_dms_home_and_buttons_in_private_messages_render_from_slack_shapes(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    """What Slack's API can carry, recorded by the stand-in, shows where Slack shows it."""
    approval_id = kickoff()
    parent = slack_page.stack.message_for(approval_id)
    _as_the_bot(
        slack_page, "chat.postMessage", channel=parent["channel"], thread_ts=parent["ts"],
        text="Reminder: <@U0APPROVER>, this is waiting for you & nobody else",
    )  # fmt: skip
    _as_the_bot(
        slack_page, "chat.postMessage", channel="D" + REQUESTER, text="Your request was posted"
    )
    button = {
        "type": "button", "action_id": "signoff.approve", "value": approval_id,
        "text": {"type": "plain_text", "text": "Approve"}, "style": "primary",
    }  # fmt: skip
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Waiting for your vote"}},
        {"type": "divider"},
        {"type": "actions", "block_id": "mine", "elements": [button]},
    ]
    _as_the_bot(
        slack_page, "chat.postEphemeral", channel=parent["channel"], user=APPROVER,
        text="Waiting for your vote", blocks=blocks,
    )  # fmt: skip
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Asked by me* `{approval_id}`"}}]}  # fmt: skip
    _as_the_bot(slack_page, "views.publish", user_id=REQUESTER, view=home)

    page = slack_page.page
    slack_page.open(APPROVER)
    message = slack_page.message(approval_id)
    message.locator("button.replies").click()
    reply = page.locator("#thread-feed .message").filter(has_text="Reminder")
    expect(reply).to_contain_text("Reminder: @U0APPROVER, this is waiting for you & nobody else")
    expect(reply.locator(".mention")).to_have_text("@U0APPROVER")
    expect(page.locator("#feed .message").filter(has_text="Reminder")).to_have_count(0)

    private = page.locator("#feed .message.ephemeral").filter(has_text="Waiting for your vote")
    expect(private.locator(".block-header")).to_have_text("Waiting for your vote")
    expect(private.locator("hr.block-divider")).to_have_count(1)
    expect(page.locator("#nav-dms button")).to_have_count(0)  # the requester's DM is theirs

    # A button in a private message acts like one in the channel: a signed click.
    private.get_by_role("button", name="Approve").click()
    expect(message).to_contain_text(f"Approved by @{APPROVER}")
    assert slack_page.show(approval_id)["status"] == "approved"

    slack_page.switch_user(REQUESTER)
    expect(private).to_have_count(0)
    page.locator("#nav-dms button").click()
    expect(page.locator("#feed")).to_contain_text("Your request was posted")
    page.click("#nav-home")
    # Opening the tab asks signoff for it (app_home_opened): its own Home replaces the one
    # published above, with the requester's section.
    expect(page.locator("#feed .home")).to_contain_text("What you asked for")
