"""`signoff doctor --stack`: the checks only a deployed stack has, on loopback servers.

The table is on DynamoDB Local; the topic, the dead-letter queue and the secret on moto;
Slack is the stand-in. CloudFormation (outputs, parameters, resources) and Lambda
(GetFunction on the alias) are real botocore clients answered by botocore's Stubber.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from signoff import doctor as checkup
from signoff.local import aws
from signoff.local.dynamodb import local_client
from tests.conftest import BOT_TOKEN, StandInServer

pytestmark = pytest.mark.integration

STACK = "signoff-prod"
ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:signoff-prod-workflow:live"


class Stack:
    """A deployed stack's pieces on loopback, and the session the doctor reads it with."""

    def __init__(self, ddb_endpoint: str, table: str, moto: str, durable: bool):
        suffix = secrets.token_hex(4)
        sns, sqs = aws.client(moto, "sns"), aws.client(moto, "sqs")
        self.topic = sns.create_topic(Name=f"t-{suffix}")["TopicArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="lambda", Endpoint=ALIAS)
        self.dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
        self.secret = aws.client(moto, "secretsmanager").create_secret(
            Name=f"slack-{suffix}",
            SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": "0" * 32}),
        )["ARN"]
        keys = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        cloudformation = boto3.client("cloudformation", **keys)
        stub = Stubber(cloudformation)
        outputs = {
            "TableName": table,
            "TopicArn": self.topic,
            "WorkflowFunctionArn": ALIAS,
            "SlackEventsUrl": "https://abc.lambda-url.us-east-1.on.aws/",
            "SlackSecretArn": self.secret,
            "AllowCliDecisions": "false",
        }
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": STACK,
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                        "Parameters": [
                            {"ParameterKey": "DefaultChannel", "ParameterValue": "approvals"}
                        ],
                    }
                ]
            },
            {"StackName": STACK},
        )
        stub.add_response(
            "describe_stack_resources",
            {
                "StackResources": [
                    {
                        "LogicalResourceId": "NotifierDeadLetterQueue",
                        "PhysicalResourceId": self.dlq,
                        "ResourceType": "AWS::SQS::Queue",
                        "Timestamp": "2026-01-01T00:00:00Z",
                        "ResourceStatus": "CREATE_COMPLETE",
                    }
                ]
            },
            {"StackName": STACK},
        )
        stub.activate()
        lambda_client = boto3.client("lambda", **keys)
        lambda_stub = Stubber(lambda_client)
        configuration: dict[str, Any] = {"FunctionName": "signoff-prod-workflow"}
        if durable:
            configuration["DurableConfig"] = {"ExecutionTimeout": 691200}
        lambda_stub.add_response(
            "get_function", {"Configuration": configuration}, {"FunctionName": ALIAS}
        )
        lambda_stub.activate()
        self.stubs = [stub, lambda_stub]
        self.clients = {
            "cloudformation": cloudformation,
            "lambda": lambda_client,
            "dynamodb": local_client(ddb_endpoint),
            "sns": sns,
            "sqs": sqs,
            "secretsmanager": aws.client(moto, "secretsmanager"),
        }

    def client(self, name: str, **_: Any) -> Any:
        return self.clients[name]


def doctor(stack: Stack, slack: StandInServer) -> dict[str, checkup.Check]:
    deployment = checkup.aws_deployment(STACK, session=stack)
    assert deployment.events_url == "https://abc.lambda-url.us-east-1.on.aws/slack/events"
    deployment.slack_api_url = f"{slack.base_url}/api/"  # Slack is the stand-in here
    deployment.events_url = f"{slack.base_url}/not-the-function"
    checks = {c.name: c for c in checkup.run(deployment)}
    for stub in stack.stubs:
        stub.assert_no_pending_responses()
    return checks


def test_a_healthy_stack(
    ddb_endpoint: str, table: tuple[Any, str], moto_endpoint: str, slack: StandInServer
) -> None:
    checks = doctor(Stack(ddb_endpoint, table[1], moto_endpoint, durable=True), slack)
    passed = {n for n, c in checks.items() if c.outcome is checkup.Outcome.PASS}
    assert passed == {
        "stack outputs",
        "table and index",
        "topic and subscription",
        "dead-letter queue empty",
        "secret",
        "bot token (auth.test)",
        "bot in the default channel",
        "workflow alias is durable",
    }
    assert "691200 s" in checks["workflow alias is durable"].detail
    # No function answers here: the request URL check fails, and says where to look.
    url = checks["Slack request URL"]
    assert url.outcome is checkup.Outcome.FAIL
    assert "SlackEventsUrl" in url.fix


def test_failed_notifier_events_and_an_alias_that_is_not_durable(
    ddb_endpoint: str, table: tuple[Any, str], moto_endpoint: str, slack: StandInServer
) -> None:
    stack = Stack(ddb_endpoint, table[1], moto_endpoint, durable=False)
    stack.clients["sqs"].send_message(QueueUrl=stack.dlq, MessageBody="{}")
    checks = doctor(stack, slack)
    dead = checks["dead-letter queue empty"]
    assert dead.outcome is checkup.Outcome.FAIL
    assert "1 notifier event(s)" in dead.detail
    assert stack.dlq in dead.fix
    alias = checks["workflow alias is durable"]
    assert alias.outcome is checkup.Outcome.FAIL
    assert "no DurableConfig" in alias.detail
    assert "sam deploy" in alias.fix
