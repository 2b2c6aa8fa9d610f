"""The Slack function's entry module pauses the garbage collector for its imports and
freezes what they made (a cold-start cost: docs/performance.md, section 4), and leaves the
collector as it found it. Each case runs in a fresh interpreter: the module is imported
once per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def entry(before: str) -> dict[str, int]:
    """Import slack_handler.app in a fresh interpreter after `before`; what gc says then."""
    program = (
        f"import gc, json, slack_handler\n{before}\n"  # the package: not the module's part
        "counted = lambda: sum(g['collections'] for g in gc.get_stats())\n"
        "collections = counted()\n"
        "import slack_handler.app\n"
        "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),"
        " 'collections': counted() - collections,"
        " 'handler': callable(slack_handler.app.handler)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_imports_are_frozen_and_the_collector_runs_again_after() -> None:
    found = entry("")
    assert found["handler"] is True
    assert found["enabled"] is True
    assert found["frozen"] > 20_000  # the import's objects
    # None while its imports run (one may come while the module itself is read): 100 without.
    assert found["collections"] <= 1


def test_a_collector_switched_off_before_stays_off() -> None:
    found = entry("gc.disable()")
    assert found["enabled"] is False
    assert found["frozen"] > 20_000
