"""Notices on the local page: the escalation group is not paged by the posted message, only
by the escalation's reply, which names it by its handle; a refused self-approval says so,
naming the request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import REQUESTER, SlackPage
from tests.e2e.test_dev_stack import Dev

pytestmark = pytest.mark.browser

ALICE, BOB = "U0ALICE", "U0BOB"
POLICIES = """
allow_ad_hoc: true
policies:
  oncall:
    approvers: [U0ALICE, U0BOB]
    min_approvals: 2
    escalate_after: 1m  # the least a policy takes: this test waits for it
    escalate_to: S0ONCALL
groups:
  S0ONCALL: [U0DAN, U0ERIN]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """`signoff dev` with a policy that escalates after a few seconds (this module only)."""
    home = tmp_path_factory.mktemp("browser-notices") / "state"
    home.mkdir()
    (home / "policies.yaml").write_text(POLICIES)
    dev = Dev(home)
    dev.start()
    yield dev
    dev.stop()


def start(slack: SlackPage, approval_id: str, *args: str) -> None:
    result = slack.stack.cli(
        "start", "--id", approval_id, "--title", "Rotate *prod* keys",
        "--requester", REQUESTER, "--timeout", "10m", "--json", *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    slack.stack.message_for(approval_id)


def test_the_escalation_group_is_paged_by_the_escalation_reply_not_by_the_post(
    slack_page: SlackPage,
) -> None:
    start(slack_page, "apr-page-esc", "--policy", "oncall")
    posted = slack_page.stack.message_for("apr-page-esc")
    assert "S0ONCALL" not in str(posted)  # no <!subteam^…> in what was posted
    slack_page.open(ALICE)
    message = slack_page.message("apr-page-esc")
    expect(message).to_contain_text("escalates")
    expect(message).not_to_contain_text("S0ONCALL")
    expect(message).not_to_contain_text("@oncall")

    replies = message.locator("button.replies")
    expect(replies).to_be_visible(timeout=120_000)  # the escalation's reply, when it fires
    replies.click()
    thread = slack_page.page.locator("#thread-feed")
    expect(thread).to_contain_text("Escalated to", timeout=30_000)
    # The group by its handle, as Slack shows a mention (`signoff dev` derives it from the
    # id), never its id.
    group = thread.locator(".mention[data-group='S0ONCALL']").first
    expect(group).to_have_text("@oncall")
    expect(thread).not_to_contain_text("S0ONCALL")
    assert [e["kind"] for e in slack_page.show("apr-page-esc")["audit"]].count("escalated") == 1


def test_a_refused_self_approval_is_worded_as_such(slack_page: SlackPage) -> None:
    start(slack_page, "apr-page-self", "--approver", REQUESTER, "--approver", ALICE)
    slack_page.open(REQUESTER)
    message = slack_page.message("apr-page-self")
    message.get_by_role("button", name="Approve").click()
    slack_page.page.get_by_role("alertdialog").get_by_role("button", name="Approve").click()
    told = slack_page.page.locator("#feed .message.ephemeral").filter(has_text="apr-page-self")
    expect(told).to_contain_text(
        "“Rotate *prod* keys” (apr-page-self) is your own request, and self-approval is off"
    )
    expect(told).to_contain_text(f"one of its approvers ({REQUESTER}, {ALICE}) must decide it")
    expect(told).not_to_contain_text("not an approver")
    assert slack_page.show("apr-page-self")["status"] == "pending"
