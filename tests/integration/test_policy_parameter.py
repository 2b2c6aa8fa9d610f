"""The deployed policy document as data: the workflow reads it from SSM (moto) through the
same wiring as on AWS, on DynamoDB Local, in the durable emulator.

A broken document never fails an execution: kickoff is refused, naming the problem. A
document pushed while an approval runs changes the next approvals, never that one.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

import workflow_fn.app
from signoff import wiring
from signoff.codec import request_to_payload
from signoff.errors import NotFoundError, RefusedError
from signoff.local import aws
from signoff.model import Decision, Status
from signoff.policy import SsmPolicies, push_policies, read_policies
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import _forget_cached_secrets, drain
from tests.factories import start_request

pytestmark = pytest.mark.integration

TWO_OF_TWO = """\
allow_ad_hoc: false
policies:
  prod-deploy:
    approvers: [U0A, U0B]
    min_approvals: 2
"""
# The same policy name, other rules: pushed while the first approval is running.
ONE_OF_C = TWO_OF_TWO.replace("[U0A, U0B]", "[U0C]").replace("min_approvals: 2", "min_approvals: 1")


@pytest.fixture
def parameter(lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The functions' SSM parameter (template.yaml's SIGNOFF_POLICIES_PARAMETER) on moto."""
    name = f"/signoff-{secrets.token_hex(3)}/policies"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", lambda_env["AWS_ENDPOINT_URL_SNS"])
    monkeypatch.setenv("SIGNOFF_POLICIES_PARAMETER", name)
    _forget_cached_secrets()
    wiring.reset()
    yield name
    wiring.reset()


def ssm(lambda_env: dict[str, str]) -> Any:
    return aws.client(lambda_env["AWS_ENDPOINT_URL_SNS"], "ssm")


def run(request_payload: dict[str, Any], name: str) -> dict[str, Any]:
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        result = runner.run(
            input=json.dumps(request_payload), execution_name=name, execution_timeout=60
        )
    assert result.status.value == "SUCCEEDED", result.error
    return dict(json.loads(result.result))


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        # What `sam deploy --parameter-overrides Policies="$(cat policies.yaml)"` stored.
        ("allow_ad_hoc:", "allow_ad_hoc must be true or false"),
        ("policies: [unclosed", "expected ',' or ']'"),
        (
            "policies:\n  prod-deploy:\n    approvers: [U0A]\n    min_approvals: 2",
            "min_approvals is 2",
        ),
    ],
)
def test_a_broken_document_refuses_kickoff_instead_of_failing_the_workflow(
    lambda_env: dict[str, str],
    parameter: str,
    store: DynamoApprovalStore,
    local_aws: Any,
    document: str,
    problem: str,
) -> None:
    # Written by hand (the console, `aws ssm put-parameter`), past `signoff policies push`.
    ssm(lambda_env).put_parameter(Name=parameter, Value=document, Type="String", Overwrite=True)
    answer = run(request_to_payload(start_request("apr-broken")), "apr-broken")
    assert answer["status"] == "refused"
    assert answer["error"].startswith("the deployment's policy document is broken: ")
    assert f"SSM parameter {parameter}" in answer["error"]
    assert problem in answer["error"]
    with pytest.raises(NotFoundError):
        store.get("apr-broken")
    assert drain(local_aws.endpoint, local_aws.queue_url) == []


def test_an_unreadable_document_refuses_kickoff_too(
    lambda_env: dict[str, str], parameter: str, store: DynamoApprovalStore, monkeypatch: Any
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")  # nothing answers
    wiring.reset()
    answer = run(request_to_payload(start_request("apr-unread")), "apr-unread")
    assert answer["status"] == "refused"
    assert answer["error"].startswith("kickoff could not read what it needs, try again: ")
    assert f"cannot read the policy parameter {parameter}" in answer["error"]
    with pytest.raises(NotFoundError):
        store.get("apr-unread")


def test_no_parameter_is_no_document(
    lambda_env: dict[str, str], parameter: str, store: DynamoApprovalStore
) -> None:
    """A new stack, before its first `signoff policies push`: ad-hoc approvers only."""
    source = SsmPolicies(parameter, lambda: ssm(lambda_env), max_age=0)
    assert source.load().allow_ad_hoc and not source.load().policies
    assert read_policies(ssm(lambda_env), parameter) is None
    voter = approve_when_created(Approvals(store), "apr-adhoc", "U0A")
    assert run(request_to_payload(start_request("apr-adhoc")), "apr-adhoc")["status"] == "approved"
    voter.join()


def test_a_document_pushed_mid_approval_leaves_the_running_approval_its_rules(
    lambda_env: dict[str, str], parameter: str, store: DynamoApprovalStore
) -> None:
    client = ssm(lambda_env)
    assert push_policies(client, parameter, TWO_OF_TWO, "policies.yaml").version == 1
    approvals = Approvals(store)
    said: dict[str, Any] = {}

    def meanwhile() -> None:
        try:
            approval = wait_for(lambda: approvals.get("apr-running"))
            assert approval.policy.approvers == ("U0A", "U0B")
            # A new document: the same policy name, now U0C alone.
            said["pushed"] = push_policies(client, parameter, ONE_OF_C, "policies.yaml")
            try:
                approvals.decide("apr-running", "U0C", Decision.APPROVE)
            except RefusedError as exc:
                said["U0C"] = str(exc)
            said["U0A"] = approvals.decide("apr-running", "U0A", Decision.APPROVE).status
            said["U0B"] = approvals.decide("apr-running", "U0B", Decision.APPROVE).status
        except BaseException as exc:
            said["error"] = exc

    request = start_request("apr-running", approvers=(), policy="prod-deploy")
    voter = threading.Thread(target=meanwhile)
    voter.start()
    answer = run(request_to_payload(request), "apr-running")
    voter.join()
    assert "error" not in said, said.get("error")
    assert said["pushed"].version == 2 and said["pushed"].changed
    assert "not an approver" in said["U0C"]  # the new rules do not reach it
    assert said["U0A"] is Status.PENDING  # still two of two
    assert said["U0B"] is Status.APPROVED
    assert answer == {"id": "apr-running", "status": "approved"}
    record = store.get("apr-running")
    assert record.policy.approvers == ("U0A", "U0B") and record.policy.min_approvals == 2

    # The next approval gets the new rules (once the functions' 60 s cache has passed).
    _forget_cached_secrets()
    wiring.reset()
    voter = approve_when_created(approvals, "apr-next", "U0C")
    after = start_request("apr-next", approvers=(), policy="prod-deploy")
    assert run(request_to_payload(after), "apr-next")["status"] == "approved"
    voter.join()
    assert store.get("apr-next").policy.approvers == ("U0C",)
    assert store.get("apr-next").policy.min_approvals == 1


def approve_when_created(approvals: Approvals, approval_id: str, user: str) -> threading.Thread:
    voter = threading.Thread(
        target=lambda: (
            wait_for(lambda: approvals.get(approval_id)),
            approvals.decide(approval_id, user, Decision.APPROVE),
        )
    )
    voter.start()
    return voter


def wait_for(check: Callable[[], Any], timeout: float = 30) -> Any:
    give_up = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except NotFoundError:
            value = None
        if value:
            return value
        assert time.monotonic() < give_up, "never happened"
        time.sleep(0.05)
