"""Browser tests: the local Slack page in headless Chromium, against `signoff dev`.

One `signoff dev` (a subprocess, as a developer runs it) and one browser serve the whole
module; each test kicks off its own approval and opens its own page. Playwright drives
Debian's Chromium (`/usr/bin/chromium`, installed by `make setup`): its own browser
download does not work offline.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dev_stack import Dev

CHROMIUM = Path(os.environ.get("SIGNOFF_CHROMIUM", "/usr/bin/chromium"))
APPROVER = "U0APPROVER"
REQUESTER = "U0REQUESTER"
# How long an `expect` waits for the page to show something. What a vote changes reaches
# the page through the doorbell, the workflow, SNS, the notifier's chat.update and the
# page's poll: under a second on a quiet machine, more than Playwright's default 5 s on a
# loaded 2-core one. The wait ends as soon as the page shows it.
EXPECT_TIMEOUT_MS = 30_000


def _unavailable(reason: str) -> None:
    """Skip where the browser cannot be had; on CI the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: run `make setup`)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: run `make setup`")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    if not CHROMIUM.exists():
        _unavailable(
            f"no Chromium at {CHROMIUM}: `make setup` installs it with apt-get "
            "(apt-get install chromium), or set SIGNOFF_CHROMIUM"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    dev = Dev(tmp_path_factory.mktemp("browser") / "state")
    dev.start()
    yield dev
    dev.stop()


class SlackPage:
    """The page as one person sees it, with what the stand-in recorded and the CLI to check."""

    def __init__(self, page: Any, stack: Dev):
        self.page = page
        self.stack = stack
        self.dialogs: list[str] = []  # window.alert/confirm: the page never opens one
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, user: str = APPROVER, query: str = "") -> None:
        self.page.goto(f"{self.stack.url}/?user={user}{query}")
        self.page.wait_for_selector("body[data-ready]")

    def message(self, approval_id: str) -> Any:
        """The channel message that carries `approval_id`."""
        return self.page.locator("#feed .message:not(.ephemeral)").filter(has_text=approval_id)

    def switch_user(self, user: str) -> None:
        self.page.fill("#user-other", user)
        self.page.click("#user-form button")
        self.page.wait_for_function(
            "(user) => new URLSearchParams(location.search).get('user') === user", arg=user
        )

    def command(self, text: str) -> None:
        self.page.fill("#composer-text", text)
        self.page.press("#composer-text", "Enter")

    def recorded(self) -> dict[str, Any]:
        return dict(self.stack.get("/local/messages"))

    def show(self, approval_id: str) -> dict[str, Any]:
        """The record as `signoff show ID --json` prints it, against the same stack."""
        return self.stack.show(approval_id)


@pytest.fixture
def slack_page(browser: Any, stack: Dev) -> Iterator[SlackPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield SlackPage(page, stack)
    context.close()
    assert errors == [], f"the page raised: {errors}"


@pytest.fixture
def kickoff(stack: Dev) -> Callable[..., str]:
    """Start an approval through the CLI (as a pipeline would); returns its id."""

    def start(*extra: str, title: str = "Deploy api v2 to prod") -> str:
        result = stack.cli(
            "start",
            "--title",
            title,
            "--requester",
            REQUESTER,
            "--approver",
            APPROVER,
            "--timeout",
            "30m",
            "--json",
            *extra,
        )
        assert result.returncode == 0, result.stderr
        approval_id = str(json.loads(result.stdout)["id"])
        stack.message_for(approval_id)  # posted to the channel by the notifier
        return approval_id

    return start


def wait_for(check: Callable[[], Any], timeout: float = 10, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; that value, or None at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
