"""Fixtures: real servers on loopback, started here and stopped after.

Session-scoped servers (DynamoDB Local, moto, the Slack stand-in) with a fresh table
per test keep the suite fast without sharing state between tests.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff import wiring
from signoff.local import aws, serving
from signoff.local.dynamodb import DynamoDBLocal, local_client
from signoff.local.stack import LambdaContext
from signoff.schema import create_table
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore

TESTS = Path(__file__).parent
# Each directory is a tier, and the tier is the test's marker: `-m "not e2e"` and the like.
TIERS = ("unit", "functional", "contract", "integration", "e2e", "browser")

SIGNING_SECRET = "test-signing-secret-" + "0" * 12
BOT_TOKEN = "xoxb-test-token"

# A pytest-xdist worker starts with COLUMNS=80 and LINES=24 in its environment, and the
# CLI's consoles take their width from COLUMNS when they are created: every test process
# sizes output the same way, alone or in a worker, and a test that needs a width sets it.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its directory's tier, and `dynamodb` where it needs DynamoDB
    Local (Java); a tier marker that names another directory is a mistake."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            continue
        wrong = {m.name for m in item.iter_markers() if m.name in TIERS} - {tier}
        if wrong:
            raise pytest.UsageError(f"{item.nodeid} is in tests/{tier} but marked {sorted(wrong)}")
        item.add_marker(tier)
        if "ddb_endpoint" in getattr(item, "fixturenames", ()):
            item.add_marker("dynamodb")


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext("signoff-test")


@pytest.fixture(scope="session")
def ddb_endpoint() -> Iterator[str]:
    server = DynamoDBLocal()  # in memory
    server.start()
    yield server.endpoint
    server.stop()


@pytest.fixture
def table(ddb_endpoint: str) -> tuple[Any, str]:
    client = local_client(ddb_endpoint)
    name = f"t-{secrets.token_hex(4)}"
    create_table(client, name)
    return client, name


@pytest.fixture
def store(table: tuple[Any, str]) -> DynamoApprovalStore:
    client, name = table
    return DynamoApprovalStore(client, name)


@pytest.fixture
def approvals(store: DynamoApprovalStore) -> Approvals:
    return Approvals(store)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server, endpoint = aws.start_moto()
    yield endpoint
    server.stop()


@pytest.fixture
def local_aws(moto_endpoint: str) -> aws.LocalAws:
    """A fresh topic with an SQS queue subscribed (to count what was published) and a secret."""
    sns = aws.client(moto_endpoint, "sns")
    sqs = aws.client(moto_endpoint, "sqs")
    suffix = secrets.token_hex(4)
    topic = sns.create_topic(Name=f"topic-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"q-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    secret = aws.client(moto_endpoint, "secretsmanager").create_secret(
        Name=f"slack-{suffix}",
        SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}),
    )
    return aws.LocalAws(moto_endpoint, topic, queue_url, secret["ARN"])


def drain(endpoint: str, queue_url: str, settle: float = 0.5) -> list[dict[str, Any]]:
    """Every SNS envelope waiting in the queue (deleted as read)."""
    sqs = aws.client(endpoint, "sqs")
    found: list[dict[str, Any]] = []
    quiet_until = time.monotonic() + settle
    while time.monotonic() < quiet_until:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        for message in response.get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            quiet_until = time.monotonic() + settle
        if not response.get("Messages"):
            time.sleep(0.05)
    return found


class StandInServer:
    """The Slack stand-in alone on a free loopback port (Web API + response_url)."""

    def __init__(self, tmp: Path, events_url: str = "http://127.0.0.1:9/slack/events"):
        from flask import Flask
        from werkzeug.serving import make_server

        from signoff.local.slack_standin.routes import blueprint
        from signoff.local.slack_standin.standin import SlackStandIn

        app = Flask("standin")
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.standin = SlackStandIn(
            tmp / "slack.jsonl",
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            events_url=events_url,
            base_url=self.base_url,
        )
        app.register_blueprint(blueprint(self.standin))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        serving.stop(self.server)
        self.thread.join()


@pytest.fixture
def slack(tmp_path: Path) -> Iterator[StandInServer]:
    server = StandInServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch,
    ddb_endpoint: str,
    table: tuple[Any, str],
    local_aws: aws.LocalAws,
    slack: StandInServer,
) -> Iterator[dict[str, str]]:
    """The environment template.yaml gives the functions, pointed at loopback servers."""
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": aws.REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": ddb_endpoint,
        "AWS_ENDPOINT_URL_SNS": local_aws.endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": local_aws.endpoint,
        "SIGNOFF_TABLE": table[1],
        "SIGNOFF_TOPIC_ARN": local_aws.topic_arn,
        "SIGNOFF_SLACK_SECRET_ID": local_aws.secret_id,
        "SIGNOFF_SLACK_API_URL": f"{slack.base_url}/api/",
        "SIGNOFF_POLL_INITIAL_SECONDS": "1",
        "SIGNOFF_POLL_MAX_SECONDS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _forget_cached_secrets()
    wiring.reset()
    yield env
    wiring.reset()
    _forget_cached_secrets()


def _forget_cached_secrets() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    parameters.base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]
