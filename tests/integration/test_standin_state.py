"""What the Slack stand-in's state file holds after a stop, a crash point and a while.

The stand-in writes its state behind the calls (signoff/local/slack_standin.py): these
tests hold it to what it promises a restart — everything after `close()` or a crash
point's kill, and each change soon after it is made.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from signoff.local.slack_standin import SlackStandIn
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

pytestmark = pytest.mark.integration


def standin(path: Path) -> SlackStandIn:
    return SlackStandIn(
        path,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        events_url="http://127.0.0.1:9/slack/events",
        base_url="http://127.0.0.1:9",
    )


def post(slack: SlackStandIn, text: str) -> str:
    answer = slack.api("chat.postMessage", BOT_TOKEN, {"channel": "approvals", "text": text})
    assert answer["ok"], answer
    return str(answer["ts"])


def saved_texts(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [m["text"] for m in json.loads(path.read_text())["messages"]]


def test_close_leaves_every_call_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "slack.json"
    first = standin(path)
    texts = [f"message {n}" for n in range(300)]
    stamps = [post(first, text) for text in texts]
    first.close()

    assert saved_texts(path) == texts
    again = standin(path).conversation()
    assert [m["ts"] for m in again["messages"]] == stamps
    assert len(again["calls"]) == 300


def test_a_change_reaches_the_file_without_a_stop(tmp_path: Path) -> None:
    path = tmp_path / "slack.json"
    slack = standin(path)
    post(slack, "first")
    post(slack, "second")
    deadline = time.monotonic() + 10
    while saved_texts(path) != ["first", "second"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert saved_texts(path) == ["first", "second"]


# Posts, then dies at once the way a crash point does (faults.die), with the stand-in's
# flush registered as the local stack registers it.
DYING = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from signoff.local import faults
    from tests.integration.test_standin_state import post, standin

    slack = standin(Path(sys.argv[1]))
    faults.on_death(slack.flush)
    post(slack, "said before the kill")
    faults.die()
    """
)


def test_a_crash_point_kill_keeps_what_the_standin_answered(tmp_path: Path) -> None:
    path = tmp_path / "slack.json"
    child = subprocess.run(
        [sys.executable, "-c", DYING, str(path)], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert saved_texts(path) == ["said before the kill"]
