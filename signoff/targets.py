"""Where the CLI acts: the local stack (default) or a deployed CloudFormation stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from signoff.errors import BackendError, ConfigError
from signoff.model import Approval, StartRequest
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore

DEFAULT_LOCAL_URL = "http://127.0.0.1:3000"


class Target(Protocol):
    approvals: Approvals

    def start(self, request: StartRequest) -> dict[str, Any]: ...
    def workflow(self, approval: Approval) -> dict[str, Any]: ...


def _http_json(url: str, payload: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if data else "GET",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode())


class LocalTarget:
    def __init__(self, base_url: str = DEFAULT_LOCAL_URL):
        self.base_url = base_url.rstrip("/")
        try:
            config = _http_json(f"{self.base_url}/local/config", timeout=5)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConfigError(
                f"the local stack is not answering at {self.base_url}: start it with "
                "`signoff dev` (or `make dev`), or point SIGNOFF_LOCAL_URL at it"
            ) from exc
        client = boto3.client(
            "dynamodb",
            endpoint_url=config["dynamodb_endpoint"],
            region_name=config["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.config = config
        self.approvals = Approvals(DynamoApprovalStore(client, config["table"]))

    def start(self, request: StartRequest) -> dict[str, Any]:
        try:
            return dict(_http_json(f"{self.base_url}/local/workflows", request.to_payload()))
        except (urllib.error.URLError, OSError) as exc:
            raise BackendError(f"the local stack refused the start: {exc}") from exc

    def workflow(self, approval: Approval) -> dict[str, Any]:
        try:
            return dict(_http_json(f"{self.base_url}/local/workflows/{approval.id}"))
        except (urllib.error.URLError, OSError) as exc:
            return {"status": "unknown", "error": str(exc)}


class AwsTarget:
    """A stack deployed from template.yaml, found by its CloudFormation outputs."""

    def __init__(self, stack_name: str, session: Any = None):
        session = session or boto3.Session()
        try:
            stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"cannot read stack {stack_name}: {exc}") from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}
        missing = [k for k in ("TableName", "WorkflowFunctionArn") if k not in outputs]
        if missing:
            raise ConfigError(f"stack {stack_name} lacks outputs: {', '.join(missing)}")
        self.outputs = outputs
        self._lambda = session.client("lambda")
        self.approvals = Approvals(
            DynamoApprovalStore(session.client("dynamodb"), outputs["TableName"])
        )

    def start(self, request: StartRequest) -> dict[str, Any]:
        try:
            # Asynchronous, alias-qualified, named after the approval: starting twice
            # with the same id does not start a second workflow.
            self._lambda.invoke(
                FunctionName=self.outputs["WorkflowFunctionArn"],
                InvocationType="Event",
                DurableExecutionName=request.id,
                Payload=json.dumps(request.to_payload()).encode(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"starting the workflow failed: {exc}") from exc
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
