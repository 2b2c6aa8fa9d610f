"""What the Slack stand-in's journal holds after a stop, a SIGKILL from outside, and damage.

The stand-in appends each change to its journal before it answers the call that made it
(signoff/local/slack_standin/state.py, signoff/local/journal.py): these tests hold it to that —
whatever a caller was answered is there after a `kill -9` at any instant, with no help
from the dying process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from signoff.local.journal import JournalError
from signoff.local.slack_standin.standin import SlackStandIn
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


def texts(slack: SlackStandIn) -> list[str]:
    return [m["text"] for m in slack.conversation()["messages"]]


def test_close_and_reopen_keeps_every_call(tmp_path: Path) -> None:
    path = tmp_path / "slack.jsonl"
    first = standin(path)
    posted = [f"message {n}" for n in range(300)]
    stamps = [post(first, text) for text in posted]
    first.api("chat.update", BOT_TOKEN, {"channel": "approvals", "ts": stamps[7], "text": "x"})
    first.close()

    again = standin(path).conversation()
    assert [m["ts"] for m in again["messages"]] == stamps
    assert [m["text"] for m in again["messages"]] == [*posted[:7], "x", *posted[8:]]
    assert again["messages"][7]["edits"] == 1
    assert len(again["calls"]) == 301


def test_each_call_appends_what_it_changed_not_the_state(tmp_path: Path) -> None:
    """O(1) per call: the 500th post adds as many bytes to the file as the 1st."""
    path = tmp_path / "slack.jsonl"
    slack = standin(path)
    grown = []
    for n in range(500):
        before = path.stat().st_size
        post(slack, f"message {n:04d}")
        grown.append(path.stat().st_size - before)
    assert max(grown[-10:]) <= grown[0] + 16, (grown[0], grown[-10:])


# Posts from four threads, printing each ts once the stand-in answered it, until killed.
POSTING = textwrap.dedent(
    """
    import sys
    import threading
    from pathlib import Path

    from tests.conftest import BOT_TOKEN
    from tests.integration.test_standin_state import post, standin

    slack = standin(Path(sys.argv[1]))
    print("ready", flush=True)
    lock = threading.Lock()

    def run(worker):
        n = 0
        while True:
            ts = post(slack, f"{worker}-{n}")
            if n % 3 == 0:
                slack.api(
                    "chat.update",
                    BOT_TOKEN,
                    {"channel": "approvals", "ts": ts, "text": f"{worker}-{n} edited"},
                )
                ts += " edited"
            with lock:
                print(ts, flush=True)
            n += 1

    for worker in range(4):
        threading.Thread(target=run, args=(worker,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_a_sigkill_from_outside_at_a_random_instant_loses_nothing_answered(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("SIGNOFF_KILL_SEED") or random.randrange(1 << 30))
    print(f"SIGNOFF_KILL_SEED={seed}")
    rng = random.Random(seed)
    lost: dict[int, list[str]] = {}
    for round_no in range(3):
        path = tmp_path / f"slack-{round_no}.jsonl"
        child = subprocess.Popen(
            [sys.executable, "-c", POSTING, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr
        answered: list[str] = []
        reader = threading.Thread(target=answered.extend, args=(child.stdout,))
        reader.start()
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(child.pid, signal.SIGKILL)  # from outside: nothing in the child runs after
        child.wait()
        reader.join()
        assert child.returncode == -signal.SIGKILL
        assert len(answered) > 20, "the child hardly ran"
        found = {m["ts"]: m for m in standin(path).conversation()["messages"]}
        missing = []
        for line in answered:
            ts, _, edited = line.strip().partition(" ")
            if ts not in found or (edited and not found[ts]["text"].endswith("edited")):
                missing.append(line.strip())
        print(f"round {round_no}: {len(answered)} answered, {len(missing)} lost to SIGKILL")
        if missing:
            lost[round_no] = [f"{len(missing)} of {len(answered)}", *missing[:5]]
    assert not lost, f"answered, then lost to SIGKILL (seed {seed}): {lost}"


def test_a_torn_last_line_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "slack.jsonl"
    slack = standin(path)
    post(slack, "kept")
    slack.close()
    with path.open("ab") as journal:  # a write cut short by a kill: never answered
        journal.write(b'{"op":"append","key":"messages","value":{"channel":"appr')

    assert texts(standin(path)) == ["kept"]
    assert path.read_bytes().endswith(b"\n")  # compacted at start: the torn line is gone


def test_a_damaged_line_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "slack.jsonl"
    slack = standin(path)
    post(slack, "one")
    post(slack, "two")
    slack.close()
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"\x00garbled\xff" + lines[2][10:]
    path.write_bytes(b"\n".join(lines))

    with pytest.raises(JournalError) as refused:
        standin(path)
    assert str(path) in str(refused.value)
    assert "line 3" in str(refused.value)
    assert "move it aside" in str(refused.value)


def test_an_earlier_versions_slack_json_is_migrated(tmp_path: Path) -> None:
    legacy = tmp_path / "slack.json"
    message: dict[str, Any] = {
        "channel": "approvals",
        "ts": "1700000000.000100",
        "thread_ts": None,
        "user": "U0SIGNOFFBOT",
        "text": "from before",
        "blocks": [],
        "metadata": None,
        "edits": 0,
    }
    legacy.write_text(json.dumps({"messages": [message], "calls": [], "homes": {}}))

    slack = standin(tmp_path / "slack.jsonl")
    assert texts(slack) == ["from before"]
    assert not legacy.exists()
    newer = post(slack, "after")
    assert float(newer) > float(message["ts"])
    slack.close()
    assert texts(standin(tmp_path / "slack.jsonl")) == ["from before", "after"]


def test_a_garbled_slack_json_is_refused_naming_it(tmp_path: Path) -> None:
    legacy = tmp_path / "slack.json"
    legacy.write_text('{"messages": [')
    with pytest.raises(JournalError) as refused:
        standin(tmp_path / "slack.jsonl")
    assert str(legacy) in str(refused.value)
    assert legacy.exists()  # left for the person to look at
