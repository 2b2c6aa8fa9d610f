"""Where the CLI acts: the local stack (default) or a deployed CloudFormation stack."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from signoff.aws_session import aws_session
from signoff.codec import request_to_payload
from signoff.doorbell import LambdaDoorbell
from signoff.errors import BackendError, ConfigError
from signoff.model import Approval, StartRequest
from signoff.policy import PolicyBook, PolicyDocument, PushResult, push_policies, read_policies
from signoff.service import CLI_DECISIONS, Approvals, CliDecisions
from signoff.store import DynamoApprovalStore

DEFAULT_LOCAL_URL = "http://127.0.0.1:3000"


class Target(Protocol):
    approvals: Approvals

    def start(self, request: StartRequest) -> dict[str, Any]: ...
    def workflow(self, approval: Approval) -> dict[str, Any]: ...
    def policies(self) -> PolicyBook: ...
    def kickoff_refusal(self, approval_id: str) -> str | None:
        """Why the workflow refused this kickoff (and wrote nothing), if it did."""
        ...

    def cli_decisions(self) -> CliDecisions | None:
        """What the deployment says about decisions from the CLI (None: no limits)."""
        ...


def _refusal(result: Any) -> str | None:
    """The workflow's answer to a kickoff its policies refused (signoff.workflow)."""
    if isinstance(result, dict) and result.get("status") == "refused":
        return str(result.get("error") or "the request was refused at kickoff")
    return None


class UnreachableError(BackendError):
    """Nothing answered at the address (refused, timed out, not a usable URL)."""


class HttpStatusError(BackendError):
    """It answered, with an error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _http_json(url: str, payload: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    """GET (or POST `payload`) and parse the JSON answer; any failure is a BackendError."""
    data = json.dumps(payload).encode() if payload is not None else None
    try:
        request = urllib.request.Request(
            url,
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if data else "GET",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:  # it answered, with an error status
        said = _said(exc)
        raise HttpStatusError(
            f"{url} answered HTTP {exc.code}" + (f": {said}" if said else ""), exc.code
        ) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # OSError: refused, reset, timed out; ValueError: not a usable URL;
        # HTTPException: whatever answered does not speak HTTP.
        raise UnreachableError(f"nothing usable answers at {url}: {exc}") from exc
    try:
        return json.loads(body.decode())
    except ValueError as exc:  # not UTF-8, or not JSON
        raise BackendError(f"{url} answered something that is not JSON") from exc


def _said(error: urllib.error.HTTPError) -> str:
    """The `error` sentence of a JSON error answer (the local stack's), if there is one."""
    try:
        body = json.loads(error.read(64 * 1024).decode())
    except (OSError, ValueError):
        return ""
    said = body.get("error") if isinstance(body, dict) else None
    return said if isinstance(said, str) else ""


CONFIG_KEYS = ("dynamodb_endpoint", "region", "table")


class LocalTarget:
    def __init__(self, base_url: str = DEFAULT_LOCAL_URL):
        self.base_url = base_url.rstrip("/")
        not_the_stack = (
            f"{self.base_url} does not look like the signoff local stack (`signoff dev`); "
            "point SIGNOFF_LOCAL_URL at it"
        )
        try:
            config = _http_json(f"{self.base_url}/local/config", timeout=5)
        except UnreachableError as exc:
            raise ConfigError(
                f"the local stack is not answering at {self.base_url}: start it with "
                "`signoff dev` (or `make dev`), or point SIGNOFF_LOCAL_URL at it"
            ) from exc
        except BackendError as exc:
            raise ConfigError(f"{not_the_stack}: {exc}") from exc
        if not isinstance(config, dict):
            raise ConfigError(f"{not_the_stack}: /local/config is not a JSON object")
        missing = [k for k in CONFIG_KEYS if not isinstance(config.get(k), str)]
        if missing:
            raise ConfigError(f"{not_the_stack}: /local/config lacks {', '.join(missing)}")
        try:
            client = boto3.client(
                "dynamodb",
                endpoint_url=config["dynamodb_endpoint"],
                region_name=config["region"],
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
        except (BotoCoreError, ValueError) as exc:
            raise ConfigError(
                f"{not_the_stack}: its DynamoDB settings are unusable: {exc}"
            ) from exc
        self.config = config
        # The stack serves the Lambda callback API: a decision here rings the workflow.
        lambda_client = boto3.client(
            "lambda",
            endpoint_url=self.base_url,
            region_name=config["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1}),
        )
        self.approvals = Approvals(
            DynamoApprovalStore(client, config["table"]),
            doorbell=LambdaDoorbell(lambda: lambda_client),
            admins=lambda: self.policies().admins,
        )

    def policies(self) -> PolicyBook:
        """The stack's policy document (`signoff dev --policies`, or .signoff/policies.yaml)."""
        url = f"{self.base_url}/local/policies"
        try:
            answer = _http_json(url)
        except HttpStatusError as exc:
            if exc.status == 404:  # a stack that serves no policies has none
                return PolicyBook()
            # The stack's document is broken: its problems, with the file and line, are
            # in the answer (a ConfigError: the deployment's to fix, not the request's).
            raise ConfigError(f"the local stack's policies cannot be used: {exc}") from exc
        return PolicyBook.from_data(answer, source=url)

    def cli_decisions(self) -> CliDecisions | None:
        return None  # the local stack takes every decision the rules allow

    def kickoff_refusal(self, approval_id: str) -> str | None:
        try:
            answer = _http_json(f"{self.base_url}/local/workflows/{approval_id}")
        except BackendError:
            return None
        return _refusal(answer.get("result")) if isinstance(answer, dict) else None

    def start(self, request: StartRequest) -> dict[str, Any]:
        try:
            answer = _http_json(f"{self.base_url}/local/workflows", request_to_payload(request))
        except BackendError as exc:
            raise BackendError(f"the local stack refused the start: {exc}") from exc
        if not isinstance(answer, dict):
            raise BackendError("the local stack answered the start with something unexpected")
        return answer

    def workflow(self, approval: Approval) -> dict[str, Any]:
        try:
            answer = _http_json(f"{self.base_url}/local/workflows/{approval.id}")
        except BackendError as exc:
            return {"status": "unknown", "error": str(exc)}
        if not isinstance(answer, dict):
            return {"status": "unknown", "error": "the local stack answered something unexpected"}
        return answer


def describe_stack(session: Any, stack_name: str) -> dict[str, Any]:
    """The stack as CloudFormation describes it; ConfigError says what to check."""
    region = getattr(session, "region_name", None) or "?"
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)
    except NoCredentialsError as exc:
        raise ConfigError(
            f"cannot read stack {stack_name}: no AWS credentials found ({exc}); sign in "
            "(`aws configure`, `aws sso login`) or name a profile with --profile or AWS_PROFILE"
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(
            f"cannot read stack {stack_name} in {region}: {exc} (the region comes from "
            "--region, AWS_REGION, AWS_DEFAULT_REGION or the profile, in that order)"
        ) from exc
    return dict(stacks["Stacks"][0])


class AwsTarget:
    """A stack deployed from template.yaml, found by its CloudFormation outputs."""

    def __init__(
        self,
        stack_name: str,
        session: Any = None,
        *,
        region: str | None = None,
        profile: str | None = None,
    ):
        session = session or aws_session(region, profile)
        self.stack_name = stack_name
        self._session = session
        stacks = describe_stack(session, stack_name)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks.get("Outputs", [])}
        missing = [k for k in ("TableName", "WorkflowFunctionArn") if k not in outputs]
        if missing:
            raise ConfigError(f"stack {stack_name} lacks outputs: {', '.join(missing)}")
        self.outputs = outputs
        self._lambda = session.client("lambda")
        self._executions: dict[str, str] = {}
        self.policies_parameter = outputs.get("PoliciesParameterName", "")
        self._store = DynamoApprovalStore(session.client("dynamodb"), outputs["TableName"])
        self.approvals = Approvals(
            self._store,
            doorbell=LambdaDoorbell(lambda: self._lambda),
            admins=lambda: self.policies().admins,
        )

    def policies(self) -> PolicyBook:
        """The stack's policy document, from the SSM parameter its outputs name."""
        document = self.policy_document()
        return document.book if document else PolicyBook()

    def policy_document(self) -> PolicyDocument | None:
        """The document in force with its SSM version; None when the stack has none."""
        if not self.policies_parameter:
            return None
        return read_policies(self._session.client("ssm"), self.policies_parameter)

    def push_policies(self, text: str, source: str) -> PushResult:
        """Validate a document and write it to the stack's parameter (signoff.policy)."""
        if not self.policies_parameter:
            raise ConfigError(
                f"stack {self.stack_name} names no policy parameter (no PoliciesParameterName "
                "output: it was deployed from an older template.yaml); redeploy it first"
            )
        return push_policies(self._session.client("ssm"), self.policies_parameter, text, source)

    def client(self, service: str, config: Config | None = None) -> Any:
        """A client for this stack's account and region."""
        return self._session.client(service, config=config)

    def resource(self, logical_id: str) -> str:
        """A resource's physical id, by its logical id in template.yaml."""
        try:
            found = self.client("cloudformation").describe_stack_resources(
                StackName=self.stack_name, LogicalResourceId=logical_id
            )["StackResources"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationError":
                raise ConfigError(
                    f"stack {self.stack_name} has no {logical_id}: redeploy it from this "
                    f"version's template.yaml ({exc})"
                ) from exc
            raise BackendError(f"cannot read stack {self.stack_name}'s resources: {exc}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"cannot read stack {self.stack_name}'s resources: {exc}") from exc
        physical = str(found[0].get("PhysicalResourceId", "")) if found else ""
        if not physical:
            raise ConfigError(f"stack {self.stack_name} has no {logical_id}")
        return physical

    def kickoff_refusal(self, approval_id: str) -> str | None:
        arn = self._executions.get(approval_id)
        if not arn:
            return None
        try:
            response = self._lambda.get_durable_execution(DurableExecutionArn=arn)
        except (ClientError, BotoCoreError):
            return None
        try:
            return _refusal(json.loads(response.get("Result") or "null"))
        except ValueError:
            return None

    def cli_decisions(self) -> CliDecisions:
        """Its AllowCliDecisions output, and the caller's AWS identity for the audit trail."""
        return CliDecisions(
            name=self.stack_name, allowed=self.outputs.get(CLI_DECISIONS), caller=self.caller
        )

    def caller(self) -> str:
        """Who the AWS credentials belong to (STS GetCallerIdentity; needs no permission)."""
        try:
            return str(self._session.client("sts").get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError, KeyError) as exc:
            raise BackendError(
                f"cannot tell who is calling (sts:GetCallerIdentity failed): {exc}"
            ) from exc

    def start(self, request: StartRequest) -> dict[str, Any]:
        try:
            # Asynchronous, alias-qualified, named after the approval: starting twice
            # with the same id does not start a second workflow.
            response = self._lambda.invoke(
                FunctionName=self.outputs["WorkflowFunctionArn"],
                InvocationType="Event",
                DurableExecutionName=request.id,
                # UTF-8, not \u escapes: an emoji is 4 bytes, not 12, so the largest
                # request stays under AWS's 256 KB input (signoff/limits.py).
                Payload=json.dumps(request_to_payload(request), ensure_ascii=False).encode(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"starting the workflow failed: {exc}") from exc
        if response.get("DurableExecutionArn"):
            self._executions[request.id] = str(response["DurableExecutionArn"])
        return {"id": request.id, "started": True}

    def workflow(self, approval: Approval) -> dict[str, Any]:
        if not approval.execution_id:
            return {"status": "unknown"}
        try:
            response = self._lambda.get_durable_execution(DurableExecutionArn=approval.execution_id)
        except (ClientError, BotoCoreError) as exc:
            return {"status": "unknown", "error": str(exc)}
        return {
            "status": str(response.get("Status", "unknown")).lower(),
            "arn": approval.execution_id,
        }
