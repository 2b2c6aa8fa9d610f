"""AWS's durable limits: the estimate of an approval's operations, the policy check built on
it, and the largest start payload the CLI sends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cfnlint.decode import decode_str

from signoff import limits
from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import ConfigError, ValidationError
from signoff.model import (
    MAX_APPROVERS,
    MAX_TIMEOUT,
    StartRequest,
)
from signoff.policy import PolicyBook
from signoff.targets import AwsTarget
from tests import card_shapes
from tests.factories import start_request

HOUR = timedelta(hours=1)
# Outside the Basic Multilingual Plane: one character to Slack, 4 bytes in UTF-8 and 12
# (a \\u escape pair) in ASCII-only JSON. No character costs more.
WIDE = "\U0001f600"


def test_an_hour_without_reminders_is_its_rounds() -> None:
    # Looks at 0, 60, 180, 420, 900, 1860 and 3600 s (AWS's poll: 60 s doubling, the last
    # sleep cut at the deadline): 7 looks, 6 sleeps, and 5 for every approval.
    assert limits.operations(HOUR, doorbell=False) == 7 + 6 + 5
    # The doorbell sleeps on a callback and the step that arms it: two per sleep.
    assert limits.operations(HOUR) == 7 + 2 * 6 + 5


def test_reminders_escalation_and_votes_add_their_steps() -> None:
    # Every 10 minutes: looks at 0, 60, 180, 420, then 600 ... 3000 (a reminder each, two
    # steps), and 3600: 10 looks, 9 sleeps, 5 reminders.
    ten = timedelta(minutes=10)
    assert limits.operations(HOUR, ten, doorbell=False) == 10 + 9 + 5 * 2 + 5
    # An escalation at 25 minutes: its two steps, and one more round (look and sleep).
    assert limits.operations(HOUR, ten, timedelta(minutes=25), doorbell=False) == 34 + 2 + 2
    # A vote short of the quorum wakes the wait once: look, publish-progress, callback, arm.
    assert limits.operations(HOUR, ten, votes=3) == limits.operations(HOUR, ten) + 3 * 4


def test_a_week_at_the_shortest_reminder_matches_what_the_emulator_counted() -> None:
    # tests/integration/test_durable_limits.py ran it: 20m reminders and an escalation after
    # 1h over 7 days, doorbell off, counted MEASURED operations (the execution included).
    measured = 2030
    estimate = limits.operations(MAX_TIMEOUT, timedelta(minutes=20), HOUR, doorbell=False)
    assert measured <= estimate <= measured * 1.05


def test_the_shortest_reminder_is_the_boundary_of_the_budget() -> None:
    shortest = limits.shortest_reminder(HOUR, MAX_APPROVERS)
    assert shortest == timedelta(minutes=20)
    votes = MAX_APPROVERS - 1
    assert limits.operations(MAX_TIMEOUT, shortest, HOUR, votes=votes) <= limits.OPERATIONS_BUDGET
    shorter = shortest - timedelta(minutes=1)
    assert limits.operations(MAX_TIMEOUT, shorter, HOUR, votes=votes) > limits.OPERATIONS_BUDGET
    # Fewer votes to leave room for: a minute less will do.
    assert limits.shortest_reminder(None, 1) == timedelta(minutes=19)
    assert limits.OPERATIONS_BUDGET < limits.MAX_OPERATIONS


def test_the_problem_names_the_cost_the_limit_and_the_fix() -> None:
    problem = limits.reminder_problem(timedelta(minutes=1), HOUR, MAX_APPROVERS)
    assert problem == (
        "remind_every 1m would take 50,502 durable operations over a 7d request; AWS "
        "allows 3,000 per execution and signoff plans for at most 2,700: use at least 20m"
    )
    assert limits.reminder_problem(timedelta(minutes=20), HOUR, MAX_APPROVERS) is None
    assert limits.reminder_problem(None, HOUR, MAX_APPROVERS) is None


@pytest.mark.parametrize(
    ("rule", "refused"),
    [
        ("remind_every: 1m", "remind_every 1m would take 50,502 durable operations"),
        ("remind_every: 10m", "AWS allows 3,000 per execution"),
        ("remind_every: 19m", "use at least 20m"),
    ],
)
def test_the_policy_document_refuses_reminders_aws_would_stop(rule: str, refused: str) -> None:
    document = (
        "policies:\n  hot:\n    approver_groups: [S0DBA]\n    min_approvals: 25\n"
        f"    escalate_after: 1h\n    escalate_to: S0ONCALL\n    {rule}\n"
    )
    with pytest.raises(ConfigError, match=refused):
        PolicyBook.parse(document, source="policies.yaml")
    allowed = PolicyBook.parse(document.replace(rule, "remind_every: 20m"), source="p")
    assert allowed.rule("hot").remind_every == timedelta(minutes=20)


def test_the_template_runs_what_the_estimate_assumes() -> None:
    template: Any = decode_str((Path(__file__).parents[2] / "template.yaml").read_text())[0]
    workflow = template["Resources"]["WorkflowFunction"]["Properties"]
    # The execution outlives the longest request (so the workflow, not Lambda, ends it),
    # within AWS's longest.
    timeout = workflow["DurableConfig"]["ExecutionTimeout"]
    assert MAX_TIMEOUT.total_seconds() < timeout <= limits.MAX_DURATION.total_seconds()
    # AWS's safety poll is the settings' default: nothing in the template changes it.
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **workflow.get("Environment", {}).get("Variables", {}),
    }
    assert "SIGNOFF_TABLE" in variables
    assert not [name for name in variables if name.startswith("SIGNOFF_POLL_")]


# -- the start payload -------------------------------------------------------------------


def largest_request() -> StartRequest:
    """What kickoff accepts at its largest: 25 approvers, ten groups, every id at its
    longest (the members are found later, in the workflow), and the text in WIDE
    characters filling the card's budget (one approval, so text has the most room)."""
    return card_shapes.largest_request(
        WIDE,
        id="apr-" + "l" * 60,
        requester="U" + "R" * 63,
        approvers=tuple(f"U{n:063d}" for n in range(MAX_APPROVERS)),
        approver_groups=tuple(f"S{n:020d}" for n in range(10)),
        channel="c" * 80,
        timeout=MAX_TIMEOUT,
    )


class StubbedAws:
    """What AwsTarget asks a boto3 session for, answered by botocore's Stubber: the stack's
    outputs, and the asynchronous invoke that starts the workflow (its Payload kept)."""

    def __init__(self) -> None:
        keys = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        self.clients = {
            n: boto3.client(n, **keys) for n in ("cloudformation", "lambda", "dynamodb")
        }
        self.sent: list[bytes] = []
        self.clients["lambda"].meta.events.register(
            "before-parameter-build.lambda.Invoke",
            lambda params, **_: self.sent.append(params["Payload"]),
        )
        stacks = Stubber(self.clients["cloudformation"])
        outputs = {"TableName": "t", "WorkflowFunctionArn": "arn:aws:lambda:::function:w:live"}
        stacks.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                    }
                ]
            },
        )
        stacks.activate()
        self.invoke = Stubber(self.clients["lambda"])
        self.invoke.add_response("invoke", {"StatusCode": 202})
        self.invoke.activate()

    def client(self, name: str, **_: Any) -> Any:
        return self.clients[name]


def test_the_largest_request_starts_within_awss_input_limit() -> None:
    aws = StubbedAws()
    request = largest_request()
    AwsTarget("s", session=aws).start(request)
    (payload,) = aws.sent
    assert request_from_payload(json.loads(payload)) == request
    # UTF-8: 4 bytes for such a character, where ASCII-only JSON (\\u escapes) spends 12.
    assert len(payload) <= limits.MAX_INPUT_BYTES // 2
    assert len(json.dumps(request_to_payload(request)).encode()) > 2 * len(payload)


def test_a_lone_surrogate_never_reaches_the_utf8_start_payload() -> None:
    # What an undecodable byte in a command-line argument becomes: UTF-8 cannot carry it,
    # so the request is refused before AwsTarget encodes it.
    with pytest.raises(ValidationError, match=r"the title contains a lone surrogate \(U\+DCFF\)"):
        start_request(title="deploy \udcff")
