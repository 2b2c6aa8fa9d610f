"""`signoff doctor` against `signoff dev`: green when healthy, red with the fix for each fault.

Each fault is injected into the running stack the way it happens for real (the bot taken
out of the channel, a bad token, a broken secret, a lost subscription, a dead table) and
repaired afterwards, so the module shares one stack.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from signoff import cli
from signoff import doctor as checkup
from signoff.local import aws
from tests.e2e.test_dev_stack import Dev

pytestmark = pytest.mark.e2e

runner = CliRunner()
ALL_CHECKS = [
    "local stack settings",
    "table and index",
    "topic and subscription",
    "dead-letter queue empty",
    "secret",
    "bot token (auth.test)",
    "bot in the default channel",
    "Slack request URL",
    "table and workflows agree",
    "workflow alias is durable",
]


def _dev(home: Path) -> Dev:
    stack = Dev(home)
    # The stack's own secret (32 hex characters, as Slack's), not the e2e one.
    del stack.env["SLACK_SIGNING_SECRET"]
    stack.start()
    return stack


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    stack = _dev(tmp_path_factory.mktemp("doctor") / "state")
    yield stack
    stack.stop()


def doctor(dev: Dev, *args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(cli.app, ["doctor", "--json", *args], env={"SIGNOFF_LOCAL_URL": dev.url})
    return result.exit_code, json.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in report["checks"]}


def failed(report: dict[str, Any]) -> list[str]:
    return [c["name"] for c in report["checks"] if c["outcome"] == "fail"]


def secrets_client(dev: Dev) -> tuple[Any, str]:
    config = dev.get("/local/config")
    return aws.stack_client(config, "secretsmanager"), config["secret_id"]


def test_green_on_a_healthy_local_stack(dev: Dev) -> None:
    code, report = doctor(dev)
    assert code == 0, report
    assert report["ok"] is True
    checks = by_name(report)
    assert list(checks) == ALL_CHECKS
    skipped = {n for n, c in checks.items() if c["outcome"] == "skip"}
    assert skipped == {"dead-letter queue empty", "workflow alias is durable"}
    assert all(checks[n]["detail"] for n in skipped)  # each skip says why
    assert {c["outcome"] for n, c in checks.items() if n not in skipped} == {"pass"}

    text = runner.invoke(cli.app, ["doctor"], env={"SIGNOFF_LOCAL_URL": dev.url})
    assert text.exit_code == 0
    assert "all checks passed" in text.stdout
    assert "PASS  bot in the default channel" in text.stdout


def test_bot_removed_from_the_channel(dev: Dev) -> None:
    dev.post("/local/channels/approvals/leave", {})
    try:
        code, report = doctor(dev)
    finally:
        dev.post("/local/channels/approvals/join", {})
    assert code == 1
    assert failed(report) == ["bot in the default channel"]
    check = by_name(report)["bot in the default channel"]
    assert "not a member of approvals" in check["detail"]
    assert "/local/channels/approvals/join" in check["fix"]
    assert doctor(dev)[0] == 0


def test_a_token_slack_refuses(dev: Dev) -> None:
    dev.post("/local/faults", {"method": "auth.test", "error": "invalid_auth"})
    try:
        code, report = doctor(dev)
    finally:
        clear_faults(dev)
    assert code == 1
    assert failed(report) == ["bot token (auth.test)"]
    check = by_name(report)["bot token (auth.test)"]
    assert "invalid_auth" in check["detail"]
    assert "Bot User OAuth Token" in check["fix"]
    assert by_name(report)["bot in the default channel"]["outcome"] == "skip"


def clear_faults(dev: Dev) -> None:
    request = urllib.request.Request(dev.url + "/local/faults", method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        ("not json", "not JSON"),
        (json.dumps({"bot_token": "xoxb-replace-me", "signing_secret": "0" * 32}), "placeholder"),
        (json.dumps({"bot_token": "xoxb-1"}), "signing_secret is missing"),
        (json.dumps({"bot_token": "xoxp-user", "signing_secret": "0" * 32}), "not a bot token"),
        (json.dumps({"bot_token": "xoxb-1", "signing_secret": "short"}), "32 hex"),
    ],
)
def test_a_broken_secret(dev: Dev, broken: str, complaint: str) -> None:
    client, secret_id = secrets_client(dev)
    good = client.get_secret_value(SecretId=secret_id)["SecretString"]
    client.put_secret_value(SecretId=secret_id, SecretString=broken)
    try:
        code, report = doctor(dev)
    finally:
        client.put_secret_value(SecretId=secret_id, SecretString=good)
    assert code == 1
    assert failed(report) == ["secret"]
    check = by_name(report)["secret"]
    assert complaint in check["detail"]
    assert "local-secrets.json" in check["fix"]
    for needs_it in ("bot token (auth.test)", "bot in the default channel", "Slack request URL"):
        assert by_name(report)[needs_it]["outcome"] == "skip"


def test_a_topic_without_its_subscription(dev: Dev) -> None:
    config = dev.get("/local/config")
    sns = aws.stack_client(config, "sns")
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=config["topic_arn"])["Subscriptions"]
    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    try:
        code, report = doctor(dev)
    finally:
        sns.subscribe(
            TopicArn=config["topic_arn"], Protocol="sqs", Endpoint=subscription["Endpoint"]
        )
    assert code == 1
    assert failed(report) == ["topic and subscription"]
    check = by_name(report)["topic and subscription"]
    assert "no confirmed sqs subscription" in check["detail"]
    assert "restart `signoff dev`" in check["fix"]
    assert doctor(dev)[0] == 0


def test_a_request_url_that_does_not_answer_slack(dev: Dev) -> None:
    config = dev.get("/local/config")
    deployment = checkup.local_deployment(dev.url, config)
    deployment.events_url = dev.url + "/not-slack"
    checks = {c.name: c for c in checkup.run(deployment)}
    url = checks["Slack request URL"]
    assert url.outcome is checkup.Outcome.FAIL
    assert "HTTP 404" in url.detail
    assert url.fix


def test_no_local_stack_says_how_to_start_one() -> None:
    result = runner.invoke(cli.app, ["doctor"], env={"SIGNOFF_LOCAL_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 1
    assert "signoff dev" in result.output


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue  # that thread ended while we looked
    return found


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def test_dynamodb_local_stopped(tmp_path: Path) -> None:
    stack = _dev(tmp_path / "state")
    try:
        assert stack.proc is not None
        (java,) = [
            p for p in _children(stack.proc.pid) if "java" in Path(f"/proc/{p}/cmdline").read_text()
        ]
        endpoint = urllib.parse.urlsplit(stack.get("/local/config")["dynamodb_endpoint"])
        os.kill(java, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _answers(endpoint.hostname or "", endpoint.port or 0):
            assert time.monotonic() < deadline, "DynamoDB Local did not stop"
            time.sleep(0.1)
        code, report = doctor(stack)
    finally:
        stack.stop()
    assert code == 1
    assert "table and index" in failed(report)
    assert "restart `signoff dev`" in by_name(report)["table and index"]["fix"]
