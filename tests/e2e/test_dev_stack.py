"""The whole path on `signoff dev`, run as a subprocess, driven like a user and Slack would.

CLI kickoff → message in the Slack stand-in → a signed click to /slack/events →
the durable workflow resumes → the CLI exits with the outcome.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.local.dynamodb import free_port
from signoff.local.slack_standin.acts import signed_headers
from tests.integration.slack_events import block_actions

pytestmark = pytest.mark.e2e

SECRET = "e2e-signing-secret-0123456789abcdef"
SIGNOFF = [sys.executable, "-m", "signoff.cli"]
# `signoff dev` starts DynamoDB Local (a JVM: up to 120 s on a loaded machine, see
# DynamoDBLocal.start), moto and the emulators before /local/health answers: 37 s at load
# average 15 on 2 cores, over 60 s at 25. The wait ends when it answers or the process exits.
STARTUP_SECONDS = 180


class Dev:
    def __init__(self, home: Path, port: int | None = None):
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET, "SIGNOFF_LOCAL_URL": self.url}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra_env: str) -> None:
        """Start `signoff dev`; `extra_env` is for this run of it only (not the CLI's)."""
        self.proc = subprocess.Popen(
            [*SIGNOFF, "dev", "--port", str(self.port), "--home", str(self.home)],
            env={**self.env, **extra_env},
            stdout=subprocess.DEVNULL,
            stderr=open(self.home.parent / f"dev-{self.port}.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "signoff dev exited at start"
            try:
                self.get("/local/health")
                return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError("signoff dev did not come up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def post(self, path: str, data: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def slack(self, body: str, secret: str = SECRET, timestamp: int | None = None) -> int:
        """POST a Slack request to the Bolt endpoint; returns the HTTP status."""
        request = urllib.request.Request(
            self.url + "/slack/events",
            data=body.encode(),
            headers=signed_headers(secret, body, timestamp),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SIGNOFF, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start_cli(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*SIGNOFF, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def message_for(self, approval_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.get("/local/messages")["messages"]:
                metadata = message.get("metadata") or {}
                request = metadata.get("event_type") == "signoff_request"
                if request and metadata["event_payload"]["id"] == approval_id:
                    return dict(message)
            time.sleep(0.2)
        raise TimeoutError(f"no Slack message for {approval_id}")

    def show(self, approval_id: str) -> dict[str, Any]:
        result = self.cli("show", approval_id, "--json")
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """One stack for the module's tests (each start costs seconds): each test works on its
    own approval ids; what changes the stack itself (faults) takes `own_dev`."""
    stack = Dev(tmp_path_factory.mktemp("dev") / "state")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def own_dev(tmp_path: Path) -> Iterator[Dev]:
    stack = Dev(tmp_path / "state")
    stack.start()
    yield stack
    stack.stop()


def kickoff(dev: Dev, approval_id: str, timeout: str = "10m") -> subprocess.Popen[str]:
    return dev.start_cli(
        "start",
        "--id",
        approval_id,
        "--title",
        "Deploy api v2 to prod",
        "--requester",
        "U0REQUESTER",
        "--approver",
        "U0APPROVER",
        "--field",
        "env=prod",
        "--timeout",
        timeout,
        "--wait",
    )


def click(dev: Dev, user: str, action: str, approval_id: str, message: dict[str, Any]) -> int:
    body = block_actions(
        user,
        action,
        approval_id,
        f"{dev.url}/local/respond/none",
        channel=message["channel"],
        ts=message["ts"],
    )
    return dev.slack(body)


def test_approve_from_kickoff_to_click_to_exit_0(dev: Dev) -> None:
    cli = kickoff(dev, "apr-e2e-ok")
    message = dev.message_for("apr-e2e-ok")
    assert dev.show("apr-e2e-ok")["status"] == "pending"

    assert click(dev, "U0APPROVER", "signoff.approve", "apr-e2e-ok", message) == 200
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "approved by U0APPROVER" in out

    shown = dev.show("apr-e2e-ok")
    assert shown["status"] == "approved"
    assert shown["votes"][0]["user"] == "U0APPROVER"
    # The CLI exits on the decision; the workflow notices it at its next poll, then
    # publishes the outcome, and the notifier updates the message: wait for all of that.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        shown["workflow"]["status"] == "succeeded"
        and "message_updated" in [e["kind"] for e in shown["audit"]]
    ):
        time.sleep(0.5)
        shown = dev.show("apr-e2e-ok")
    assert shown["workflow"]["status"] == "succeeded"
    kinds = [e["kind"] for e in shown["audit"]]
    assert kinds[:2] == ["created", "notified"]
    assert {"voted", "decided", "message_updated"} <= set(kinds)

    updated = dev.message_for("apr-e2e-ok")
    assert updated["edits"] >= 1
    assert "Approved" in json.dumps(updated["blocks"])
    assert not [b for b in updated["blocks"] if b["type"] == "actions"]


def test_reject_with_a_reason_exits_3(dev: Dev) -> None:
    cli = kickoff(dev, "apr-e2e-no")
    message = dev.message_for("apr-e2e-no")
    # Through the stand-in, so the trigger_id it issued opens the modal.
    dev.post(
        "/local/click",
        {
            "user": "U0APPROVER",
            "channel": message["channel"],
            "ts": message["ts"],
            "action_id": "signoff.reject",
        },
    )
    views = [
        v
        for v in dev.get("/local/messages")["views"]
        if v["open"] and "apr-e2e-no" in json.dumps(v)
    ]
    assert len(views) == 1
    submitted = dev.post(
        f"/local/views/{views[0]['id']}/submit",
        {"user": "U0APPROVER", "values": {"reason": {"reason": "change freeze until Monday"}}},
    )
    assert submitted["status"] == 200
    _out, err = cli.communicate(timeout=60)
    assert cli.returncode == 3, err
    shown = dev.show("apr-e2e-no")
    assert shown["status"] == "rejected"
    assert shown["reason"] == "change freeze until Monday"
    assert "change freeze until Monday" in json.dumps(dev.message_for("apr-e2e-no")["blocks"])


def test_deadline_exits_4(dev: Dev) -> None:
    started = time.monotonic()
    cli = kickoff(dev, "apr-e2e-late", timeout="3s")
    _out, err = cli.communicate(timeout=60)
    assert cli.returncode == 4, err
    assert time.monotonic() - started < 30
    shown = dev.show("apr-e2e-late")
    assert shown["status"] == "expired"
    assert "expired" in [e["kind"] for e in shown["audit"]]


def test_forged_and_stale_signatures_get_401_and_change_nothing(dev: Dev) -> None:
    result = dev.cli(
        "start",
        "--id",
        "apr-e2e-sig",
        "--title",
        "t",
        "--approver",
        "U0APPROVER",
        "--requester",
        "U0R",
    )
    assert result.returncode == 0, result.stderr
    message = dev.message_for("apr-e2e-sig")
    body = block_actions(
        "U0APPROVER", "signoff.approve", "apr-e2e-sig", "http://x", ts=message["ts"]
    )
    assert dev.slack(body, secret="not-the-secret") == 401
    assert dev.slack(body, timestamp=int(time.time()) - 600) == 401
    assert dev.show("apr-e2e-sig")["status"] == "pending"


def test_kill_and_restart_while_waiting_loses_nothing(tmp_path: Path) -> None:
    first = Dev(tmp_path / "state")
    first.start()
    try:
        result = first.cli(
            "start",
            "--id",
            "apr-e2e-crash",
            "--title",
            "Survive a crash",
            "--approver",
            "U0APPROVER",
            "--requester",
            "U0REQUESTER",
            "--timeout",
            "10m",
        )
        assert result.returncode == 0, result.stderr
        message = first.message_for("apr-e2e-crash")
        time.sleep(2)  # the workflow is now in its polling wait
        first.kill()
    finally:
        first.stop()

    second = Dev(tmp_path / "state")
    second.start()
    try:
        assert second.get("/local/health")["recovered_executions"] == 1
        assert second.show("apr-e2e-crash")["status"] == "pending"
        # The same message, kept across the restart, still takes the click.
        assert second.message_for("apr-e2e-crash")["ts"] == message["ts"]
        assert click(second, "U0APPROVER", "signoff.approve", "apr-e2e-crash", message) == 200
        waited = second.cli("wait", "apr-e2e-crash", timeout=60)
        assert waited.returncode == 0, waited.stderr
        deadline = time.monotonic() + 30
        shown = second.show("apr-e2e-crash")
        while time.monotonic() < deadline and not (
            shown["workflow"]["status"] == "succeeded"
            and "message_updated" in [e["kind"] for e in shown["audit"]]
        ):
            time.sleep(0.5)
            shown = second.show("apr-e2e-crash")
        assert shown["workflow"]["status"] == "succeeded"  # the workflow itself resumed
        assert "message_updated" in [e["kind"] for e in shown["audit"]]
    finally:
        second.stop()


def test_restart_at_once_on_the_same_port_after_a_kill_with_a_client_connected(
    tmp_path: Path,
) -> None:
    first = Dev(tmp_path / "state")
    first.start()
    client = socket.create_connection(("127.0.0.1", first.port))
    try:
        time.sleep(0.3)  # accepted: the server side of it outlives the kill (FIN_WAIT/TIME_WAIT)
        first.kill()
        second = Dev(tmp_path / "state", port=first.port)
        second.start()
        try:
            assert second.get("/local/health")["ok"] is True
        finally:
            second.stop()
    finally:
        client.close()
        first.stop()

    # A port something really listens on is still refused, with a clear message.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = Dev(tmp_path / "other", port=busy.getsockname()[1])
        refused = taken.cli("dev", "--port", str(taken.port), "--home", str(taken.home))
        assert refused.returncode == 1
        assert "is in use" in refused.stderr


def test_standin_faults_history_metadata_and_minted_urls(own_dev: Dev) -> None:
    dev = own_dev  # its faults would fail other approvals' Slack calls
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    token = json.loads((dev.home / "local-secrets.json").read_text())["bot_token"]
    slack = WebClient(token=token, base_url=f"{dev.url}/api/")

    def form_call(method: str, **form: str) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(
            f"{dev.url}/api/{method}",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())

    # Metadata as JSON (what slack_sdk sends) and as a JSON string in form data.
    mark = {"event_type": "signoff_request", "event_payload": {"id": "apr-1"}}
    first = slack.chat_postMessage(channel="C1", text="one", metadata=mark)["ts"]
    _, _, second = form_call("chat.postMessage", channel="C1", text="two", metadata="{}")
    slack.chat_postMessage(channel="C1", text="a reply", thread_ts=first)
    slack.chat_postMessage(channel="C2", text="elsewhere")

    newest = slack.conversations_history(channel="C1", limit=1)
    assert [m["text"] for m in newest["messages"]] == ["two"] and newest["has_more"]
    history = slack.conversations_history(channel="C1", limit=100)["messages"]
    assert [(m["text"], m["ts"], m["metadata"]) for m in history] == [
        ("two", second["ts"], {}),
        ("one", first, mark),
    ]

    # The next two posts are rate limited, the way Slack does it; then all is well.
    dev.post(
        "/local/faults",
        {"method": "chat.postMessage", "error": "ratelimited", "count": 2, "retry_after": 3},
    )
    for _ in range(2):
        status, headers, body = form_call("chat.postMessage", channel="C1", text="x")
        assert (status, headers.get("Retry-After"), body) == (
            429,
            "3",
            {"ok": False, "error": "ratelimited"},
        )
    assert form_call("chat.postMessage", channel="C1", text="x")[2]["ok"] is True
    dev.post("/local/faults", {"method": "chat.update", "error": "msg_too_long", "count": 9})
    with pytest.raises(SlackApiError) as failed:
        slack.chat_update(channel="C1", ts=first, text="edited")
    assert failed.value.response.status_code == 200
    assert failed.value.response["error"] == "msg_too_long"
    request = urllib.request.Request(f"{dev.url}/local/faults", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()
    assert slack.chat_update(channel="C1", ts=first, text="edited")["ok"] is True

    # A response_url and a trigger_id minted for a test work like Slack's.
    url = dev.post("/local/response_urls", {"channel": "C1", "user": "U0A", "ts": first})["url"]
    dev.post(url.removeprefix(dev.url), {"replace_original": True, "text": "replaced"})
    assert [m["text"] for m in dev.get("/local/messages")["messages"] if m["ts"] == first] == [
        "replaced"
    ]
    trigger = dev.post("/local/triggers", {"user": "U0A"})["trigger_id"]
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    assert slack.views_open(trigger_id=trigger, view=view)["ok"] is True
    with pytest.raises(SlackApiError):
        slack.views_open(trigger_id=trigger, view=view)  # a trigger opens one view


def test_cli_bad_input_is_a_usage_error(dev: Dev) -> None:
    bad = dev.cli("start", "--title", "x", "--approver", "U0A", "--timeout", "soon")
    assert bad.returncode == 2
    assert "not a duration" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = dev.cli("show", "apr-nope")
    assert missing.returncode == 1 and "no approval with id" in missing.stderr
    refused = dev.cli("decide", "apr-nope", "approve", "--as", "U0A")
    assert refused.returncode == 1


def test_make_run_demo_finishes_on_its_own(tmp_path: Path) -> None:
    """The README's first command, with nobody at the keyboard: it approves and exits 0."""
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "signoff.local.demo", "--port", str(port), "--delay", "1"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "approved by U0APPROVER" in result.stdout
    assert "'status': 'succeeded'" in result.stdout
    assert (tmp_path / ".signoff" / "durable.sqlite").exists()
