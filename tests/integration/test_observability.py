"""What the handlers write to stdout: Powertools JSON log lines and EMF metric blobs.

Each handler runs in a fresh interpreter (tests/integration/observed.py), as in a Lambda
sandbox, against the loopback servers of `lambda_env`; its stdout is read whole. Every
line must be JSON; log lines carry the correlation id (the Function URL request id, the
SNS message id, the durable execution ARN) and the approval id; EMF blobs carry the
metric names, dimensions and values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from signoff.codec import request_to_payload
from signoff.model import SlackRef
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, StandInServer
from tests.factories import start_request
from tests.integration.slack_events import ResponseRecorder, block_actions, signed_event

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def observe(
    kind: str, data: Any, env: dict[str, str], tmp_path: Path
) -> tuple[list[dict[str, Any]], Any]:
    """Run the handler in a child; returns (every stdout line as JSON, the child's report)."""
    path = tmp_path / f"{kind}-input.json"  # not the stand-in's own state file
    path.write_text(json.dumps(data))
    child_env = {**os.environ, **env, "POWERTOOLS_SERVICE_NAME": "signoff"}
    child_env["POWERTOOLS_LOG_LEVEL"] = "INFO"
    out = subprocess.run(
        [sys.executable, "-m", "tests.integration.observed", kind, str(path)],
        cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line on stdout is not JSON: {line!r}")
    return parsed, json.loads(out.stderr.strip().splitlines()[-1])


def logs(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "_aws" not in line]


def metrics(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each EMF metric as {namespace, name, unit, values, dimensions}."""
    found = []
    for blob in lines:
        if "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dims = {d: blob[d] for group in directive["Dimensions"] for d in group}
            for metric in directive["Metrics"]:
                found.append(
                    {
                        "namespace": directive["Namespace"],
                        "name": metric["Name"],
                        "unit": metric["Unit"],
                        "values": _as_list(blob[metric["Name"]]),
                        "dimensions": dims,
                    }
                )
    return found


def _as_list(value: Any) -> list[float]:
    return value if isinstance(value, list) else [value]


def named(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [m for m in found if m["name"] == name]


def open_with_message(approvals: Approvals, store: DynamoApprovalStore, slack, approval_id: str):
    from datetime import UTC, datetime

    approvals.open(start_request(approval_id))
    posted = slack.standin.api("chat.postMessage", BOT_TOKEN, {"channel": "approvals", "text": "x"})
    store.set_message(
        approval_id, SlackRef(channel="approvals", ts=posted["ts"]), datetime.now(UTC)
    )


def test_slack_handler_logs_json_with_ids_and_counts_the_refusal(
    lambda_env, approvals, store, slack: StandInServer, tmp_path: Path
) -> None:
    open_with_message(approvals, store, slack, "apr-obs1")
    recorder = ResponseRecorder()
    try:
        refused = signed_event(
            block_actions("U0STRANGER", "signoff.approve", "apr-obs1", recorder.url("r")),
            SIGNING_SECRET,
        )
        approved = signed_event(
            block_actions("U0A", "signoff.approve", "apr-obs1", recorder.url("a")),
            SIGNING_SECRET,
        )
        lines, results = observe("slack", [refused, approved], lambda_env, tmp_path)
    finally:
        recorder.stop()
    assert [r["statusCode"] for r in results] == [200, 200]
    assert approvals.get("apr-obs1").status.value == "approved"

    by_message = {line["message"]: line for line in logs(lines)}
    refusal = by_message["approval refused: you are not an approver of this request"]
    recorded = by_message["approval recorded"]
    for line, event, user in ((refusal, refused, "U0STRANGER"), (recorded, approved, "U0A")):
        assert line["level"] == "INFO"
        assert line["service"] == "signoff"
        assert line["approval_id"] == "apr-obs1"
        assert line["slack_user"] == user
        assert line["correlation_id"] == event["requestContext"]["requestId"]
        assert line["function_request_id"]  # the Lambda context's keys

    found = metrics(lines)
    (refused_metric,) = named(found, "ClicksRefused")
    assert refused_metric["values"] == [1.0] and refused_metric["unit"] == "Count"
    assert refused_metric["dimensions"] == {"service": "signoff", "Reason": "not_approver"}
    assert refused_metric["namespace"] == "signoff"
    (cold,) = named(found, "ColdStart")  # the first invocation of the sandbox only
    assert cold["values"] == [1.0]
    assert named(found, "WriteConflicts") == []


def sns_event(message_id: str, body: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    from signoff.local.sns_bridge import sns_lambda_event

    return sns_lambda_event(
        {"MessageId": message_id, "Message": json.dumps(body), "TopicArn": topic_arn}, topic_arn
    )


def test_notifier_logs_the_sns_message_id_and_counts_slack_errors(
    lambda_env, approvals, slack: StandInServer, tmp_path: Path
) -> None:
    approvals.open(start_request("apr-obs2"))
    slack.standin.fault("chat.postMessage", "internal_error", 1)  # transient: SNS retries
    topic = lambda_env["SIGNOFF_TOPIC_ARN"]
    failing = sns_event("msg-1", {"type": "requested", "id": "apr-obs2"}, topic)
    retried = sns_event("msg-2", {"type": "requested", "id": "apr-obs2"}, topic)
    lines, results = observe("notifier", [failing, retried], lambda_env, tmp_path)
    assert results == [{"raised": "SlackRefusedError"}, {"handled": 1}]
    assert approvals.get("apr-obs2").message is not None  # the retry posted it

    handling = [line for line in logs(lines) if line["message"] == "handling requested"]
    assert [line["correlation_id"] for line in handling] == ["msg-1", "msg-2"]
    assert {line["approval_id"] for line in handling} == {"apr-obs2"}

    (error,) = named(metrics(lines), "SlackApiErrors")
    assert error["values"] == [1.0]
    assert error["dimensions"] == {
        "service": "signoff",
        "Method": "chat.postMessage",
        "Code": "internal_error",
    }


def test_a_replayed_workflow_logs_each_line_once_and_reports_the_outcome(
    lambda_env, store: DynamoApprovalStore, tmp_path: Path
) -> None:
    payload = request_to_payload(start_request("apr-obs3"))
    lines, report = observe("workflow", payload, lambda_env, tmp_path)
    assert report["status"] == "SUCCEEDED"
    assert report["invocations"] >= 3  # polled and replayed before and after the click

    messages = Counter(line["message"] for line in logs(lines))
    assert messages["approval opened"] == 1
    assert messages["approval closed"] == 1
    opened = next(line for line in logs(lines) if line["message"] == "approval opened")
    arn = store.get("apr-obs3").execution_id
    assert opened["correlation_id"] == arn
    assert opened["executionArn"] == arn  # the durable SDK's own enrichment
    assert opened["approval_id"] == "apr-obs3"

    found = metrics(lines)
    assert [m["values"] for m in named(found, "ApprovalsStarted")] == [[1.0]]
    (decided,) = named(found, "ApprovalsDecided")
    assert decided["values"] == [1.0]
    assert decided["dimensions"] == {"service": "signoff", "Outcome": "approved"}
    (waited,) = named(found, "RequestToDecision")
    assert waited["unit"] == "Seconds" and 0 < waited["values"][0] < 60
    (resumed,) = named(found, "DecisionToResume")
    assert resumed["unit"] == "Milliseconds" and 0 <= resumed["values"][0] < 30_000
    assert len(named(found, "ColdStart")) == 1
