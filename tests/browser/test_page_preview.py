"""The local page as a preview of Slack: what an empty conversation says, dialogs at the
keyboard, permalinks that lead to their message, a feed that keeps its place, a phone's
width."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SlackPage

pytestmark = pytest.mark.browser


def test_an_empty_channel_says_how_to_fill_it(slack_page: SlackPage) -> None:
    slack_page.open(query="&channel=quiet-room")
    empty = slack_page.page.locator('#feed [data-empty="channel"]')
    expect(empty).to_contain_text("No messages yet.")
    expect(empty).to_contain_text("signoff start --title")
    expect(empty).to_contain_text("/signoff help")


def test_a_confirm_dialog_takes_the_keyboard_and_escape_closes_it(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff()
    slack_page.open()
    slack_page.message(approval_id).get_by_role("button", name="Approve").click()
    confirm = slack_page.page.get_by_role("alertdialog")
    expect(confirm).to_be_visible()
    focused = "document.activeElement && document.activeElement.closest('.dialog') !== null"
    assert slack_page.page.evaluate(focused)  # typing goes to the dialog, not the page
    for _ in range(5):  # Tab stays inside it
        slack_page.page.keyboard.press("Tab")
        assert slack_page.page.evaluate(focused)
    slack_page.page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    assert slack_page.show(approval_id)["status"] == "pending"  # Escape decided nothing


def test_a_permalink_opens_the_page_at_its_message(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    approval_id = kickoff()
    message = slack_page.stack.message_for(approval_id)
    ts = str(message["ts"])
    slack_page.page.goto(
        f"{slack_page.stack.url}/archives/{message['channel']}/p{ts.replace('.', '')}"
    )
    slack_page.page.wait_for_selector("body[data-ready]")
    focused = slack_page.page.locator("#feed .message.focused")
    expect(focused).to_have_count(1)
    expect(focused).to_contain_text(approval_id)
    expect(focused).to_be_in_viewport()


def test_the_feed_shows_the_newest_at_the_bottom_and_keeps_its_place(
    slack_page: SlackPage, kickoff: Callable[..., str]
) -> None:
    for _ in range(3):
        newest = kickoff()
    slack_page.open()
    expect(slack_page.message(newest)).to_be_in_viewport()
    at_bottom = "(() => { const f = document.getElementById('feed'); return f.scrollHeight - f.scrollTop - f.clientHeight < 40; })()"
    assert slack_page.page.evaluate(at_bottom)
    # Scrolled up to read, the next refresh (once a second) leaves the reader there.
    slack_page.page.evaluate("document.getElementById('feed').scrollTop = 0")
    later = kickoff()
    expect(slack_page.message(later)).to_have_count(1)
    assert slack_page.page.evaluate("document.getElementById('feed').scrollTop") == 0


def test_a_phone_width_has_no_sideways_scrolling(browser: Any, stack: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{stack.url}/?user=U0APPROVER")
        page.wait_for_selector("body[data-ready]")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        expect(page.locator("#feed")).to_be_visible()
        expect(page.locator("#composer")).to_be_visible()
    finally:
        context.close()
