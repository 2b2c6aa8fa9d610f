"""template.yaml as one deployment of it would be on AWS.

- translated to plain CloudFormation by the SAM translator that ships with the SAM CLI
  (.venv-sam), offline: SAM's policy templates are expanded by the translator itself; the
  AWS managed policies SAM attaches to the roles it makes are expanded from their published
  documents (AWS_MANAGED below);
- intrinsic functions resolved to the names and ARNs one deployment would have (stack
  `signoff` in us-east-1, account 123456789012);
- the local resources a test used, bound to the template's resources, so each recorded call
  gets the action(s) IAM authorizes it as and the ARN it would have on AWS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.iam.recorder import Call

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"

STACK = "signoff"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/4c4f2a10-0b1e-11f1-9d2b-0a1b2c3d4e5f"
)
SUFFIX = "1N3XAMPL3ID"  # CloudFormation's random part of generated names

# Runs inside the SAM CLI's interpreter: translate as `sam deploy` would, with fixed pseudo
# parameters and no managed-policy lookups (SAM asks IAM for those; AWS_MANAGED has them).
TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

with open(sys.argv[1]) as f:
    template = yaml_parse(f.read())
# sam build/package would upload the local CodeUri and put its S3 location here.
for section in [template.get("Globals", {}).get("Function", {}),
                *(r.get("Properties", {}) for r in template["Resources"].values()
                  if r.get("Type") == "AWS::Serverless::Function")]:
    if isinstance(section.get("CodeUri"), str):
        section["CodeUri"] = "s3://bucket/code.zip"
pseudo = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
json.dump(transform(template, pseudo, NoManagedPolicies()), sys.stdout, indent=1)
"""

# The AWS managed policies SAM attaches to the roles it creates, as AWS publishes them:
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicDurableExecutionRolePolicy.html
_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
AWS_MANAGED: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}],
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    *_LOGS,
                    "lambda:CheckpointDurableExecution",
                    "lambda:GetDurableExecutionState",
                ],
                "Resource": "*",
            }
        ],
    },
}


class TemplateError(Exception):
    """The template uses something this model cannot resolve."""


def translate(template: Path = TEMPLATE, home: Path | None = None) -> dict[str, Any]:
    """The SAM template as the plain CloudFormation `sam deploy` would send."""
    if not SAM_PYTHON.exists():
        raise TemplateError(f"the SAM CLI's Python is missing ({SAM_PYTHON}): run `make setup`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0"})
    if home is not None:
        env["HOME"] = str(home)
    proc = subprocess.run(
        [str(SAM_PYTHON), "-c", TRANSLATE, str(template)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise TemplateError(f"SAM translation failed:\n{proc.stderr}")
    translated: dict[str, Any] = json.loads(proc.stdout)
    return translated


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Deployment:
    """The translated template with every intrinsic function resolved for one deployment."""

    def __init__(self, translated: Mapping[str, Any], parameters: Mapping[str, str] | None = None):
        self.template = translated
        self.resources: dict[str, Any] = dict(translated["Resources"])
        declared = translated.get("Parameters", {})
        self.parameters = {k: str(v.get("Default", "")) for k, v in declared.items()}
        self.parameters.update(parameters or {})
        self._conditions: dict[str, bool] = {}

    # -- names and ARNs ----------------------------------------------------------------

    def _arn(self, service: str, rest: str, region: str = REGION) -> str:
        return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{rest}"

    def _props(self, logical: str) -> dict[str, Any]:
        try:
            props: dict[str, Any] = self.resources[logical].get("Properties", {})
        except KeyError:
            raise TemplateError(f"no resource {logical}") from None
        return props

    def _name(self, logical: str, prop: str) -> str:
        given = self._props(logical).get(prop)
        return str(self.resolve(given)) if given is not None else f"{STACK}-{logical}-{SUFFIX}"

    def ref(self, logical: str) -> str:
        pseudo = {
            "AWS::StackName": STACK,
            "AWS::StackId": STACK_ID,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if logical in pseudo:
            return pseudo[logical]
        if logical in self.parameters:
            return self.parameters[logical]
        kind = self.resources.get(logical, {}).get("Type")
        if kind == "AWS::DynamoDB::Table":
            return self._name(logical, "TableName")
        if kind == "AWS::SNS::Topic":
            return self._arn("sns", self._name(logical, "TopicName"))
        if kind == "AWS::SecretsManager::Secret":
            return self._arn("secretsmanager", f"secret:{self._name(logical, 'Name')}-AbCdEf")
        if kind == "AWS::SSM::Parameter":
            return self._name(logical, "Name")
        if kind == "AWS::SQS::Queue":
            return (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self._name(logical, 'QueueName')}"
            )
        if kind == "AWS::Lambda::Function":
            return self._name(logical, "FunctionName")
        if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            props = self._props(logical)
            function = self.resolve(props["FunctionName"])
            qualifier = self.resolve(props["Name"]) if kind == "AWS::Lambda::Alias" else "1"
            return f"{self.function_arn(function)}:{qualifier}"
        if kind == "AWS::IAM::ManagedPolicy":
            return (
                f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{self._name(logical, 'ManagedPolicyName')}"
            )
        if kind == "AWS::IAM::Role":
            return self._name(logical, "RoleName")
        if kind == "AWS::Logs::LogGroup":
            return self._name(logical, "LogGroupName")
        if kind is None:
            raise TemplateError(f"Ref to {logical}, which the template does not declare")
        return f"{STACK}-{logical}-{SUFFIX}"

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.resources.get(logical, {}).get("Type")
        name = self.ref(logical)
        values = {
            ("AWS::DynamoDB::Table", "Arn"): lambda: self._arn("dynamodb", f"table/{name}"),
            ("AWS::SQS::Queue", "Arn"): lambda: self._arn("sqs", name.rsplit("/", 1)[-1]),
            ("AWS::SQS::Queue", "QueueName"): lambda: name.rsplit("/", 1)[-1],
            ("AWS::SQS::Queue", "QueueUrl"): lambda: name,
            ("AWS::SNS::Topic", "TopicName"): lambda: name.rsplit(":", 1)[-1],
            ("AWS::SNS::Topic", "TopicArn"): lambda: name,
            ("AWS::Lambda::Function", "Arn"): lambda: self.function_arn(name),
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: self._arn("logs", f"log-group:{name}:*"),
            ("AWS::Lambda::Url", "FunctionUrl"): lambda: (
                f"https://{SUFFIX.lower()}.lambda-url.{REGION}.on.aws/"
            ),
        }
        try:
            return values[(kind, attribute)]()
        except KeyError:
            raise TemplateError(f"GetAtt {logical}.{attribute} ({kind}) is not modelled") from None

    def function_arn(self, name: str) -> str:
        return self._arn("lambda", f"function:{name}")

    # -- intrinsic functions ------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self._condition(self.template["Conditions"][name]))
        return self._conditions[name]

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._condition(value[0])
            if key == "Fn::And":
                return all(self._condition(v) for v in value)
            if key == "Fn::Or":
                return any(self._condition(v) for v in value)
            if key == "Condition":
                return self.condition(value)
        return self.resolve(node)

    def resolve(self, node: Any) -> Any:
        """`node` with Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select resolved; list
        items that resolve to AWS::NoValue are dropped."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return _NO_VALUE if value == "AWS::NoValue" else self.ref(value)
            if key == "Fn::GetAtt":
                logical, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                bound = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), bound), text)
            if key == "Fn::Join":
                separator, parts = value
                return separator.join(str(p) for p in self.resolve(parts))
            if key == "Fn::If":
                name, then, otherwise = value
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{key} is not modelled")
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}

    def _sub(self, name: str, bound: Mapping[str, Any]) -> str:
        if name in bound:
            return str(bound[name])
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.get_att(logical, attribute)
        return self.ref(name)

    # -- policies ------------------------------------------------------------------------

    def role_of(self, function: str) -> str:
        role = self._props(function)["Role"]
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            return str(role["Fn::GetAtt"][0])
        raise TemplateError(f"{function}'s role is not a role of this template: {role!r}")

    def role_policies(self, function: str) -> list[dict[str, Any]]:
        """Every identity policy of the function's role: inline, customer managed (from this
        template) and AWS managed (AWS_MANAGED), as named documents."""
        role = self.role_of(function)
        props = self._props(role)
        named = [
            {"name": f"{role}/{p['PolicyName']}", "policy": self.resolve(p["PolicyDocument"])}
            for p in props.get("Policies", [])
        ]
        for arn in self.resolve(props.get("ManagedPolicyArns", [])):
            named.append({"name": arn.rsplit("/", 1)[-1], "policy": self.managed_by_arn(arn)})
        return [_with_sids(n) for n in named]

    def managed_by_arn(self, arn: str) -> dict[str, Any]:
        if arn in AWS_MANAGED:
            return AWS_MANAGED[arn]
        for logical, res in self.resources.items():
            if res.get("Type") == "AWS::IAM::ManagedPolicy" and self.ref(logical) == arn:
                document: dict[str, Any] = self.managed_policy(logical)["policy"]
                return document
        raise TemplateError(
            f"managed policy {arn} is neither in this template nor in AWS_MANAGED: add its "
            "published document to AWS_MANAGED"
        )

    def managed_policy(self, logical: str) -> dict[str, Any]:
        props = self._props(logical)
        return _with_sids({"name": logical, "policy": self.resolve(props["PolicyDocument"])})


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def _with_sids(named: dict[str, Any]) -> dict[str, Any]:
    """Give every statement a Sid (S0, S1, ...) where it has none, to name the grants."""
    statements = _as_list(named["policy"].get("Statement", []))
    policy = {
        **named["policy"],
        "Statement": [
            st if st.get("Sid") else {"Sid": f"S{i}", **st} for i, st in enumerate(statements)
        ],
    }
    return {**named, "policy": policy}


def grants(named: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(policy, Sid, action, resource) for every Allow in a named policy."""
    for st in named["policy"]["Statement"]:
        if st.get("Effect") == "Allow":
            for action in _as_list(st.get("Action", [])):
                for resource in _as_list(st.get("Resource", [])):
                    yield named["name"], st["Sid"], action, resource


# -- from a recorded call to what IAM authorizes ------------------------------------------


class UnmappedCallError(Exception):
    """A recorded call this model cannot authorize: an unknown API, or a resource the stack
    does not have."""


@dataclass
class Binding:
    """Which local resource stands for which of the template's (local name -> logical id)."""

    deployment: Deployment
    tables: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    stacks: set[str] = field(default_factory=set)

    def _logical(self, kind: dict[str, str], local: str, what: str) -> str:
        if local not in kind:
            raise UnmappedCallError(f"{what} {local!r} is not one of the stack's")
        return kind[local]

    def table(self, name: str) -> str:
        logical = self._logical(self.tables, name, "table")
        return self.deployment.get_att(logical, "Arn")

    def topic(self, arn: str) -> str:
        return self.deployment.ref(self._logical(self.topics, arn, "topic"))

    def secret(self, secret_id: str) -> str:
        return self.deployment.ref(self._logical(self.secrets, secret_id, "secret"))

    def parameter(self, name: str) -> str:
        # The policy parameter is data, not a resource of the stack (`signoff policies push`
        # writes it): `parameters` maps a local name to the deployed parameter's name.
        deployed = self._logical(self.parameters, name, "SSM parameter")
        return self.deployment._arn("ssm", f"parameter/{deployed.lstrip('/')}")

    def queue(self, url: str) -> str:
        return self.deployment.get_att(self._logical(self.queues, url, "queue"), "Arn")

    def stack(self, name: str) -> str:
        if name not in self.stacks and name != STACK_ID:
            raise UnmappedCallError(f"stack {name!r} is not the deployment's")
        return STACK_ID

    def function(self, name_or_arn: str, qualifier: str | None = None) -> str:
        match = re.fullmatch(
            r"(?:arn:[^:]+:lambda:[^:]*:[^:]*:function:)?([^:]+)(?::(.+))?", name_or_arn
        )
        if not match:
            raise UnmappedCallError(f"not a function name or ARN: {name_or_arn!r}")
        logical = self._logical(self.functions, match.group(1), "function")
        arn = self.deployment.function_arn(self.deployment.ref(logical))
        qualifier = qualifier or match.group(2)
        return f"{arn}:{qualifier}" if qualifier else arn

    # The durable emulator names its executions with opaque ids, not ARNs: all of them are
    # this function's (the workflow's), on version 1.
    emulated_executions_of: str = "WorkflowFunction"

    def execution(self, arn: str) -> str:
        match = re.fullmatch(
            r"arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+):([^/]+)/(durable-execution/.+)", arn
        )
        if match:
            return f"{self.function(match.group(1))}:{match.group(2)}/{match.group(3)}"
        if arn.startswith("arn:") or not arn:
            raise UnmappedCallError(f"not a durable execution ARN: {arn!r}")
        function = self.deployment.ref(self.emulated_executions_of)
        execution_id = re.sub(r"[^A-Za-z0-9_-]", "-", arn)
        return (
            f"{self.deployment.function_arn(function)}:1/durable-execution/emulated/{execution_id}"
        )


# Calls that need no grant: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
NO_GRANT_NEEDED = {"sts:GetCallerIdentity"}

_TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def authorizations(call: Call, bound: Binding) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM checks for one call; every pair must be allowed."""
    if call.api in NO_GRANT_NEEDED:
        return []
    by_service = _AUTHORIZERS.get(call.service)
    pairs = by_service(call.operation, call.params, bound) if by_service else None
    if pairs is None:
        raise UnmappedCallError(
            f"{call.api} is not modelled: add how IAM authorizes it to tests/iam/stack.py"
        )
    return pairs


# Each service's authorizer answers None for an operation it does not model.
Pairs = list[tuple[str, str]] | None


def _dynamodb(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op == "TransactWriteItems":
        # Authorized per item, as the item's own action on its table.
        return [
            (_TRANSACT_ITEM_ACTIONS[kind], bound.table(body["TableName"]))
            for item in p["TransactItems"]
            for kind, body in item.items()
        ]
    if op == "TransactGetItems":
        return [
            ("dynamodb:GetItem", bound.table(i["Get"]["TableName"])) for i in p["TransactItems"]
        ]
    if op in ("Query", "Scan") and p.get("IndexName"):
        return [(f"dynamodb:{op}", f"{bound.table(p['TableName'])}/index/{p['IndexName']}")]
    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"):
        return [(f"dynamodb:{op}", bound.table(p["TableName"]))]
    return None


def _sns(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op in ("Publish", "GetTopicAttributes", "ListSubscriptionsByTopic"):
        return [(f"sns:{op}", bound.topic(p["TopicArn"]))]
    return None


def _secretsmanager(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op == "GetSecretValue":
        return [("secretsmanager:GetSecretValue", bound.secret(p["SecretId"]))]
    return None


def _ssm(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op in ("GetParameter", "PutParameter", "GetParameterHistory"):
        return [(f"ssm:{op}", bound.parameter(p["Name"]))]
    if op == "GetParameters":
        return [("ssm:GetParameters", bound.parameter(name)) for name in p["Names"]]
    return None


def _sqs(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op in (
        "ReceiveMessage",
        "DeleteMessage",
        "GetQueueAttributes",
        "ChangeMessageVisibility",
        "SendMessage",
    ):
        return [(f"sqs:{op}", bound.queue(p["QueueUrl"]))]
    return None


def _cloudformation(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op in ("DescribeStacks", "DescribeStackResources"):
        return [(f"cloudformation:{op}", bound.stack(p["StackName"]))]
    return None


def _lambda(op: str, p: dict[str, Any], bound: Binding) -> Pairs:
    if op == "Invoke":
        return [("lambda:InvokeFunction", bound.function(p["FunctionName"], p.get("Qualifier")))]
    if op == "GetFunction":
        return [("lambda:GetFunction", bound.function(p["FunctionName"], p.get("Qualifier")))]
    if op in (
        "GetDurableExecution",
        "GetDurableExecutionHistory",
        "StopDurableExecution",
        "CheckpointDurableExecution",
        "GetDurableExecutionState",
    ):
        return [(f"lambda:{op}", bound.execution(p["DurableExecutionArn"]))]
    if op.startswith("SendDurableExecutionCallback"):
        # A callback id names its execution: the emulator's encodes the execution ARN.
        from aws_durable_execution_sdk_python_testing.token import CallbackToken

        try:
            arn = CallbackToken.from_str(p["CallbackId"]).execution_arn
        except Exception as exc:
            raise UnmappedCallError(
                f"cannot tell the execution of callback {p['CallbackId']!r}"
            ) from exc
        return [(f"lambda:{op}", bound.execution(arn))]
    return None


_AUTHORIZERS: dict[str, Callable[[str, dict[str, Any], Binding], Pairs]] = {
    "dynamodb": _dynamodb,
    "sns": _sns,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "sqs": _sqs,
    "cloudformation": _cloudformation,
    "lambda": _lambda,
}
