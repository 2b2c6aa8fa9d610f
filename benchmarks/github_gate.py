"""Figures for the GitHub gate on `signoff dev`, printed as a table.

1. The webhook's answer: a signed deployment_protection_rule webhook POSTed to
   /github/events (secret check, the delivery's conditional put, the workflow's
   asynchronous start), beside a forged one (the signature check alone) as the floor.
   GitHub gives a webhook 10 s.
2. Decision → review: from a signed Approve click to GitHub's stand-in recording the
   review (the workflow's resume, SNS → the notifier, the App's JWT, the installation
   token, the callback).
3. Runner time held: a job behind the protection rule holds no runner while it waits
   (GitHub holds the job); `signoff start --wait` holds one for the whole wait.

Run from the project root: .venv/bin/python -m benchmarks.github_gate [--webhooks 40]
[--decisions 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchmarks.click_path import pct
from benchmarks.cold_start import machine
from signoff.local.dynamodb import free_port
from signoff.local.github_standin import deployment_event, post_webhook


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, data: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise TimeoutError("never happened")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=40)
    parser.add_argument("--decisions", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="signoff-gh-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (home.parent / f"{home.name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signoff.cli", "dev", "--port", str(port), "--home", str(home)],
        stdout=log,
        stderr=log,
    )
    try:
        _until(lambda: _try(lambda: _get(f"{base}/local/health")), timeout=90)
        secret = json.loads((home / "local-github.json").read_text())["webhook_secret"]
        api = f"{base}/github-api"
        signed: list[float] = []
        forged: list[float] = []
        ids: list[str] = []
        for n in range(args.webhooks):
            body = json.dumps(deployment_event(api_url=api, run_id=1000 + n)).encode()
            began = time.perf_counter()
            status, said = post_webhook(f"{base}/github/events", secret, body)
            signed.append(time.perf_counter() - began)
            assert status == 202, (status, said)
            ids.append(str(said["id"]))
            began = time.perf_counter()
            status, _ = post_webhook(
                f"{base}/github/events", "wrong", body, delivery=str(uuid.uuid4())
            )
            forged.append(time.perf_counter() - began)
            assert status == 401
        turns: list[float] = []
        for approval_id in ids[: args.decisions]:
            message = _until(lambda a=approval_id: _message(base, a))
            run = 1000 + ids.index(approval_id)
            began = time.perf_counter()
            answer = _post(
                f"{base}/local/click",
                {
                    "user": "U0APPROVER",
                    "channel": message["channel"],
                    "ts": message["ts"],
                    "action_id": "signoff.approve",
                },
            )
            assert answer["status"] == 200, answer
            _until(lambda r=run: _reviewed(base, r))
            turns.append(time.perf_counter() - began)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ms = 1000
    print(f"machine: {machine()}")
    print("| figure | n | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    for name, values in (
        ("signed webhook answered (202)", signed),
        ("forged webhook answered (401), the floor", forged),
        ("Approve click → GitHub's review recorded", turns),
    ):
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * ms:.0f} ms | "
            f"{pct(values, 95) * ms:.0f} ms | {max(values) * ms:.0f} ms |"
        )
    print(
        f"ratio signed/forged (p50): {statistics.median(signed) / statistics.median(forged):.1f}x; "
        "runner seconds held while waiting: 0 for the gate, the whole wait for --wait"
    )


def _try(call: Any) -> Any:
    try:
        return call()
    except OSError:
        return None


def _message(base: str, approval_id: str) -> dict[str, Any] | None:
    for message in _get(f"{base}/local/messages")["messages"]:
        request = (message.get("metadata") or {}).get("event_type") == "signoff_request"
        if request and f"`{approval_id}`" in json.dumps(message["blocks"]):
            return dict(message)
    return None


def _reviewed(base: str, run: int) -> bool:
    path = f"/repos/octo-org/api/actions/runs/{run}/deployment_protection_rule"
    calls = _get(f"{base}/local/github")["calls"]
    return any(c["path"] == path and c["status"] == 204 for c in calls)


if __name__ == "__main__":
    main()
