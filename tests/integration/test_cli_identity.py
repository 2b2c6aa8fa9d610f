"""CLI decisions on a deployed stack: who really called is audited, and the stack can say no.

The table is DynamoDB Local; CloudFormation and STS are real botocore clients answered by
botocore's Stubber, so AwsTarget runs unchanged down to the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cfnlint.decode import decode_str
from typer.testing import CliRunner, Result

from signoff import cli
from signoff.cli import context
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from signoff.targets import AwsTarget
from tests.factories import start_request
from tests.integration.test_template import TEMPLATE

pytestmark = pytest.mark.integration

STACK = "signoff-test"
CALLER = "arn:aws:sts::123456789012:assumed-role/deployer/alice@example.com"
runner = CliRunner()


class StubbedSession:
    """What AwsTarget asks a boto3 session for: DynamoDB Local for the table; CloudFormation
    and STS stubbed at the botocore level; Lambda on a closed port (nothing is started)."""

    def __init__(self, ddb_endpoint: str, table: str, allow: str | None):
        # DynamoDB Local keeps one database per access key: the fixtures' key.
        keys = {
            "region_name": "us-east-1",
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }
        outputs = {"TableName": table, "WorkflowFunctionArn": "arn:aws:lambda:::function:w:live"}
        if allow is not None:
            outputs["AllowCliDecisions"] = allow
        cloudformation = boto3.client("cloudformation", **keys)
        self.cloudformation = Stubber(cloudformation)
        self.cloudformation.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": STACK,
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                    }
                ]
            },
            {"StackName": STACK},
        )
        sts = boto3.client("sts", **keys)
        self.sts = Stubber(sts)
        self.clients = {
            "cloudformation": cloudformation,
            "sts": sts,
            "dynamodb": boto3.client("dynamodb", endpoint_url=ddb_endpoint, **keys),
            "lambda": boto3.client("lambda", endpoint_url="http://127.0.0.1:9", **keys),
        }
        self.cloudformation.activate()
        self.sts.activate()

    def caller_is(self, arn: str) -> None:
        self.sts.add_response(
            "get_caller_identity",
            {"UserId": "AROAEXAMPLE:alice", "Account": "123456789012", "Arn": arn},
            {},
        )

    def client(self, name: str, **_: Any) -> Any:
        return self.clients[name]


@pytest.fixture
def deployed(
    ddb_endpoint: str, table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """`stack(allow)`: the CLI's target becomes a stack whose AllowCliDecisions is `allow`."""
    made: list[StubbedSession] = []

    def stack(allow: str | None) -> StubbedSession:
        session = StubbedSession(ddb_endpoint, table[1], allow)
        target = AwsTarget(STACK, session=session)
        monkeypatch.setattr(context, "target", lambda: target)
        made.append(session)
        return session

    yield stack
    for session in made:
        session.sts.assert_no_pending_responses()


@pytest.fixture
def opened(store: DynamoApprovalStore) -> DynamoApprovalStore:
    Approvals(store).open(start_request("apr-1"))  # U0REQ asks, U0A decides
    return store


def invoke(*args: str) -> Result:
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "400"})


def test_a_cli_decision_records_the_callers_aws_identity(deployed: Any, opened: Any) -> None:
    deployed("true").caller_is(CALLER)
    result = invoke("decide", "apr-1", "approve", "--as", "U0A")
    assert result.exit_code == 0, result.output
    events = {e.kind: e for e in opened.audit("apr-1")}
    assert events["voted"].actor == "U0A"
    assert events["voted"].detail["caller"] == CALLER
    assert events["decided"].detail["caller"] == CALLER
    assert "caller" not in events["created"].detail

    shown = invoke("show", "apr-1")
    assert shown.exit_code == 0, shown.output
    assert f"caller={CALLER}" in shown.output


def test_a_refused_cli_vote_is_audited_with_the_caller(deployed: Any, opened: Any) -> None:
    deployed("true").caller_is(CALLER)
    result = invoke("decide", "apr-1", "approve", "--as", "U0REQ")  # the requester
    assert result.exit_code == 1
    refused = [e for e in opened.audit("apr-1") if e.kind == "vote_refused"]
    assert [e.detail["caller"] for e in refused] == [CALLER]


def test_cli_decisions_off_refuses_decide(deployed: Any, opened: Any) -> None:
    deployed("false")  # no caller stubbed: STS must not even be asked
    result = invoke("decide", "apr-1", "approve", "--as", "U0A")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "refused: stack signoff-test takes no decisions from the CLI" in message
    assert "AllowCliDecisions=true" in message
    assert "Traceback" not in result.output
    assert [e.kind for e in opened.audit("apr-1")] == ["created"]
    assert opened.get("apr-1").status.value == "pending"


def test_a_stack_without_the_output_takes_no_cli_decisions(deployed: Any, opened: Any) -> None:
    deployed(None)
    result = invoke("decide", "apr-1", "reject", "--as", "U0A", "--reason", "no")
    assert result.exit_code == 1
    assert "no AllowCliDecisions output" in " ".join(result.output.split())
    assert opened.get("apr-1").status.value == "pending"


def test_cli_decisions_off_still_lets_the_requester_cancel(deployed: Any, opened: Any) -> None:
    deployed("false")
    refused = invoke("cancel", "apr-1", "--as", "U0A")  # an approver
    assert refused.exit_code == 1
    assert "only its requester (U0REQ) may cancel" in " ".join(refused.output.split())

    deployed("false").caller_is(CALLER)
    result = invoke("cancel", "apr-1", "--as", "U0REQ", "--reason", "wrong ticket")
    assert result.exit_code == 0, result.output
    (cancelled,) = [e for e in opened.audit("apr-1") if e.kind == "cancelled"]
    assert cancelled.actor == "U0REQ"
    assert cancelled.detail == {"reason": "wrong ticket", "caller": CALLER}


def test_the_template_turns_cli_decisions_off_by_default() -> None:
    template, matches = decode_str(TEMPLATE.read_text())
    assert not matches and template is not None
    parameter = template["Parameters"]["AllowCliDecisions"]
    assert parameter["Default"] == "false"
    assert sorted(parameter["AllowedValues"]) == ["false", "true"]
    assert template["Outputs"]["AllowCliDecisions"]["Value"] == {"Ref": "AllowCliDecisions"}
