"""Runs one handler in a fresh interpreter, as a Lambda sandbox would, so that its stdout
holds exactly what that handler wrote: Powertools log lines and EMF blobs.

    python -m tests.integration.observed slack|notifier EVENTS.json
    python -m tests.integration.observed workflow PAYLOAD.json

The environment (from the `lambda_env` fixture) points the handlers at loopback servers.
What the child itself reports (results, invocation counts) goes to stderr as one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from signoff.local.stack import LambdaContext


def run_events(module: str, events: list[dict[str, Any]]) -> list[Any]:
    handler = __import__(module, fromlist=["handler"]).handler
    results: list[Any] = []
    for event in events:
        context = LambdaContext(module.split(".")[0], aws_request_id=str(uuid.uuid4()))
        try:
            results.append(handler(event, context))
        except Exception as exc:  # the notifier raises so that SNS retries
            results.append({"raised": type(exc).__name__})
    return results


def run_workflow(payload: dict[str, Any]) -> dict[str, Any]:
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    import workflow_fn.app
    from signoff import wiring
    from signoff.model import Decision
    from signoff.service import Approvals

    invocations = [0]

    def counted(event: Any, context: Any) -> Any:  # each invocation replays from the top
        invocations[0] += 1
        return workflow_fn.app.handler(event, context)

    approvals = Approvals(wiring.build_store(wiring.settings_from_env()))  # the approver

    def approve_after_replays() -> None:
        deadline = time.monotonic() + 30
        while invocations[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        approvals.decide(payload["id"], "U0A", Decision.APPROVE)

    clicker = threading.Thread(target=approve_after_replays, daemon=True)
    with DurableFunctionTestRunner(handler=counted, skip_time=False) as runner:
        clicker.start()
        result = runner.run(
            input=json.dumps(payload), execution_name=payload["id"], execution_timeout=60
        )
    return {"status": result.status.value, "invocations": invocations[0]}


def main() -> None:
    kind, path = sys.argv[1], Path(sys.argv[2])
    data = json.loads(path.read_text())
    if kind == "workflow":
        report: Any = run_workflow(data)
    else:
        report = run_events({"slack": "slack_handler.app", "notifier": "notifier.app"}[kind], data)
    sys.stdout.flush()
    print(json.dumps(report), file=sys.stderr)


if __name__ == "__main__":
    main()
