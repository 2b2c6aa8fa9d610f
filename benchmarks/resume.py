"""Click → workflow resumed, on the local stack, for three designs side by side; and a burst.

For each design `signoff dev` runs with its settings; N approvals are started at once
(through the stack's start endpoint, as the CLI does), and once all are posted, approval i
is approved at 5 + i * spacing seconds through a signed Slack click (the stand-in's
`/local/click`). The figure is the workflow's own completion time (the durable execution's
end timestamp) minus the decision's commit time (the record's `decided_at`): what the
doorbell or the poll adds.

- doorbell: SIGNOFF_DOORBELL=on, safety poll 1 s doubling up to 5 s (the local defaults);
- poll (today): no doorbell, 2 s growing by 1.5 up to 60 s (the schedule before the doorbell);
- poll 5 s: no doorbell, a fixed 5 s poll.

`--burst 1000`: one `signoff dev` with its own settings (the doorbell); 1,000 approvals
started at once, then all approved as fast as the clicks go: time until all are posted
(pending with a message), each click's answer time, time from the last click until every
workflow finished, the peak memory of the `signoff dev` process tree (its own RSS plus
DynamoDB Local's JVM), and the CPU time that tree spent in each phase.

Run: .venv/bin/python -m benchmarks.resume [--approvals 50] [--burst 1000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from signoff.codec import request_to_payload
from signoff.local.dynamodb import free_port
from signoff.model import StartRequest, parse_iso
from tests.factories import start_request

DESIGNS = {
    "doorbell": {
        "SIGNOFF_DOORBELL": "on",
        "SIGNOFF_POLL_INITIAL_SECONDS": "1",
        "SIGNOFF_POLL_MAX_SECONDS": "5",
        "SIGNOFF_POLL_BACKOFF": "2",
    },
    "poll (today)": {
        "SIGNOFF_DOORBELL": "off",
        "SIGNOFF_POLL_INITIAL_SECONDS": "2",
        "SIGNOFF_POLL_MAX_SECONDS": "60",
        "SIGNOFF_POLL_BACKOFF": "1.5",
    },
    "poll 5 s": {
        "SIGNOFF_DOORBELL": "off",
        "SIGNOFF_POLL_INITIAL_SECONDS": "5",
        "SIGNOFF_POLL_MAX_SECONDS": "5",
        "SIGNOFF_POLL_BACKOFF": "1",
    },
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Stack:
    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home = Path(tempfile.mkdtemp()) / "state"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signoff.cli", "dev", "--port", str(self.port), "--home", str(home)],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                self.get("/local/health")
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit("signoff dev did not start") from None
                time.sleep(0.3)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str, data: dict[str, Any]) -> Any:
        req = urllib.request.Request(
            self.url + path, json.dumps(data).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def start(self, request: StartRequest) -> None:
        self.post("/local/workflows", request_to_payload(request))

    def messages(self) -> dict[str, dict[str, Any]]:
        found = {}
        for m in self.get("/local/messages")["messages"]:
            for block in m["blocks"]:
                for element in block.get("elements", []):
                    if element.get("action_id") == "signoff.approve":
                        found[element["value"]] = m
        return found

    def rss_mb(self) -> float:
        """Resident memory of signoff dev and its children (DynamoDB Local), in MB."""
        pids = [str(self.proc.pid)]
        children = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        out = subprocess.run(
            ["ps", "-o", "rss=", "-p", ",".join(pids + children)], capture_output=True, text=True
        ).stdout
        return sum(int(x) for x in out.split()) / 1024

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by signoff dev and its children.

        On a shared machine wall time says as much about the neighbours as about the
        stack; CPU time says what the stack itself spent.
        """
        children = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        pids = [str(self.proc.pid), *children]
        ticks = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def wait_posted(stack: Stack, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Every approval's message, once all are posted.

    The conversation is read only once the notifier has had as many deliveries as there
    are approvals (the health counter is cheap; the whole conversation is not, and
    reading it twice a second would load the stack being measured).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.get("/local/health")["sns_delivered"] >= len(ids):
            posted = stack.messages()
            if all(i in posted for i in ids):
                return posted
        time.sleep(0.25)
    raise SystemExit(f"not all {len(ids)} approvals were posted within {timeout:.0f}s")


def click(stack: Stack, message: dict[str, Any]) -> float:
    """Approve through a signed click; returns the seconds until the stand-in answered."""
    began = time.monotonic()
    stack.post(
        "/local/click",
        {
            "user": "U0A",
            "channel": message["channel"],
            "ts": message["ts"],
            "action_id": "signoff.approve",
        },
    )
    return time.monotonic() - began


def resumed_after(stack: Stack, approval_id: str, timeout: float = 180) -> float:
    """Seconds from the decision's commit to the workflow's own completion."""
    deadline = time.monotonic() + timeout
    while True:
        state = stack.get(f"/local/workflows/{approval_id}")
        if state["status"] != "running" and state.get("ended_at"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{approval_id} did not resume")
        time.sleep(0.5)
    shown = subprocess.run(
        [sys.executable, "-m", "signoff.cli", "show", approval_id, "--json"],
        env={**os.environ, "SIGNOFF_LOCAL_URL": stack.url}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    decided_at = parse_iso(json.loads(shown.stdout)["decided_at"]).timestamp()
    return float(state["ended_at"]) - decided_at


def compare(approvals: int, spacing: float) -> None:
    print(f"| design ({approvals} approvals) | click → resumed p50 s | p99 s | max s |")
    print("|---|---|---|---|")
    for design, env in DESIGNS.items():
        stack = Stack(env)
        try:
            ids = [f"apr-r{n:03d}" for n in range(approvals)]
            for approval_id in ids:
                stack.start(start_request(approval_id, timeout=timedelta(minutes=30)))
            posted = wait_posted(stack, ids, 120)
            t0 = time.monotonic()
            for n, approval_id in enumerate(ids):
                time.sleep(max(0.0, t0 + 5 + n * spacing - time.monotonic()))
                click(stack, posted[approval_id])
            waits = [resumed_after(stack, i) for i in ids]
            print(
                f"| {design} | {statistics.median(waits):.2f} | {pct(waits, 99):.2f} | {max(waits):.2f} |",
                flush=True,
            )
        finally:
            stack.stop()


def burst(count: int) -> None:
    # The local stack's own settings: the doorbell, its safety poll (1 s doubling to 60 s).
    stack = Stack({"SIGNOFF_DOORBELL": "on"})
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], stack.rss_mb())
            stop.wait(0.5)

    threading.Thread(target=sample, daemon=True).start()
    try:
        ids = [f"apr-b{n:04d}" for n in range(count)]
        cpu = [stack.cpu_seconds()]
        started = time.monotonic()
        for approval_id in ids:
            stack.start(start_request(approval_id, timeout=timedelta(hours=2)))
        posted = wait_posted(stack, ids, 600)
        all_posted = time.monotonic() - started
        cpu.append(stack.cpu_seconds())
        clicks_started = time.monotonic()
        acks = [click(stack, posted[approval_id]) for approval_id in ids]
        last_click = time.monotonic()
        cpu.append(stack.cpu_seconds())
        mine = set(ids)
        while mine & set(stack.get("/local/workflows")["running"]):
            time.sleep(0.25)
        all_resumed = time.monotonic() - last_click
        cpu.append(stack.cpu_seconds())
        load = os.getloadavg()[0]
        print(f"| burst of {count} | value |\n|---|---|")
        print(f"| all started and posted | {all_posted:.1f} s |")
        print(
            f"| clicks ({count}, one at a time) | {last_click - clicks_started:.1f} s ({count / (last_click - clicks_started):.1f} per s) |"
        )
        print(
            f"| one click through `/local/click`, p50 / p99 / max | {statistics.median(acks) * 1000:.0f} / {pct(acks, 99) * 1000:.0f} / {max(acks) * 1000:.0f} ms |"
        )
        print(f"| all resumed, after the last click | {all_resumed:.1f} s |")
        print(f"| peak memory, signoff dev + DynamoDB Local | {peak[0]:.0f} MB |")
        spent = " / ".join(f"{b - a:.0f}" for a, b in itertools.pairwise(cpu))
        print(f"| CPU s of the stack: start+post / clicks / until resumed | {spent} |")
        print(f"| machine load average (1 min) at the end | {load:.1f} |")
    finally:
        stop.set()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--approvals", type=int, default=50)
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between the clicks")
    parser.add_argument("--burst", type=int, default=0, help="also run the burst with this many")
    parser.add_argument("--no-compare", action="store_true")
    args = parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    if not args.no_compare:
        compare(args.approvals, args.spacing)
    if args.burst:
        burst(args.burst)


if __name__ == "__main__":
    main()
