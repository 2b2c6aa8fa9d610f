"""The decision card on the local page: the quorum tracker, an expiry after a partial
quorum, a title shown as typed, and a cancel with its reason, as approvers would see them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import REQUESTER, SlackPage, wait_for

pytestmark = pytest.mark.browser

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


def start(slack: SlackPage, approval_id: str, *extra: str, title: str = "Deploy api v2") -> None:
    """A 2-of-3 (Alice, Bob, Carol) started through the CLI, as a pipeline would."""
    result = slack.stack.cli(
        "start", "--id", approval_id, "--title", title, "--requester", REQUESTER,
        "--approver", ALICE, "--approver", BOB, "--approver", CAROL,
        "--min-approvals", "2", "--field", "env=prod", "--json", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    slack.stack.message_for(approval_id)


def approve(slack: SlackPage, user: str, approval_id: str, consequence: str) -> Any:
    slack.switch_user(user)
    message = slack.message(approval_id)
    message.get_by_role("button", name="Approve").click()
    confirm = slack.page.get_by_role("alertdialog")
    expect(confirm).to_contain_text(consequence)  # what this vote does
    confirm.get_by_role("button", name="Approve").click()
    return message


def test_the_tracker_follows_a_two_of_three_through_alice_then_bob(slack_page: SlackPage) -> None:
    start(slack_page, "apr-card-quorum")
    slack_page.open(ALICE)
    message = slack_page.message("apr-card-quorum")
    tracker = message.locator('[data-block-id="signoff.tracker"]')
    expect(tracker).to_contain_text("0 of 2 approvals")

    approve(slack_page, ALICE, "apr-card-quorum", "1 more approval needed after yours.")
    expect(tracker).to_contain_text("1 of 2 approvals")
    expect(tracker).to_contain_text(f"@{ALICE} approved")
    expect(tracker).to_contain_text(f"May still vote: @{BOB}, @{CAROL}")

    approve(slack_page, BOB, "apr-card-quorum", "Your approval completes the 2-of-3 rule")
    expect(tracker).to_contain_text(f"Approved by @{ALICE} and @{BOB}")
    # Both votes stay on the card, each with its time; nobody is asked any more.
    expect(tracker.locator("li")).to_have_count(2)
    expect(tracker.locator("li").nth(0)).to_contain_text(f"@{ALICE} approved")
    expect(tracker.locator("li").nth(1)).to_contain_text(f"@{BOB} approved")
    expect(tracker.locator("li .date")).to_have_count(2)
    expect(tracker).not_to_contain_text("May still vote")
    record = slack_page.show("apr-card-quorum")
    assert record["status"] == "approved"
    assert [v["user"] for v in record["votes"]] == [ALICE, BOB]


def test_an_expiry_after_a_partial_quorum_names_alice(slack_page: SlackPage) -> None:
    start(slack_page, "apr-card-expiry", "--timeout", "8s")
    slack_page.open(ALICE)
    approve(slack_page, ALICE, "apr-card-expiry", "1 more approval needed after yours.")
    tracker = slack_page.message("apr-card-expiry").locator('[data-block-id="signoff.tracker"]')
    expect(tracker).to_contain_text("Expired", timeout=60_000)
    expect(tracker).to_contain_text(f"with 1 of 2 approvals, from @{ALICE}")
    expect(tracker).not_to_contain_text("nobody")
    assert slack_page.show("apr-card-expiry")["status"] == "expired"


def test_a_title_with_markup_is_shown_as_typed(slack_page: SlackPage) -> None:
    title = "Run migration 0042_*_backfill on *prod*"
    start(slack_page, "apr-card-title", title=title)
    slack_page.open(ALICE)
    message = slack_page.message("apr-card-title")
    expect(message.locator(".block-header")).to_have_text(f"⏳ {title}")
    assert message.locator("b, i, s").filter(has_text="prod").count() == 0
    message.get_by_role("button", name="Approve").click()
    expect(slack_page.page.get_by_role("alertdialog")).to_contain_text(title)


def test_the_requester_cancels_from_the_menu_with_a_reason(slack_page: SlackPage) -> None:
    start(slack_page, "apr-card-cancel")
    slack_page.open(REQUESTER)
    message = slack_page.message("apr-card-cancel")
    message.get_by_role("button", name="More actions").click()
    message.get_by_role("menuitem", name="Cancel request…").click()
    confirm = slack_page.page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Cancel this request?")
    expect(confirm.get_by_role("button", name="Cancel request")).to_have_class("sk danger")
    confirm.get_by_role("button", name="Cancel request").click()

    dialog = slack_page.page.get_by_role("dialog", name="Cancel request")
    expect(dialog).to_contain_text("Deploy api v2")
    reason = "wrong ticket\nsee INC-42 *first*"
    dialog.locator("textarea").fill(reason)
    dialog.get_by_role("button", name="Cancel request", exact=True).click()
    expect(dialog).to_have_count(0)

    tracker = message.locator('[data-block-id="signoff.tracker"]')
    expect(tracker).to_contain_text(f"Cancelled by @{REQUESTER}")
    expect(tracker.locator("blockquote")).to_have_text(reason)  # every line, as typed
    record = slack_page.show("apr-card-cancel")
    assert (record["status"], record["reason"]) == ("cancelled", reason)
    cancelled = [e for e in record["audit"] if e["kind"] == "cancelled"]
    assert cancelled and cancelled[0]["detail"]["reason"] == reason
    posted = wait_for(lambda: json.dumps(slack_page.stack.message_for("apr-card-cancel")))
    assert json.dumps(reason)[1:-1] in posted
