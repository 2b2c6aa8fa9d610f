"""`signoff redrive` on a stack on loopback: the dead-letter queue on moto's SQS, the real
notifier handler behind a loopback Lambda Invoke API, the table on DynamoDB Local, Slack
the stand-in. The CLI runs unpatched (tests/integration/aws_stack.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import notifier.app
from signoff import cli
from signoff.events import Topic, encode
from signoff.local import aws
from signoff.local.sns_bridge import sns_lambda_event
from signoff.service import Approvals
from tests.conftest import StandInServer
from tests.factories import start_request
from tests.integration.aws_stack import LambdaInvoke, create_stack, outputs

pytestmark = pytest.mark.integration

runner = CliRunner()


@dataclass
class Deployed:
    stack: str
    queue_url: str
    sqs: Any
    lambda_api: LambdaInvoke
    run: Callable[..., Result]

    def dead_letter(self, body: str, error: str = "SlackApiError: internal_error") -> None:
        """As Lambda writes an asynchronous event that failed its retries."""
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": "req-1"},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": error},
            },
        )

    def waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"  # all handed back
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def deployed(
    lambda_env: dict[str, str], table: tuple[Any, str], moto_endpoint: str
) -> Iterator[Deployed]:
    stack = create_stack(moto_endpoint, aws.REGION, table=table[1], notifier=True)
    lambda_api = LambdaInvoke({f"{stack}-notifier": notifier.app.handler})
    env = {
        "AWS_ENDPOINT_URL_CLOUDFORMATION": moto_endpoint,
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_api.url,
        "COLUMNS": "200",
    }

    def run(*args: str) -> Result:
        return runner.invoke(cli.app, ["--stack", stack, *args], env=env)

    queue_url = outputs(moto_endpoint, aws.REGION, stack)["NotifierDeadLetterQueueUrl"]
    yield Deployed(stack, queue_url, aws.client(moto_endpoint, "sqs"), lambda_api, run)
    lambda_api.stop()


def event(kind: Topic, approval_id: str, message_id: str) -> str:
    envelope = {
        "Type": "Notification",
        "MessageId": message_id,
        "Message": encode(kind, approval_id),
    }
    return json.dumps(sns_lambda_event(envelope, "arn:aws:sns:us-east-1:123456789012:t"))


def posts(slack: StandInServer, approval_id: str) -> int:
    """Request messages posted for the approval (not thread replies, not DMs)."""
    return sum(
        1
        for m in slack.standin.conversation()["messages"]
        if (m.get("metadata") or {}).get("event_type") == "signoff_request"
        and approval_id in json.dumps(m.get("metadata"))
    )


def test_redrive_replays_each_event_once_and_deletes_what_was_handled(
    deployed: Deployed, approvals: Approvals, slack: StandInServer, lambda_context: Any
) -> None:
    approvals.open(start_request("apr-r1"))
    approvals.open(start_request("apr-r2"))
    # apr-r2's post failed into the queue, and a later delivery posted it after all.
    notifier.app.handler(json.loads(event(Topic.REQUESTED, "apr-r2", "m-0")), lambda_context)
    deployed.dead_letter(event(Topic.REQUESTED, "apr-r1", "m-1"))
    deployed.dead_letter(event(Topic.REQUESTED, "apr-r2", "m-2"))
    deployed.dead_letter("not an SNS event", error="")
    assert (posts(slack, "apr-r1"), posts(slack, "apr-r2")) == (0, 1)

    listed = deployed.run("redrive", "--dry-run")
    assert listed.exit_code == 0, listed.output
    assert "3 event(s) wait in the dead-letter queue" in listed.stderr
    assert "would replay  requested apr-r1 — SlackApiError: internal_error" in listed.stdout
    assert "skipped  not a signoff notifier event" in listed.stdout
    assert "2 event(s) would be replayed, 1 left (nothing was changed)" in listed.stdout
    assert deployed.lambda_api.invocations == []
    assert deployed.waiting() == 3  # listed, and handed back at once

    replayed = deployed.run("redrive")
    assert replayed.exit_code == 1, replayed.output  # one event is left for a person
    assert "replayed  requested apr-r1" in replayed.stdout
    assert "replayed  requested apr-r2" in replayed.stdout
    assert "2 replayed, 1 left in the queue" in replayed.stdout
    assert len(deployed.lambda_api.invocations) == 2
    # The notifier's claims hold: apr-r1 is posted now, apr-r2 is not posted again.
    assert (posts(slack, "apr-r1"), posts(slack, "apr-r2")) == (1, 1)
    assert deployed.waiting() == 1

    again = deployed.run("redrive", "--json")
    lines = [json.loads(line) for line in again.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["skipped"]
    assert (posts(slack, "apr-r1"), posts(slack, "apr-r2")) == (1, 1)


def test_an_event_that_fails_again_stays_in_the_queue_with_its_error(
    deployed: Deployed, approvals: Approvals, slack: StandInServer
) -> None:
    approvals.open(start_request("apr-f1"))
    approvals.open(start_request("apr-f2"))
    deployed.dead_letter(event(Topic.REQUESTED, "apr-f1", "m-1"))
    deployed.dead_letter(event(Topic.REQUESTED, "apr-f2", "m-2"))
    slack.standin.fault("chat.postMessage", "internal_error", count=1)  # Slack fails once more

    first = deployed.run("redrive", "--limit", "1")
    assert first.exit_code == 1, first.output
    assert "FAILED  requested apr-f" in first.stdout
    assert "SlackApiError" in first.stdout and "internal_error" in first.stdout
    assert "0 replayed, 1 left in the queue" in first.stdout
    assert deployed.waiting() == 2  # the failed one, and the one past --limit

    second = deployed.run("redrive")
    assert second.exit_code == 0, second.output
    assert "2 replayed, 0 left in the queue" in second.stdout
    assert (posts(slack, "apr-f1"), posts(slack, "apr-f2")) == (1, 1)
    assert deployed.waiting() == 0
    assert "0 event(s) wait in the dead-letter queue" in deployed.run("redrive").stderr


def test_a_notifier_that_cannot_be_invoked_stops_the_run_and_loses_nothing(
    deployed: Deployed, approvals: Approvals
) -> None:
    approvals.open(start_request("apr-x1"))
    deployed.dead_letter(event(Topic.REQUESTED, "apr-x1", "m-1"))
    deployed.lambda_api.functions.clear()  # Lambda answers ResourceNotFoundException
    result = deployed.run("redrive")
    assert result.exit_code == 1
    assert f"invoking the notifier {deployed.stack}-notifier failed" in result.stderr
    assert "Function not found" in result.stderr
    assert deployed.waiting() == 1


def test_redrive_needs_a_deployed_stack() -> None:
    result = runner.invoke(cli.app, ["redrive"], env={"SIGNOFF_STACK": None})
    assert result.exit_code == 2
    assert "name the stack with --stack NAME" in result.stderr
