"""No secret leaves the process: a full approval on `signoff dev`, every log at DEBUG.

The bot token and the signing secret must appear nowhere in what the run leaves
behind: the dev stack's stdout and stderr, the CLI's output, the recorded Slack
conversation (every Web API call's arguments), the durable execution store, and the
stand-in's saved state. Error paths run too: a forged request, a stale one, a refused
click, a slash command.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from signoff.local.dynamodb import free_port
from tests.e2e.test_dev_stack import SECRET, Dev, click, kickoff
from tests.integration.slack_events import block_actions

pytestmark = pytest.mark.e2e

# `signoff dev` with the root logger at DEBUG: every library's debug lines reach stderr.
DEBUG_DEV = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s %(message)s')\n"
    "from signoff.cli import main\n"
    "sys.argv = ['signoff', *sys.argv[1:]]\n"
    "main()\n"
)


class DebugDev(Dev):
    """The e2e `Dev` helper, with stdout and stderr kept in files and DEBUG logging on."""

    def __init__(self, home: Path):
        super().__init__(home)
        self.env.update({"POWERTOOLS_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "DEBUG"})
        self.stdout = home.parent / "dev.stdout"
        self.stderr = home.parent / "dev.stderr"

    def start(self, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env["SIGNOFF_LOCAL_URL"] = self.url
        with self.stdout.open("ab") as out, self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-c", DEBUG_DEV),
                    "dev",
                    "--port",
                    str(self.port),
                    "--home",
                    str(self.home),
                ],
                env=self.env,
                stdout=out,
                stderr=err,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr.read_text()[-2000:]
            try:
                self.get("/local/health")
                return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError("signoff dev did not come up")


def forms(secret: str) -> list[str]:
    """The secret as it would appear written plainly, JSON-escaped or URL-encoded."""
    return sorted({secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret, safe="")})


def occurrences(text: str, secret: str) -> int:
    return sum(text.count(form) for form in forms(secret))


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DebugDev]:
    stack = DebugDev(tmp_path / "state")
    stack.start()
    yield stack
    stack.stop()


def test_a_full_approval_at_debug_leaks_no_secret(dev: DebugDev, record_property) -> None:
    outputs: dict[str, str] = {}
    cli = kickoff(dev, "apr-sec")
    message = dev.message_for("apr-sec")

    forged = block_actions(
        "U0APPROVER",
        "signoff.approve",
        "apr-sec",
        f"{dev.url}/local/respond/none",
        channel=message["channel"],
        ts=message["ts"],
    )
    assert dev.slack(forged, secret="forged-" + SECRET) == 401
    assert dev.slack(forged, timestamp=int(time.time()) - 600) == 401  # stale: rejected
    assert click(dev, "U0SOMEONE", "signoff.approve", "apr-sec", message) == 200  # refused
    command = dev.post("/local/command", {"user": "U0SOMEONE", "text": "show apr-sec"})
    assert command["status"] == 200
    rejecting = dev.post(
        "/local/click",
        {
            "user": "U0APPROVER",
            "channel": message["channel"],
            "ts": message["ts"],
            "action_id": "signoff.reject",
        },
    )  # opens the reason modal (views.open), left unsubmitted
    assert rejecting["status"] == 200
    assert click(dev, "U0APPROVER", "signoff.approve", "apr-sec", message) == 200

    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    outputs["start --wait"] = out + err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = dev.show("apr-sec")
        if shown["workflow"]["status"] == "succeeded" and "message_updated" in [
            e["kind"] for e in shown["audit"]
        ]:
            break
        time.sleep(0.5)
    kinds = [e["kind"] for e in shown["audit"]]
    assert {"vote_refused", "decided", "message_updated"} <= set(kinds)
    for args in (["show", "apr-sec", "--json"], ["audit", "apr-sec", "--json"], ["list"]):
        result = dev.cli(*args)
        outputs[" ".join(args)] = result.stdout + result.stderr
    outputs["/local/messages"] = json.dumps(dev.get("/local/messages"))
    outputs["/local/workflows/apr-sec"] = json.dumps(dev.get("/local/workflows/apr-sec"))
    dev.stop()

    keys = json.loads((dev.home / "local-secrets.json").read_text())
    # SLACK_SIGNING_SECRET wins over the file's own: the stack signs and verifies with it.
    secrets = {"bot token": keys["bot_token"], "signing secret": SECRET}
    outputs["dev stdout"] = dev.stdout.read_text(errors="replace")
    outputs["dev stderr"] = dev.stderr.read_text(errors="replace")
    for path in dev.home.rglob("*"):
        if path.is_file() and path.name != "local-secrets.json":  # the table, durable state
            outputs[str(path.relative_to(dev.home))] = path.read_bytes().decode("latin-1")

    assert "DEBUG" in outputs["dev stderr"]  # the run really logged at DEBUG
    assert "apr-sec" in outputs["/local/messages"]
    assert any("durable" in name for name in outputs)
    found = {
        (what, where): occurrences(text, secret)
        for what, secret in secrets.items()
        for where, text in outputs.items()
        if occurrences(text, secret)
    }
    record_property("searched_chars", {where: len(text) for where, text in outputs.items()})
    # The search itself finds a secret planted in a copy of what was searched.
    for secret in secrets.values():
        for where, text in outputs.items():
            planted = f"{text} Authorization: Bearer {secret} {json.dumps({'s': secret})}"
            assert occurrences(planted, secret) == occurrences(text, secret) + 2, where
    assert found == {}, f"secrets found (what, where) -> count: {found}"
