"""SNS, SQS and Secrets Manager for the local stack: moto's server, in this process.

DynamoDB is NOT served by moto: its conditional writes are not safe under concurrency
(see docs/architecture.md); DynamoDB Local serves the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    topic_arn: str
    queue_url: str
    secret_id: str


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def start_moto() -> tuple[Any, str]:
    import logging

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def provision(endpoint: str, *, bot_token: str, signing_secret: str) -> LocalAws:
    """The topic, its SQS subscription (the notifier's local delivery) and the secret."""
    from signoff.wiring import quiet_wire_logs

    quiet_wire_logs()  # the secret's value is in CreateSecret's request body
    sns = client(endpoint, "sns")
    sqs = client(endpoint, "sqs")
    topic_arn = sns.create_topic(Name="signoff-approvals")["TopicArn"]
    queue_url = sqs.create_queue(
        QueueName="signoff-notifier", Attributes={"VisibilityTimeout": "5"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    secrets = client(endpoint, "secretsmanager")
    secret = secrets.create_secret(
        Name="signoff/slack",
        SecretString=json.dumps({"bot_token": bot_token, "signing_secret": signing_secret}),
    )
    return LocalAws(endpoint, topic_arn, queue_url, secret["ARN"])
