"""Runner time held per approval: the GitHub Action's `mode: wait` against `mode: dispatch`
(and every gate that, like dispatch, ends the CI step at once), from a measured timeline.

Each run files one approval through the Action's step (`signoff.github_action.run_step`,
the real `signoff start` through Click, in-process on the in-memory store), has a person
approve it `--delay` seconds later (a timer thread, through the same service a click
uses), and for dispatch releases the gate to a GitHub stand-in on loopback (a real HTTP
server) the way the notifier does. Printed per mode: how long the CI step held its runner,
when the decision came, and when the deploy could start (the step's end for wait; the
`repository_dispatch` arriving for dispatch).

Run from the project root:
  .venv/bin/python -m benchmarks.runner_minutes [--runs 5] [--delay 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typer.testing import CliRunner

from signoff.cli import context, entry
from signoff.gates.dispatch import GitHubDispatchGate
from signoff.gates.port import Gates
from signoff.gates.release import release_gate
from signoff.github_action import run_step
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, StartRequest
from signoff.policy import PolicyBook, resolve
from signoff.reports import Reports
from signoff.service import Approvals

SHA = "0123456789abcdef0123456789abcdef01234567"


class Target:
    def __init__(self, approvals: Approvals):
        self.approvals = approvals

    def start(self, request: StartRequest) -> dict[str, Any]:
        self.approvals.open(resolve(request, PolicyBook(), _NoGroups()))
        return {"id": request.id}

    def policies(self) -> PolicyBook:
        return PolicyBook()

    def kickoff_refusal(self, approval_id: str) -> str | None:
        return None

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "running"}

    def cli_decisions(self) -> None:
        return None

    def reports(self) -> Reports:
        raise NotImplementedError("the benchmark reports nothing")


class _NoGroups:
    def members(self, group_id: str) -> tuple[str, ...]:
        return ()


@contextmanager
def github_standin(arrivals: list[float]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.append(time.monotonic())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def one_run(
    mode: str, delay: float, n: int, api_url: str, arrivals: list[float]
) -> dict[str, float]:
    store = InMemoryApprovalStore()
    approvals = Approvals(store)
    target = Target(approvals)
    context.target = lambda: target  # the CLI acts in-process
    runner = CliRunner()
    approval_id = f"apr-bench-{mode}-{n}"
    inputs = {
        "mode": mode,
        "title": "Deploy api",
        "approvers": "U0A",
        "requester": "U0R",
        "bind-sha": SHA,
        "id": approval_id,
        "dispatch-repository": "o/r",
    }
    decided: list[float] = []

    def decide() -> None:
        approvals.decide(approval_id, "U0A", Decision.APPROVE)
        decided.append(time.monotonic())

    def invoke(args: list[str]) -> tuple[int, str, str]:
        result = runner.invoke(entry.app, args)
        return result.exit_code, result.stdout, result.stderr

    start = time.monotonic()
    timer = threading.Timer(delay, decide)
    timer.start()
    step = run_step(inputs, invoke)
    step_end = time.monotonic()
    assert step.code == 0, step.message
    timer.join()
    deploy_start = step_end
    if mode == "dispatch":
        # The notifier's release after the outcome: one repository_dispatch.
        gates = Gates(GitHubDispatchGate(lambda: "token", api_url))
        release_gate(
            store,
            gates,
            approvals.get(approval_id),
            clock=approvals.clock,
            lease=timedelta(seconds=30),
            tries=3,
        )
        deploy_start = arrivals[-1]
    return {
        "held": step_end - start,
        "decided": decided[0] - start,
        "deploy": deploy_start - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds until the approval")
    args = parser.parse_args()
    arrivals: list[float] = []
    rows: dict[str, list[dict[str, float]]] = {"wait": [], "dispatch": []}
    with github_standin(arrivals) as api_url:
        for n in range(args.runs):
            for mode in rows:  # interleaved: the machine's noise falls on both
                rows[mode].append(one_run(mode, args.delay, n, api_url, arrivals))
    print(f"{args.runs} approvals per mode, each approved {args.delay:.1f} s after the step began")
    print(f"{'mode':<10}{'runner held (s)':>17}{'decided at (s)':>16}{'deploy starts (s)':>19}"
          f"{'held / decision':>17}")  # fmt: skip
    for mode, found in rows.items():
        held = statistics.median(r["held"] for r in found)
        decided = statistics.median(r["decided"] for r in found)
        deploy = statistics.median(r["deploy"] for r in found)
        print(f"{mode:<10}{held:>17.3f}{decided:>16.3f}{deploy:>19.3f}{held / decided:>17.3f}")
    # wait holds the runner through the decision and until its next look (a 1 s poll);
    # dispatch holds it only to file the request, whatever the decision takes.
    after = statistics.median(r["held"] - r["decided"] for r in rows["wait"])
    filing = statistics.median(r["held"] for r in rows["dispatch"])
    print(
        f"runner minutes held for a decision that takes 30 minutes: "
        f"wait {30 + after / 60:.2f}, dispatch {filing / 60:.4f} (filing only)"
    )


if __name__ == "__main__":
    main()
