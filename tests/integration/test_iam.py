"""IAM enforced: every AWS call the functions and the CLI make, judged by the grants
template.yaml gives them, as AWS would judge it.

One approval lifecycle runs through every handler in the local stack (`signoff dev`'s
LocalStack, in this process): kickoff with a user group, a click's thread reply that Slack
refuses with a retryable error (the once-claim is released and the event retried), approve
and reject (with the reason modal) in Slack, cancel from Slack by an admin, `/signoff`, the
Home tab, reminders and an escalation up to the deadline (in the emulator's virtual time),
and the CLI on a deployed-stack path (AwsTarget: CloudFormation outputs, the table, the
Lambda API) as a CLI user and as CI. Policies are read from SSM, as on AWS.

Every AWS call is recorded with who made it (tests/iam/recorder.py), turned into the
action(s) and resource ARN IAM checks on AWS (tests/iam/stack.py), and evaluated by
@cloud-copilot/iam-simulate against the function's role in the SAM-translated template
(SAM's AWS managed policies expanded) or against the CLI persona's managed policy.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python_testing.client import InMemoryServiceClient
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from flask import Flask, Response, jsonify, request
from typer.testing import CliRunner, Result
from werkzeug.serving import make_server

import workflow_fn.app
from signoff import cli, wiring
from signoff.cli import context
from signoff.codec import request_to_payload
from signoff.local import aws, serving
from signoff.local.dynamodb import free_port, local_client
from signoff.local.slack_standin.acts import app_home_opened
from signoff.local.slack_standin.workspace import dm_channel
from signoff.local.stack import TABLE, LocalStack
from signoff.store import DynamoApprovalStore
from signoff.targets import AwsTarget
from tests.factories import start_request
from tests.iam import stack as model
from tests.iam.evaluate import Request, Verdict, simulate
from tests.iam.recorder import Call, Recorder, as_persona
from tests.iam.stack import Binding, Deployment, authorizations, grants

pytestmark = pytest.mark.integration

FUNCTIONS = ("WorkflowFunction", "SlackFunction", "NotifierFunction")
CLI_USER, CI = "CliUserPolicy", "CiPolicy"
PARAMETER = f"/{model.STACK}/policies"
WORKFLOW = f"arn:aws:lambda:{aws.REGION}:123456789012:function:signoff-workflow"
REQUESTER, APPROVER, ADMIN = "U0REQ", "U0APPROVER", "U0ADMIN"
ONCALL = ("U0ON1", "U0ON2")
POLICIES = f"""
allow_ad_hoc: true
admins: [{ADMIN}]
policies:
  prod-deploy:
    approvers: [{APPROVER}]
    remind_every: 20m
    escalate_after: 25m
    escalate_to: S0ONCALL
"""

# Grants no call in the lifecycle uses, each with why it stays. Any other unused grant
# fails test_no_grant_goes_unused: remove it, or drive the code that needs it here.
NOT_EXERCISED = {
    # The Lambda service writes a function's logs with its role (not the function's code).
    ("AWSLambdaBasicExecutionRole", "logs:CreateLogGroup"): "Lambda writes the logs",
    ("AWSLambdaBasicExecutionRole", "logs:CreateLogStream"): "Lambda writes the logs",
    ("AWSLambdaBasicExecutionRole", "logs:PutLogEvents"): "Lambda writes the logs",
    ("AWSLambdaBasicDurableExecutionRolePolicy", "logs:CreateLogGroup"): "Lambda writes the logs",
    ("AWSLambdaBasicDurableExecutionRolePolicy", "logs:CreateLogStream"): "Lambda writes the logs",
    ("AWSLambdaBasicDurableExecutionRolePolicy", "logs:PutLogEvents"): "Lambda writes the logs",
    # The SDK reads an execution's state in pages when its history outgrows one
    # invocation's input; the emulator hands it whole.
    (
        "AWSLambdaBasicDurableExecutionRolePolicy",
        "lambda:GetDurableExecutionState",
    ): "the SDK pages a long history",
    # Lambda sends an event that failed its retries to the dead-letter queue with the role.
    ("NotifierFunctionRole/DeadLetterQueuePolicy", "sqs:SendMessage"): "Lambda fills the DLQ",
}


def _wait_until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    give_up = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# ----------------------------------------------------------------------------- the AWS side the CLI sees


class LambdaApi:
    """The Lambda API the CLI calls on a deployed stack (Invoke on the alias,
    GetDurableExecution, SendDurableExecutionCallbackSuccess), served on loopback by the
    local stack's durable emulator."""

    def __init__(self, local: LocalStack):
        app = Flask("lambda-api")
        app.logger.disabled = True
        self.local = local

        @app.post("/2015-03-31/functions/<path:function>/invocations")
        def invoke(function: str) -> Response:
            name = request.headers["X-Amz-Durable-Execution-Name"]
            arn, _ = local.durable.start(name, json.loads(request.get_data()))
            return Response(status=202, headers={"X-Amz-Durable-Execution-Arn": arn})

        @app.get("/2025-12-01/durable-executions/<path:arn>")
        def get_execution(arn: str) -> Response:
            name = arn.split("/durable-execution/", 1)[1].split("/", 1)[0]
            found = local.durable.describe(name)
            return jsonify(
                {
                    "DurableExecutionArn": arn,
                    "DurableExecutionName": name,
                    "FunctionArn": arn.split("/", 1)[0],
                    "StartTimestamp": time.time(),
                    "Status": str(found["status"]).upper(),
                    "Result": json.dumps(found.get("result")),
                }
            )

        @app.post("/2025-12-01/durable-execution-callbacks/<path:callback_id>/succeed")
        def callback(callback_id: str) -> Response | tuple[Response, int]:
            try:
                local.durable.runner.send_callback_success(callback_id, request.get_data())
            except Exception:  # the emulator's not-found: the callback is over (as on AWS)
                body = {"__type": "ResourceNotFoundException", "message": "no such callback"}
                return jsonify(body), 404
            return jsonify({})

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        serving.stop(self.server)
        self.thread.join()


class CliSession:
    """What AwsTarget asks a boto3 session for: clients from boto3's default session (the
    recorder's), each service at its local stand-in."""

    def __init__(self, endpoints: dict[str, str], credentials: aws.Credentials):
        self.endpoints = endpoints
        self.credentials = credentials

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoints[service],
            region_name=aws.REGION,
            # The local stack's moto serves its own run's credentials only; DynamoDB Local
            # takes any.
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
            **kwargs,
        )


# ----------------------------------------------------------------------------- the lifecycle


@dataclass
class Lifecycle:
    calls: list[Call]
    binding: Binding
    outcomes: dict[str, str] = field(default_factory=dict)
    cli_exits: dict[str, int] = field(default_factory=dict)


def _restore_environ(saved: dict[str, str]) -> None:
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update(saved)


class Driver:
    """Drives one lifecycle through the local stack and the CLI."""

    def __init__(self, local: LocalStack, session: CliSession, recorder: Recorder, store: Any):
        self.local = local
        self.store = store  # reads the table for the test; its client is not recorded
        self.standin = local.standin
        self.session = session
        self.recorder = recorder
        self.runner = CliRunner()
        self.exits: dict[str, int] = {}

    def cli(self, persona: str, *args: str) -> Result:
        with as_persona(persona):
            result = self.runner.invoke(cli.app, list(args), env={"COLUMNS": "400"})
        self.exits[f"{persona}: {' '.join(args)}"] = result.exit_code
        return result

    def request_message(self, approval_id: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for m in self.standin.conversation()["messages"]:
                meta = m.get("metadata") or {}
                if (
                    meta.get("event_type") == "signoff_request"
                    and meta.get("event_payload", {}).get("id") == approval_id
                ):
                    return dict(m)
            return None

        found: dict[str, Any] = _wait_until(find, f"the request message of {approval_id}")
        return found

    def start(self, persona: str, approval_id: str, *extra: str) -> dict[str, Any]:
        result = self.cli(
            persona,
            "start",
            "--id",
            approval_id,
            "--title",
            f"Deploy {approval_id}",
            "--requester",
            REQUESTER,
            "--channel",
            "approvals",
            *extra,
        )
        assert result.exit_code == 0, result.output
        return self.request_message(approval_id)

    def finished(self, approval_id: str) -> str:
        """Wait for the workflow to end; its outcome."""

        def done() -> str | None:
            found = self.local.durable.describe(approval_id)
            if found["status"] == "running":
                return None
            return str((found.get("result") or {}).get("status", found["status"]))

        outcome: str = _wait_until(done, f"the workflow of {approval_id} to end")
        return outcome

    def click(self, user: str, message: dict[str, Any], action: str) -> None:
        status, body = self.standin.click(user, message["channel"], message["ts"], action)
        assert status == 200, body

    def until_closed(self, approval_id: str, act: Callable[[], None], tries: int = 3) -> None:
        """Act (a click, a modal) until the request is closed: on a loaded machine the
        click's write may outlast its budget, and the user is told to try again."""
        for _ in range(tries):
            act()
            try:
                _wait_until(
                    lambda: self.store.get(approval_id).status.value != "pending",
                    f"{approval_id} to close",
                    timeout=15,
                )
                return
            except AssertionError:
                continue
        raise AssertionError(f"{approval_id} stayed pending after {tries} tries")

    def reject_with_reason(self, user: str, message: dict[str, Any], reason: str) -> None:
        self.with_reason(user, message, "signoff.reject", reason)

    def with_reason(self, user: str, message: dict[str, Any], action: str, reason: str) -> None:
        """Click `action` (Reject…, or the menu's Cancel request…) and submit its dialog."""
        seen = {v["id"] for v in self.standin.conversation()["views"]}
        self.click(user, message, action)
        view = _wait_until(
            lambda: [
                v
                for v in self.standin.conversation()["views"]
                if v["open"] and v["user"] == user and v["id"] not in seen
            ],
            "the reason dialog",
        )[-1]
        status, body = self.standin.submit_view(view["id"], user, {"reason": {"reason": reason}})
        assert status == 200, body


def _record_durable_calls(recorder: Recorder, mp: pytest.MonkeyPatch) -> None:
    """The emulator's in-memory client serves the workflow's checkpoints: record them."""
    checkpoint = InMemoryServiceClient.checkpoint
    get_state = InMemoryServiceClient.get_execution_state

    def checkpoint_recorded(self: Any, durable_execution_arn: str, *args: Any, **kw: Any) -> Any:
        recorder.record_durable(
            "WorkflowFunction", "CheckpointDurableExecution", durable_execution_arn
        )
        return checkpoint(self, durable_execution_arn, *args, **kw)

    def state_recorded(self: Any, durable_execution_arn: str, *args: Any, **kw: Any) -> Any:
        recorder.record_durable(
            "WorkflowFunction", "GetDurableExecutionState", durable_execution_arn
        )
        return get_state(self, durable_execution_arn, *args, **kw)

    mp.setattr(InMemoryServiceClient, "checkpoint", checkpoint_recorded)
    mp.setattr(InMemoryServiceClient, "get_execution_state", state_recorded)


def _drive(d: Driver) -> dict[str, str]:
    outcomes: dict[str, str] = {}

    # 1. A CLI user starts a request naming a user group (the workflow resolves it through
    #    Slack, with the bot token from the secret). Slack refuses the approver's thread
    #    reply once with a retryable error: the notifier releases its once-claim
    #    (an UpdateItem), fails the delivery, and the retry posts it.
    message = d.start(CLI_USER, "apr-iam-1", "--approver", APPROVER, "--approver-group", "S0ONCALL")
    d.standin.fault("chat.postMessage", "internal_error", channel="approvals")
    d.until_closed("apr-iam-1", lambda: d.click(APPROVER, message, "signoff.approve"))
    outcomes["apr-iam-1"] = d.finished("apr-iam-1")
    # CI waits for it and verifies it.
    assert d.cli(CI, "wait", "apr-iam-1").exit_code == 0
    assert d.cli(CI, "show", "apr-iam-1", "--json").exit_code == 0
    assert d.cli(CI, "audit", "apr-iam-1").exit_code == 0

    # 2. CI starts one; the approver rejects it in Slack with a reason (the modal).
    message = d.start(CI, "apr-iam-2", "--approver", APPROVER)
    d.until_closed("apr-iam-2", lambda: d.reject_with_reason(APPROVER, message, "not today"))
    outcomes["apr-iam-2"] = d.finished("apr-iam-2")

    # 3. A CLI user decides one from the terminal (rings the workflow's doorbell), and
    #    cancels another.
    d.start(CLI_USER, "apr-iam-3", "--approver", APPROVER)
    assert d.cli(CLI_USER, "decide", "apr-iam-3", "approve", "--as", APPROVER).exit_code == 0
    outcomes["apr-iam-3"] = d.finished("apr-iam-3")
    # The pipeline reports what it did after the approval (an audited once-write, and a
    # publish that has the notifier show it).
    report = ("report", "apr-iam-3", "succeeded", "--url", "https://ci.example/runs/7")
    reported = d.cli(CLI_USER, *report, "--key", "run-7")
    assert reported.exit_code == 0, reported.output
    d.start(CLI_USER, "apr-iam-4", "--approver", APPROVER)
    assert d.cli(CLI_USER, "cancel", "apr-iam-4", "--as", REQUESTER).exit_code == 0
    outcomes["apr-iam-4"] = d.finished("apr-iam-4")

    # 4. An admin named in the policy document (read from SSM) cancels one in Slack.
    message = d.start(CLI_USER, "apr-iam-5", "--approver", APPROVER)
    d.until_closed(
        "apr-iam-5", lambda: d.with_reason(ADMIN, message, "signoff.cancel", "wrong ticket")
    )
    outcomes["apr-iam-5"] = d.finished("apr-iam-5")

    # 5. `/signoff` and the Home tab, with one request pending.
    d.start(CLI_USER, "apr-iam-6", "--approver", APPROVER)
    status, body = d.standin.command(APPROVER, "")
    assert status == 200, body
    status, body = app_home_opened(d.standin, APPROVER)
    assert status == 200, body
    assert d.cli(CLI_USER, "cancel", "apr-iam-6", "--as", REQUESTER).exit_code == 0
    outcomes["apr-iam-6"] = d.finished("apr-iam-6")

    # 6. GitHub asks for a deployment (a signed deployment_protection_rule webhook): the
    #    Slack function reads the webhook secret, records the delivery and starts the
    #    workflow on the alias; the approval's outcome releases the run as the GitHub App
    #    (the notifier reads the App's key).
    status, said = d.local.github.send_webhook(repository="octo-org/api", run_id=77)
    assert status == 202, said
    github_id = str(said["id"])
    message = d.request_message(github_id)
    d.until_closed(github_id, lambda: d.click(APPROVER, message, "signoff.approve"))
    outcomes[github_id] = d.finished(github_id)
    _wait_until(
        lambda: any(e.kind.value == "gate_released" for e in d.store.audit(github_id)),
        "the GitHub gate's release",
    )

    # 7. The CLI user's read commands.
    for args in (
        ("list",),
        ("list", "--status", "all", "--since", "1d"),
        ("list", "--status", "approved", "--since", "1d"),
        ("show", "apr-iam-1"),
        ("audit", "--since", "1d"),
        ("policies",),
    ):
        result = d.cli(CLI_USER, *args)
        assert result.exit_code == 0, (args, result.output)
    return outcomes


def _drive_reminders(d: Driver, mp: pytest.MonkeyPatch) -> str:
    """7. A named policy's reminders and escalation, up to its deadline, in the emulator's
    virtual time (an hour in seconds): the notifier answers each in the thread."""
    mp.setenv("SIGNOFF_DOORBELL", "off")
    mp.setenv("SIGNOFF_POLL_INITIAL_SECONDS", str(4 * 3600))
    mp.setenv("SIGNOFF_POLL_MAX_SECONDS", str(4 * 3600))
    wiring.reset()
    request = start_request(
        "apr-iam-7", approvers=(), policy="prod-deploy", timeout=timedelta(hours=1)
    )
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=True) as runner:
        mp.setattr(wiring.workflow_deps_from_env().approvals, "clock", runner._clock.now)
        arn = runner.run_async(
            input=json.dumps(request_to_payload(request)),
            function_name="signoff-workflow",
            execution_name="apr-iam-7",
            execution_timeout=2 * 3600,
        )
        result = runner.wait_for_result(arn, timeout=240)
    assert result.status.value == "SUCCEEDED", result.error
    # The notifier has rendered the outcome and DMed it when the last notice is handled.
    _wait_until(
        lambda: [
            m
            for m in d.standin.conversation()["messages"]
            if m["channel"] == dm_channel(request.requester)
            and "apr-iam-7" in json.dumps(m)
            and "expired" in json.dumps(m).lower()
        ],
        "the expiry DM of apr-iam-7",
    )
    return str(json.loads(result.result)["status"])


def _quiet(local: LocalStack, sqs: Any) -> bool:
    """Nothing left for the notifier: its local delivery queue is empty."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=local.aws.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(v == "0" for v in attributes.values())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return Deployment(model.translate(home=tmp_path_factory.mktemp("sam-home")))


@pytest.fixture(scope="module")
def lifecycle(
    deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lifecycle]:
    saved = dict(os.environ)
    # As on Lambda (SIGNOFF_HOME_WINDOW_SECONDS unset): each event publishes its Home tabs
    # itself; the local stack's coalescing timers would make calls no function made.
    os.environ["SIGNOFF_HOME_WINDOW_SECONDS"] = "0"
    home = tmp_path_factory.mktemp("iam-stack")
    (home / "policies.yaml").write_text(POLICIES)
    local = LocalStack(home, port=free_port())
    recorder = Recorder()
    try:
        with pytest.MonkeyPatch.context() as mp:
            local.start()
            threading.Thread(target=local.serve_forever, daemon=True).start()
            moto = local.aws.endpoint
            local.standin.define_group("S0ONCALL", list(ONCALL))
            # Policies from SSM, as the template wires them (SIGNOFF_POLICIES_PARAMETER).
            aws.client(moto, "ssm").put_parameter(Name=PARAMETER, Value=POLICIES, Type="String")
            del os.environ["SIGNOFF_POLICIES_FILE"]
            os.environ["SIGNOFF_POLICIES_PARAMETER"] = PARAMETER
            os.environ["AWS_ENDPOINT_URL_SSM"] = moto
            wiring.reset()
            # The stack the CLI reads with --stack: its outputs name the local resources.
            outputs = {
                "TableName": TABLE,
                "TopicArn": local.aws.topic_arn,
                "WorkflowFunctionArn": f"{WORKFLOW}:live",
                "SlackSecretArn": local.aws.secret_id,
                "PoliciesParameterName": PARAMETER,
                "AllowCliDecisions": "true",
            }
            aws.client(moto, "cloudformation").create_stack(
                StackName=model.STACK,
                TemplateBody=json.dumps(
                    {
                        "Resources": {
                            "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}
                        },
                        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
                    }
                ),
            )
            lambda_api = LambdaApi(local)
            # Made before the recorder: their calls are the test's own.
            sqs = aws.client(moto, "sqs")
            store = DynamoApprovalStore(local_client(local.ddb.endpoint), TABLE)
            session = CliSession(
                {
                    "cloudformation": moto,
                    "sts": moto,
                    "ssm": moto,
                    "sns": moto,  # `signoff report` publishes to the notifier
                    "dynamodb": local.ddb.endpoint,
                    "lambda": lambda_api.url,
                },
                local.credentials,
            )
            mp.setattr(context, "target", lambda: AwsTarget(model.STACK, session=session))
            _record_durable_calls(recorder, mp)
            recorder.install()
            driver = Driver(local, session, recorder, store)
            try:
                outcomes = _drive(driver)
                outcomes["apr-iam-7"] = _drive_reminders(driver, mp)
                _wait_until(lambda: _quiet(local, sqs), "the notifier to finish")
            finally:
                recorder.uninstall()
                lambda_api.stop()
    finally:
        local.stop()
        _restore_environ(saved)
        wiring.reset()
    binding = Binding(
        deployment,
        tables={TABLE: "ApprovalsTable"},
        topics={local.aws.topic_arn: "ApprovalsTopic"},
        secrets={
            local.aws.secret_id: "SlackSecret",
            local.github_secret_ids[0]: "GitHubWebhookSecret",
            local.github_secret_ids[1]: "GitHubAppSecret",
        },
        parameters={PARAMETER: f"/{model.STACK}/policies"},
        functions={"signoff-workflow": "WorkflowFunction"},
        stacks={model.STACK},
    )
    yield Lifecycle(recorder.snapshot(), binding, outcomes, driver.exits)


# ----------------------------------------------------------------------------- evaluation


def _principals(deployment: Deployment) -> dict[str, list[dict[str, Any]]]:
    found = {f: deployment.role_policies(f) for f in FUNCTIONS}
    for policy in (CLI_USER, CI):
        found[f"cli:{policy}"] = [deployment.managed_policy(policy)]
    return found


def _requests(
    lifecycle: Lifecycle, as_principal: Callable[[str], str] = lambda p: p
) -> list[Request]:
    """The distinct (principal, action, resource) the recorded calls need."""
    seen: dict[Request, None] = {}
    for call in lifecycle.calls:
        assert call.principal is not None
        for action, resource in authorizations(call, lifecycle.binding):
            seen[Request(as_principal(call.principal), action, resource)] = None
    return list(seen)


def _denials(verdicts: list[Verdict]) -> list[str]:
    return [
        f"{v.request.principal}: {v.request.action} on {v.request.resource} -> {v.result}"
        + (f" {v.errors}" if v.errors else "")
        for v in verdicts
        if not v.allowed
    ]


@pytest.fixture(scope="module")
def verdicts(lifecycle: Lifecycle, deployment: Deployment) -> list[Verdict]:
    return simulate(_principals(deployment), _requests(lifecycle))


def test_every_call_is_attributed_and_the_lifecycle_ran(lifecycle: Lifecycle) -> None:
    unattributed = Counter(c.api for c in lifecycle.calls if c.principal is None)
    assert not unattributed, (
        f"AWS calls no function or CLI persona is known to have made: {unattributed}"
    )
    by: dict[str | None, Counter[str]] = defaultdict(Counter)
    for call in lifecycle.calls:
        by[call.principal][call.api] += 1
    for principal, apis in sorted(by.items(), key=lambda kv: str(kv[0])):  # shown with -s
        print(f"{principal}: {sum(apis.values())} calls, {len(apis)} APIs: {dict(apis)}")
    assert set(by) == {*FUNCTIONS, f"cli:{CLI_USER}", f"cli:{CI}"}, dict(by)
    github = {k for k in lifecycle.outcomes if k.startswith("gh-")}
    assert [lifecycle.outcomes.pop(k) for k in github] == ["approved"]
    assert lifecycle.outcomes == {
        "apr-iam-1": "approved",
        "apr-iam-2": "rejected",
        "apr-iam-3": "approved",
        "apr-iam-4": "cancelled",
        "apr-iam-5": "cancelled",
        "apr-iam-6": "cancelled",
        "apr-iam-7": "expired",
    }
    # The paths this test is for ran: the once-claim released after Slack refused a reply,
    # the doorbell rung from Slack and from the CLI, the workflow's checkpoints.
    assert by["NotifierFunction"]["dynamodb:UpdateItem"] >= 1
    assert "dynamodb:DeleteItem" not in by["NotifierFunction"]
    assert by["SlackFunction"]["lambda:SendDurableExecutionCallbackSuccess"] >= 1
    # The GitHub gate: the door started a workflow, the notifier read the App's key.
    assert by["SlackFunction"]["lambda:Invoke"] >= 1
    assert by["NotifierFunction"]["secretsmanager:GetSecretValue"] >= 2
    assert by[f"cli:{CLI_USER}"]["lambda:SendDurableExecutionCallbackSuccess"] >= 1
    assert by["WorkflowFunction"]["lambda:CheckpointDurableExecution"] >= 1
    assert by["WorkflowFunction"]["ssm:GetParameter"] >= 1
    assert by["SlackFunction"]["ssm:GetParameter"] >= 1


def test_every_call_is_allowed_by_its_role_or_managed_policy(verdicts: list[Verdict]) -> None:
    denied = _denials(verdicts)
    assert not denied, "IAM would refuse on AWS:\n" + "\n".join(denied)


def test_ci_cannot_decide_or_cancel(lifecycle: Lifecycle, deployment: Deployment) -> None:
    """What a CLI user's decide and cancel needed, judged against the CI policy: refused."""
    writes = [
        r
        for r in _requests(lifecycle)
        if r.principal == f"cli:{CLI_USER}"
        and (
            r.action in ("dynamodb:UpdateItem", "dynamodb:PutItem")
            or r.action == "lambda:SendDurableExecutionCallbackSuccess"
        )
    ]
    assert {r.action for r in writes} == {
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "lambda:SendDurableExecutionCallbackSuccess",
    }
    as_ci = [Request(f"cli:{CI}", r.action, r.resource) for r in writes]
    allowed = [v for v in simulate(_principals(deployment), as_ci) if v.allowed]
    assert not allowed, f"the CI policy lets CI decide or cancel: {allowed}"


def test_no_grant_goes_unused(verdicts: list[Verdict], deployment: Deployment) -> None:
    used = {
        (policy, sid, action, resource)
        for v in verdicts
        for policy, sid, action, resource in v.allowed_by
    }
    unused = []
    for principal, policies in _principals(deployment).items():
        for named in policies:
            for grant in grants(named):
                if grant not in used and (grant[0], grant[2]) not in NOT_EXERCISED:
                    unused.append(f"{principal}: {grant}")
    assert not unused, "grants no recorded call used:\n" + "\n".join(sorted(set(unused)))
    total = sum(
        1 for policies in _principals(deployment).values() for n in policies for _ in grants(n)
    )
    print(f"{len(verdicts)} distinct requests; {len(used)} of {total} grants used")


def _without(named: dict[str, Any], sid: str, action: str, resource: str) -> dict[str, Any]:
    """The named policy with one grant (an action on a resource, in one statement) gone."""
    statements = []
    for st in named["policy"]["Statement"]:
        if st["Sid"] != sid:
            statements.append(st)
            continue
        actions = [a for a in model._as_list(st["Action"]) if a != action]
        resources = model._as_list(st["Resource"])
        if actions:
            statements.append({**st, "Action": actions})
        if len(resources) > 1:  # the action stays granted on the statement's other resources
            statements.append(
                {
                    **st,
                    "Sid": f"{sid}Rest",
                    "Action": [action],
                    "Resource": [r for r in resources if r != resource],
                }
            )
    return {**named, "policy": {**named["policy"], "Statement": statements}}


def test_removing_any_grant_a_call_uses_makes_iam_refuse_it(
    verdicts: list[Verdict], deployment: Deployment
) -> None:
    """Each grant a recorded call used, taken away alone: some recorded call is refused.
    So the test bites on every one of them, and no two statements grant the same thing."""
    principals = _principals(deployment)
    by_grant: dict[tuple[str, tuple[str, str, str, str]], list[Request]] = defaultdict(list)
    for v in verdicts:
        for grant in v.allowed_by:
            by_grant[(v.request.principal, grant)].append(v.request)
    variants: dict[str, list[dict[str, Any]]] = {}
    requests: list[Request] = []
    for n, ((principal, (policy, sid, action, resource)), needed) in enumerate(
        sorted(by_grant.items())
    ):
        key = f"{principal}#{n}"
        variants[key] = [
            _without(p, sid, action, resource) if p["name"] == policy else p
            for p in principals[principal]
        ]
        requests += [Request(key, r.action, r.resource) for r in needed]
    refused = {v.request.principal for v in simulate(variants, requests) if not v.allowed}
    harmless = [
        f"{principal}: {grant}"
        for n, (principal, grant) in enumerate(sorted(by_grant))
        if f"{principal}#{n}" not in refused
    ]
    assert not harmless, "grants whose removal no recorded call notices:\n" + "\n".join(harmless)
    assert len(by_grant) >= 30, sorted(by_grant)
    print(f"{len(by_grant)} grants removed one at a time: each refused a recorded call")


# ----------------------------------------------------------------------------- the CodePipeline gate

PIPELINE_TOPIC = f"arn:aws:sns:{model.REGION}:{model.ACCOUNT}:pipeline-approvals"


def _codepipeline_requests() -> list[Request]:
    """What the notifier asks of AWS for a pipeline's approval: it starts the workflow (the
    alias its environment names) and answers the action (PutApprovalResult's resource is
    the action: pipeline/stage/action)."""
    from signoff.gates.settings import CiGateSettings

    deployment_env = {
        "SIGNOFF_CODEPIPELINE_TOPIC_ARN": PIPELINE_TOPIC,
        "SIGNOFF_WORKFLOW_FUNCTION_ARN": (
            f"arn:aws:lambda:{model.REGION}:{model.ACCOUNT}:function:{model.STACK}-workflow:live"
        ),
    }
    settings = CiGateSettings.from_env(deployment_env)
    pipeline = f"arn:aws:codepipeline:{model.REGION}:{model.ACCOUNT}:web-prod/Approve/Signoff"
    return [
        Request("NotifierFunction", "lambda:InvokeFunction", settings.workflow_function_arn),
        Request("NotifierFunction", "codepipeline:PutApprovalResult", pipeline),
    ]


def test_the_codepipeline_gate_is_granted_only_where_pipelines_are_subscribed(
    deployment: Deployment,
) -> None:
    subscribed = Deployment(
        deployment.template,
        parameters={
            "CodePipelineApprovalTopicArn": PIPELINE_TOPIC,
            "CodePipelinePolicy": "prod-deploy",
        },
    )
    requests = _codepipeline_requests()
    allowed = simulate({"NotifierFunction": subscribed.role_policies("NotifierFunction")}, requests)
    assert _denials(allowed) == []
    # Without a pipeline topic (the default) the notifier may do neither.
    refused = simulate({"NotifierFunction": deployment.role_policies("NotifierFunction")}, requests)
    assert [v.allowed for v in refused] == [False, False]
    # Another account's or region's pipeline stays out of reach.
    elsewhere = [
        Request(
            "NotifierFunction",
            "codepipeline:PutApprovalResult",
            "arn:aws:codepipeline:eu-west-1:999999999999:web-prod/Approve/Signoff",
        )
    ]
    notifier = {"NotifierFunction": subscribed.role_policies("NotifierFunction")}
    assert [v.allowed for v in simulate(notifier, elsewhere)] == [False]


def test_the_gates_tokens_are_readable_by_the_notifier_only_when_configured(
    deployment: Deployment,
) -> None:
    secrets = {
        "GitHubDispatchSecretArn": f"arn:aws:secretsmanager:{model.REGION}:{model.ACCOUNT}:"
        "secret:signoff/github-dispatch-AbCdEf",
        "GitLabSecretArn": f"arn:aws:secretsmanager:{model.REGION}:{model.ACCOUNT}:"
        "secret:signoff/gitlab-AbCdEf",
    }
    requests = [
        Request("NotifierFunction", "secretsmanager:GetSecretValue", arn)
        for arn in secrets.values()
    ]
    configured = Deployment(deployment.template, parameters=secrets)
    notifier = {"NotifierFunction": configured.role_policies("NotifierFunction")}
    assert _denials(simulate(notifier, requests)) == []
    default = {"NotifierFunction": deployment.role_policies("NotifierFunction")}
    assert [v.allowed for v in simulate(default, requests)] == [False, False]
    # Nobody else reads them: not the Slack function, not the workflow.
    others = {f: configured.role_policies(f) for f in ("SlackFunction", "WorkflowFunction")}
    asked = [Request(f, r.action, r.resource) for f in others for r in requests]
    assert not any(v.allowed for v in simulate(others, asked))
