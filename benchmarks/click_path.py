"""Figures for the click path, printed as a table.

1. ack latency: a signed Approve click through slack_handler.app.handler (the Lambda entry
   point, Function URL event) against DynamoDB Local and the Slack stand-in, warm; the
   same for a forged click (signature check only) as the floor to compare with.
2. cold import of each handler module (a fresh interpreter each run).
3. click → resume: on `signoff dev`, from the click to the durable workflow's completion.

Run from the project root: .venv/bin/python -m benchmarks.click_path [--clicks 200] [--resumes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from signoff.local.dynamodb import free_port

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ack_latency(clicks: int) -> dict[str, float]:
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
        ok: list[float] = []
        forged: list[float] = []
        for n in range(clicks + 5):
            approval_id = f"apr-bench-{n}"
            approvals.open(start_request(approval_id, channel="c"))
            posted = slack.standin.api("chat.postMessage", BOT_TOKEN, {"channel": "c", "text": "x"})
            store.set_message(approval_id, SlackRef("c", posted["ts"]), datetime.now(UTC))
            body = block_actions("U0A", "signoff.approve", approval_id, "http://127.0.0.1:9/x")
            bad = signed_event(body, "wrong-secret")
            started = time.perf_counter()
            assert slack_handler.app.handler(bad, context)["statusCode"] == 401
            forged_ms = (time.perf_counter() - started) * 1000
            event = signed_event(body, SIGNING_SECRET)
            started = time.perf_counter()
            assert slack_handler.app.handler(event, context)["statusCode"] == 200
            ok_ms = (time.perf_counter() - started) * 1000
            if n >= 5:  # the first few warm the sandbox (secret fetch, Bolt app)
                ok.append(ok_ms)
                forged.append(forged_ms)
        return {
            "ack p50 ms": statistics.median(ok),
            "ack p95 ms": pct(ok, 95),
            "ack p99 ms": pct(ok, 99),
            "forged p50 ms": statistics.median(forged),
            "ack/forged p50 ratio": statistics.median(ok) / statistics.median(forged),
        }
    finally:
        slack.stop()
        moto.stop()
        ddb.stop()


def cold_imports(runs: int = 5) -> dict[str, float]:
    figures = {}
    for module in ("workflow_fn.app", "slack_handler.app", "notifier.app"):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT)
            times.append((time.perf_counter() - started) * 1000)
        figures[f"cold import {module} ms (median of {runs})"] = statistics.median(times)
    base = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append((time.perf_counter() - started) * 1000)
    figures["bare interpreter start ms"] = statistics.median(base)
    return figures


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

    def get(path: str) -> dict:
        with urllib.request.urlopen(url + path, timeout=10) as r:
            return json.loads(r.read())

    def post(path: str, data: dict) -> dict:
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
    args = parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    results: dict[str, float] = {}
    results.update(ack_latency(args.clicks))
    results.update(cold_imports())
    results.update(click_to_resume(args.resumes))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.2f}")


if __name__ == "__main__":
    main()
