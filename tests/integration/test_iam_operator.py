"""IAM for the operator's commands: `doctor`, `policies push`, `policies` and `redrive`
(with and without --dry-run) run as someone holding only template.yaml's OperatorPolicy;
each AWS call they make, and each the notifier makes while redrive replays to it, is
evaluated by @cloud-copilot/iam-simulate (tests/iam) against that policy or the
notifier's role. The stack is on loopback (tests/integration/aws_stack.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

import notifier.app
from signoff import cli, targets
from signoff.events import Topic, encode
from signoff.local import aws
from signoff.local.sns_bridge import sns_lambda_event
from signoff.service import Approvals
from tests.factories import start_request
from tests.iam import stack as model
from tests.iam.evaluate import Request, simulate
from tests.iam.recorder import Recorder, as_persona
from tests.iam.stack import Binding, Deployment, authorizations, grants
from tests.integration.aws_stack import LambdaInvoke, create_stack, outputs

pytestmark = pytest.mark.integration

OPERATOR = "OperatorPolicy"
# Operator grants no signoff command uses, each with why it stays.
NOT_EXERCISED = {
    "ssm:GetParameterHistory": "going back a version: `aws ssm get-parameter-history`",
}
DOCUMENT = "allow_ad_hoc: true\nadmins: [U0BOSS]\n"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return Deployment(model.translate(home=tmp_path_factory.mktemp("sam-home")))


@pytest.fixture
def operated(
    lambda_env: dict[str, str],
    table: tuple[Any, str],
    local_aws: aws.LocalAws,
    moto_endpoint: str,
    approvals: Approvals,
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[list[Request], dict[str, int]]]:
    """Every command run once as the operator; the requests IAM would see, and exit codes."""
    stack = create_stack(
        moto_endpoint, aws.REGION, table=table[1], notifier=True, secret=local_aws.secret_id
    )
    found = outputs(moto_endpoint, aws.REGION, stack)
    sqs = aws.client(moto_endpoint, "sqs")
    approvals.open(start_request("apr-op"))
    envelope = {"MessageId": "m-1", "Message": encode(Topic.REQUESTED, "apr-op")}
    event = sns_lambda_event(envelope, local_aws.topic_arn)
    for body in (json.dumps(event), "not an event"):
        sqs.send_message(QueueUrl=found["NotifierDeadLetterQueueUrl"], MessageBody=body)
    (tmp_path / "policies.yaml").write_text(DOCUMENT)
    lambda_api = LambdaInvoke({f"{stack}-notifier": notifier.app.handler})
    recorder = Recorder()
    recorder.install()  # before any client of the CLI or the notifier is made
    # The CLI's clients from boto3's default session, where the recorder listens.
    monkeypatch.setattr(targets, "aws_session", lambda *_: boto3._get_default_session())
    monkeypatch.setattr("signoff.aws_session.aws_session", lambda *_: boto3._get_default_session())
    env = {
        "AWS_ENDPOINT_URL_CLOUDFORMATION": moto_endpoint,
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,
        "AWS_ENDPOINT_URL_SSM": moto_endpoint,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_api.url,
        "SIGNOFF_STACK": stack,
    }
    exits: dict[str, int] = {}
    try:
        for args in (
            ("policies", "push", str(tmp_path / "policies.yaml")),
            ("policies",),
            ("redrive", "--dry-run"),
            ("redrive",),
            ("doctor", "--json"),
        ):
            with as_persona(OPERATOR):
                result = CliRunner().invoke(cli.app, list(args), env=env)
            exits[" ".join(a for a in args if not a.endswith(".yaml"))] = result.exit_code
    finally:
        recorder.uninstall()
        lambda_api.stop()
    binding = Binding(
        deployment,
        tables={table[1]: "ApprovalsTable"},
        topics={found["TopicArn"]: "ApprovalsTopic"},
        secrets={local_aws.secret_id: "SlackSecret"},
        parameters={f"/{stack}/policies": f"/{model.STACK}/policies"},
        functions={
            f"{stack}-notifier": "NotifierFunction",
            f"{stack}-workflow": "WorkflowFunction",
        },
        queues={found["NotifierDeadLetterQueueUrl"]: "NotifierDeadLetterQueue"},
        stacks={stack},
    )
    requests = {
        Request(call.principal, action, resource): None
        for call in recorder.snapshot()
        if call.principal is not None  # the test's own setup
        for action, resource in authorizations(call, binding)
    }
    yield list(requests), exits


def principals(deployment: Deployment) -> dict[str, list[dict[str, Any]]]:
    return {
        f"cli:{OPERATOR}": [deployment.managed_policy(OPERATOR)],
        "NotifierFunction": deployment.role_policies("NotifierFunction"),
    }


def test_the_operator_policy_allows_every_call_of_the_operators_commands(
    operated: tuple[list[Request], dict[str, int]], deployment: Deployment
) -> None:
    requests, exits = operated
    assert exits == {
        "policies push": 0,
        "policies": 0,
        "redrive --dry-run": 0,
        "redrive": 1,  # the message that is not an event stays for a person
        "doctor --json": 1,  # no Slack, no workflow function here: some checks fail
    }
    actions = {r.action for r in requests if r.principal == f"cli:{OPERATOR}"}
    assert {
        "ssm:PutParameter",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "lambda:InvokeFunction",
    } <= actions
    assert any(r.principal == "NotifierFunction" for r in requests)  # the replay ran
    verdicts = simulate(principals(deployment), requests)
    for v in verdicts:  # shown with -s
        print(v.result, v.request.principal, v.request.action, v.request.resource)
    refused = [v.request for v in verdicts if not v.allowed]
    assert not refused, refused
    used = {grant for v in verdicts for grant in v.allowed_by if grant[0] == OPERATOR}
    unused = [
        g
        for g in grants(deployment.managed_policy(OPERATOR))
        if g not in used and g[2] not in NOT_EXERCISED
    ]
    assert not unused, f"operator grants no command used: {unused}"


def test_without_the_replay_grants_redrive_is_refused(
    operated: tuple[list[Request], dict[str, int]], deployment: Deployment
) -> None:
    requests, _ = operated
    policy = deployment.managed_policy(OPERATOR)
    for sid, action in (("ReplayToTheNotifier", "lambda:InvokeFunction"),
                        ("DeadLetterQueue", "sqs:ChangeMessageVisibility")):  # fmt: skip
        statements = []
        for st in policy["policy"]["Statement"]:
            if st["Sid"] == sid:
                kept = [a for a in model._as_list(st["Action"]) if a != action]
                if not kept:
                    continue
                st = {**st, "Action": kept}
            statements.append(st)
        cut = {**policy, "policy": {**policy["policy"], "Statement": statements}}
        verdicts = simulate(
            {f"cli:{OPERATOR}": [cut]}, [r for r in requests if "cli:" in r.principal]
        )
        refused = {v.request.action for v in verdicts if not v.allowed}
        assert refused == {action}, (sid, refused)
