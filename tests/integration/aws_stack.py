"""A deployed stack on loopback, for the CLI's `--stack` commands, unpatched.

CloudFormation, SSM and SQS are moto's (server mode); the table is DynamoDB Local; Lambda's
Invoke API is a small loopback server that runs the real handler with the payload, as
Lambda does (FunctionError and all). The CLI finds them through `AWS_ENDPOINT_URL*`, the
way boto3 does on any machine, so nothing of signoff is patched.
"""

from __future__ import annotations

import json
import secrets
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3

from signoff.local import serving
from signoff.local.stack import LambdaContext

Handler = Callable[[dict[str, Any], Any], Any]

# A role Lambda may assume: moto checks that a function's role exists and trusts Lambda.
_ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    },
}


def client(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def create_stack(
    moto: str,
    region: str,
    *,
    table: str = "t-none",
    notifier: bool = False,
    secret: str | None = None,
) -> str:
    """A stack with template.yaml's outputs the CLI reads (and, with `notifier`, the
    notifier function and its dead-letter queue); returns its name."""
    name = f"signoff-{secrets.token_hex(3)}"
    resources: dict[str, Any] = {
        "NotifierDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        "ApprovalsTopic": {"Type": "AWS::SNS::Topic"},
    }
    outputs: dict[str, Any] = {
        "TableName": {"Value": table},
        "TopicArn": {"Value": {"Ref": "ApprovalsTopic"}},
        "SlackEventsUrl": {"Value": "http://127.0.0.1:9/"},
        "SlackSecretArn": {
            "Value": secret or f"arn:aws:secretsmanager:{region}:123456789012:secret:{name}-slack"
        },
        "WorkflowFunctionArn": {
            "Value": f"arn:aws:lambda:{region}:123456789012:function:{name}-workflow:live"
        },
        "AllowCliDecisions": {"Value": "false"},
        "PoliciesParameterName": {"Value": {"Fn::Sub": "/${AWS::StackName}/policies"}},
        "NotifierDeadLetterQueueUrl": {"Value": {"Ref": "NotifierDeadLetterQueue"}},
    }
    if notifier:
        resources["NotifierRole"] = _ROLE
        resources["NotifierFunction"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": f"{name}-notifier",
                "Runtime": "python3.13",
                "Handler": "notifier.app.handler",
                "Role": {"Fn::GetAtt": ["NotifierRole", "Arn"]},
                "Code": {"ZipFile": "# runs on loopback: tests/integration/aws_stack.py"},
            },
        }
    template = {"Resources": resources, "Outputs": outputs}
    client(moto, "cloudformation", region).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )
    return name


def outputs(moto: str, region: str, stack: str) -> dict[str, str]:
    described = client(moto, "cloudformation", region).describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}


class LambdaInvoke:
    """Lambda's Invoke API on loopback: runs a Python handler with the payload.

    As Lambda answers: 200 with the handler's result; 200 with `X-Amz-Function-Error:
    Unhandled` and {errorMessage, errorType, stackTrace} when it raised; 404
    ResourceNotFoundException for a function it does not know.
    """

    def __init__(self, functions: dict[str, Handler]):
        self.functions = functions
        self.invocations: list[tuple[str, dict[str, Any]]] = []
        owner = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.split("?", 1)[0].split("/")
                # /2015-03-31/functions/{name}/invocations
                name = unquote(parts[3]) if len(parts) == 5 else ""
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                handler = owner.functions.get(name)
                if handler is None:
                    self._answer(
                        404,
                        {"Type": "User", "Message": f"Function not found: {name}"},
                        {"x-amzn-ErrorType": "ResourceNotFoundException"},
                    )
                    return
                event = json.loads(body or b"{}")
                owner.invocations.append((name, event))
                try:
                    result = handler(event, LambdaContext(name))
                except Exception as exc:
                    self._answer(
                        200,
                        {
                            "errorMessage": str(exc),
                            "errorType": type(exc).__name__,
                            "stackTrace": traceback.format_exception(exc)[-3:],
                        },
                        {"X-Amz-Function-Error": "Unhandled"},
                    )
                    return
                self._answer(200, result, {})

            def do_GET(self) -> None:  # GetFunction: no function configurations here
                self._answer(
                    404,
                    {"Type": "User", "Message": f"Function not found: {self.path}"},
                    {"x-amzn-ErrorType": "ResourceNotFoundException"},
                )

            def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        serving.stop(self.server)
        self._thread.join()
