"""Figures for the click path, printed as a table.

1. ack latency: a signed Approve click through slack_handler.app.handler (the Lambda entry
   point, Function URL event) against DynamoDB Local and the Slack stand-in, warm; the
   same for a forged click (signature check only) as the floor to compare with.
2. cold start: the Slack handler's import + first signed request, each in a fresh
   interpreter with byte code compiled first, alternated with a floor (boto3, a DynamoDB
   client, a minimal Bolt app answering one signed click); see benchmarks.cold_start.
3. click → resume: on `signoff dev`, from the click to the durable workflow's completion.

Run from the project root:
  .venv/bin/python -m benchmarks.click_path [--clicks 200] [--resumes 5] [--cold-runs 15]
      [--cold-variants] [--cold-instructions]
(0 skips a section: `--clicks 0 --resumes 0` measures the cold starts alone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cold_start import machine
from signoff.local.dynamodb import free_port

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class CallbackEndpoint:
    """A loopback stand-in for the Lambda callback API the doorbell rings (answers 200)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Answer(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                rung.append(self.path)

            def log_message(self, *args: object) -> None:
                pass

        rung: list[str] = []
        self.rung = rung

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # 20 clicks at once ring at once

        self.server = Server(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def ack_latency(clicks: int, concurrencies: tuple[int, ...] = (1, 20)) -> dict[str, float]:
    """Warm ack latency of a signed Approve, for each number of clicks at a time."""
    import threading

    from signoff import wiring
    from signoff.local import aws
    from signoff.local.dynamodb import DynamoDBLocal, local_client
    from signoff.local.stack import LambdaContext
    from signoff.model import SlackRef
    from signoff.schema import create_table
    from signoff.service import Approvals
    from signoff.store import DynamoApprovalStore
    from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
    from tests.factories import start_request
    from tests.integration.slack_events import block_actions, signed_event

    ddb = DynamoDBLocal()
    ddb.start()
    moto, moto_url = aws.start_moto()
    tmp = Path(tempfile.mkdtemp())
    slack = StandInServer(tmp)
    bell = CallbackEndpoint()
    try:
        client = local_client(ddb.endpoint)
        create_table(client, "bench")
        secret = aws.client(moto_url, "secretsmanager").create_secret(
            Name="bench",
            SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}),
        )["ARN"]
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_DYNAMODB": ddb.endpoint,
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
                "AWS_ENDPOINT_URL_LAMBDA": bell.url,
                "SIGNOFF_TABLE": "bench",
                "SIGNOFF_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:unused",
                "SIGNOFF_SLACK_SECRET_ID": secret,
                "SIGNOFF_SLACK_API_URL": f"{slack.base_url}/api/",
            }
        )
        wiring.reset()
        import slack_handler.app

        store = DynamoApprovalStore(client, "bench")
        approvals = Approvals(store)
        context = LambdaContext("signoff-bench")

        counter = iter(range(10**9))

        def prepared(_: int) -> tuple[dict[str, object], dict[str, object]]:
            n = next(counter)
            approval_id = f"apr-b-{n}"
            approvals.open(start_request(approval_id, channel="c"))
            posted = slack.standin.api("chat.postMessage", BOT_TOKEN, {"channel": "c", "text": "x"})
            store.set_message(
                approval_id, SlackRef(channel="c", ts=posted["ts"]), datetime.now(UTC)
            )
            store.arm_doorbell(approval_id, f"cb-{approval_id}")  # a waiting workflow's bell
            body = block_actions("U0A", "signoff.approve", approval_id, "http://127.0.0.1:9/x")
            return signed_event(body, SIGNING_SECRET), signed_event(body, "wrong-secret")

        def measure(concurrency: int) -> dict[str, float]:
            ok: list[float] = []
            forged: list[float] = []
            lock = threading.Lock()

            def click(
                event: dict[str, object],
                bad: dict[str, object],
                barrier: threading.Barrier,
                keep: bool,
            ) -> None:
                barrier.wait()
                started = time.perf_counter()
                assert slack_handler.app.handler(bad, context)["statusCode"] == 401
                forged_ms = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                assert slack_handler.app.handler(event, context)["statusCode"] == 200
                ok_ms = (time.perf_counter() - started) * 1000
                if keep:
                    with lock:
                        ok.append(ok_ms)
                        forged.append(forged_ms)

            rounds = max(1, clicks // concurrency)
            for r in range(rounds + 1):  # round 0 warms the sandbox (secret fetch, Bolt app)
                events = [prepared(r * concurrency + i) for i in range(concurrency)]
                barrier = threading.Barrier(concurrency)
                threads = [
                    threading.Thread(target=click, args=(e, b, barrier, r > 0)) for e, b in events
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            label = f"{concurrency} at once"
            return {
                f"ack p50 ms, {label}": statistics.median(ok),
                f"ack p99 ms, {label}": pct(ok, 99),
                f"forged p50 ms, {label}": statistics.median(forged),
                f"doorbell rings, {label}": float(len(bell.rung)),
            }

        figures: dict[str, float] = {}
        for concurrency in concurrencies:
            figures.update(measure(concurrency))
        return figures
    finally:
        bell.server.shutdown()
        slack.stop()
        moto.stop()
        ddb.stop()


def cold_starts(
    runs: int = 15, variants: bool = False, instructions: bool = False
) -> dict[str, float]:
    """The Slack handler's cold import + first request beside the floor, A/B in fresh
    interpreters with byte code compiled first (benchmarks.cold_start; its table printed)."""
    from benchmarks import cold_start

    table = cold_start.run_comparison(runs, variants, count_instructions=instructions)
    for line in cold_start.report(table):
        print(line)
    return cold_start.figures(table)


def click_to_resume(resumes: int) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = Path(tempfile.mkdtemp()) / "state"
    env = {**os.environ, "SIGNOFF_LOCAL_URL": url}
    dev = subprocess.Popen(
        [sys.executable, "-m", "signoff.cli", "dev", "--port", str(port), "--home", str(home)],
        env=env,
        stderr=subprocess.DEVNULL,
    )

    def get(path: str) -> Any:
        with urllib.request.urlopen(url + path, timeout=10) as r:
            return json.loads(r.read())

    def post(path: str, data: dict[str, Any]) -> Any:
        req = urllib.request.Request(
            url + path, json.dumps(data).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    try:
        for _ in range(200):
            try:
                get("/local/health")
                break
            except OSError:
                time.sleep(0.3)
        waits = []
        for n in range(resumes):
            approval_id = f"apr-resume-{n}"
            subprocess.run(
                [sys.executable, "-m", "signoff.cli", "start", "--id", approval_id, "--title", "t",
                 "--approver", "U0A", "--requester", "U0R"],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            message = None
            while message is None:
                for m in get("/local/messages")["messages"]:
                    if f"`{approval_id}`" in json.dumps(m["blocks"]):
                        message = m
                time.sleep(0.1)
            time.sleep(3 + n)  # let the poll schedule reach its local maximum (2 s)
            started = time.perf_counter()
            post(
                "/local/click",
                {"user": "U0A", "channel": message["channel"], "ts": message["ts"],
                 "action_id": "signoff.approve"},
            )  # fmt: skip
            while get(f"/local/workflows/{approval_id}")["status"] == "running":
                time.sleep(0.05)
            waits.append(time.perf_counter() - started)
        return {
            "click→resume median s (poll max 2 s)": statistics.median(waits),
            "click→resume max s": max(waits),
        }
    finally:
        dev.terminate()
        dev.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--resumes", type=int, default=5)
    parser.add_argument(
        "--cold-runs", type=int, default=15, help="cold-start pairs (floor, Slack handler)"
    )
    parser.add_argument(
        "--cold-variants",
        action="store_true",
        help="cold starts also with Tracer, without .pyc, and the other handlers' imports",
    )
    parser.add_argument(
        "--cold-instructions",
        action="store_true",
        help="also count the cold probes' instructions under valgrind (load-independent)",
    )
    args = parser.parse_args()
    print(f"# {machine()}")
    results: dict[str, float] = {}
    if args.clicks:
        results.update(ack_latency(args.clicks))
    if args.cold_runs:
        results.update(cold_starts(args.cold_runs, args.cold_variants, args.cold_instructions))
    if args.resumes:
        results.update(click_to_resume(args.resumes))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.2f}")


if __name__ == "__main__":
    main()
