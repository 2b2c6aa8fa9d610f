"""`make run`: start the local stack, walk one approval from kickoff to click to outcome.

With a person at the terminal it waits for their click on the local Slack page (or a
`signoff decide` line). With nobody there (no TTY, or --auto) it clicks Approve itself
after a few seconds, as the example approver, through the same signed Slack path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from signoff.local.stack import DEMO_APPROVER, DEMO_REQUESTER

SIGNOFF = [sys.executable, "-m", "signoff.cli"]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _post(url: str, data: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _say(text: str) -> None:
    print(f"\033[1m==>\033[0m {text}" if sys.stdout.isatty() else f"==> {text}", flush=True)


def _wait_until_up(url: str, dev: subprocess.Popen[bytes] | None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dev is not None and dev.poll() is not None:
            raise SystemExit("signoff dev exited while starting; see the lines above")
        try:
            _get(f"{url}/local/health")
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"the local stack did not answer at {url} within {timeout:.0f}s")


def _message_ts(url: str, approval_id: str, timeout: float = 30) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in _get(f"{url}/local/messages")["messages"]:
            metadata = message.get("metadata") or {}  # the request's message names its id
            if metadata.get("event_type") == "signoff_request" and (
                (metadata.get("event_payload") or {}).get("id") == approval_id
            ):
                return str(message["channel"]), str(message["ts"])
        time.sleep(0.3)
    raise SystemExit(f"no Slack message appeared for {approval_id}")


def _workflow_result(url: str, approval_id: str, timeout: float = 30) -> Any:
    """Wait for the durable execution itself to finish (it polls the record)."""
    deadline = time.monotonic() + timeout
    state: Any = {}
    while time.monotonic() < deadline:
        state = _get(f"{url}/local/workflows/{approval_id}")
        if state.get("status") != "running":
            return {"status": state.get("status"), "result": state.get("result")}
        time.sleep(0.3)
    return {"status": state.get("status"), "note": f"still running after {timeout:.0f}s"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIGNOFF_PORT", "3000")))
    parser.add_argument(
        "--auto", action="store_true", help="click Approve automatically (default without a TTY)"
    )
    parser.add_argument("--delay", type=float, default=3.0, help="seconds before the auto-click")
    args = parser.parse_args(argv)
    auto = args.auto or not sys.stdin.isatty()
    url = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "SIGNOFF_LOCAL_URL": url}

    dev: subprocess.Popen[bytes] | None = None
    try:
        _get(f"{url}/local/health")
        _say(f"using the local stack already running at {url}")
    except (urllib.error.URLError, OSError):
        _say(f"starting the local stack on {url} (DynamoDB Local, durable emulator, SNS, Slack)")
        dev = subprocess.Popen([*SIGNOFF, "dev", "--port", str(args.port)], env=env)
    try:
        _wait_until_up(url, dev)
        started = subprocess.run(
            [
                *SIGNOFF, "start",
                "--title", "Deploy api v2 to production",
                "--description", "Blue/green switch of the public API; rollback is one click.",
                "--field", "service=api",
                "--field", "version=2.0.0",
                "--field", "change=OPS-1234",
                "--requester", DEMO_REQUESTER,
                "--approver", DEMO_APPROVER,
                "--timeout", "10m",
                "--json",
            ],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if started.returncode != 0:
            sys.stderr.write(started.stderr)
            return started.returncode
        approval_id = json.loads(started.stdout)["id"]
        _say(f"kicked off {approval_id}; the notifier posted it to #approvals")
        channel, ts = _message_ts(url, approval_id)
        if auto:
            _say(
                f"nobody at the keyboard: clicking Approve as {DEMO_APPROVER} in {args.delay:.0f}s"
            )
        else:
            _say(f"open {url}/ and click Approve (or Reject…) as {DEMO_APPROVER}, or run:")
            print(
                f"      SIGNOFF_LOCAL_URL={url} signoff decide {approval_id} approve --as {DEMO_APPROVER}"
            )
        waiter = subprocess.Popen([*SIGNOFF, "wait", approval_id], env=env)
        if auto:
            time.sleep(args.delay)
            clicked = _post(
                f"{url}/local/click",
                {
                    "user": DEMO_APPROVER,
                    "channel": channel,
                    "ts": ts,
                    "action_id": "signoff.approve",
                },
            )
            _say(f"signed block_actions sent to /slack/events: HTTP {clicked['status']}")
        code = waiter.wait()
        _say(f"the decision is recorded; `signoff wait` exited {code}")
        workflow = _workflow_result(url, approval_id)
        _say(f"the durable workflow resumed and finished: {workflow}")
        _say("the record and its audit trail:")
        subprocess.run([*SIGNOFF, "show", approval_id], env=env, check=False)
        return code
    finally:
        if dev is not None:
            dev.terminate()
            try:
                dev.wait(timeout=20)
            except subprocess.TimeoutExpired:
                dev.kill()


if __name__ == "__main__":
    raise SystemExit(main())
