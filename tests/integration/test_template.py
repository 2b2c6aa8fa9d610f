"""Offline checks of template.yaml.

- cfn-lint on the SAM template, and `sam validate --lint` with no credentials and no network;
- the SAM translation (by the translator that ships with the SAM CLI in .venv-sam) linted
  as plain CloudFormation: cfn-lint validates SAM resources against SAM's own schemas, which
  pass properties such as DurableConfig through without their limits and do not check IAM
  action names inside `Policies`; the translated AWS::Lambda::Function / AWS::IAM::Role do;
- drift between the template and the code (signoff.schema, the handler modules);
- least-privilege IAM (tests/integration/test_iam.py checks the grants against the calls);
- production hardening: reserved concurrency, log retention, alarms and their actions, the
  table's protection, the two-step index upgrade, the CI role template;
- packaging: every function is built by its Makefile target (`BuildMethod: makefile`), run
  here with a stub Python, so only the code packages and requirements.txt reach the artifact;
  and the handlers' import path needs nothing the build leaves out.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from signoff.schema import TABLE_SCHEMA, TTL_ATTRIBUTE
from tests.iam.stack import Deployment

# Tests that only parse template.yaml run in a few milliseconds and carry no mark; those
# that run a linter, the SAM translator or make in a subprocess are marked integration.
slow = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CI_ROLE_TEMPLATE = ROOT / "docs" / "github-ci-role.yaml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
SAM_VENV = ROOT / ".venv-sam"

FUNCTIONS = {
    "WorkflowFunction": "workflow_fn.app.handler",
    "SlackFunction": "slack_handler.app.handler",
    "NotifierFunction": "notifier.app.handler",
}
# Output keys the CLI reads with `--stack NAME`.
OUTPUT_KEYS = {"TableName", "TopicArn", "WorkflowFunctionArn", "SlackEventsUrl", "SlackSecretArn"}
DURABLE_ACTIONS = {"lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"}
# What the Makefile's build-<function> targets (BuildMethod: makefile) copy into every
# function's artifact, and what they leave out: the laptop stack (imports flask and moto).
CODE_PACKAGES = ("signoff", "workflow_fn", "slack_handler", "notifier")
LOCAL_ONLY = ("signoff", "local")
# Lambda architecture -> the machine in pip's manylinux platform tags.
PIP_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}

# Runs inside the SAM CLI's interpreter: translate the SAM template to plain CloudFormation
# the way `sam deploy` would, without AWS (fixed pseudo parameters, no managed policy lookups).
_TRANSLATE = """
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

# Stands in for the Python the build targets call (`-m pip`, `-m compileall`): records the
# arguments and does nothing, so the targets run offline and fast.
_STUB_PYTHON = """#!{python}
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


# ----------------------------------------------------------------------------- helpers


def _plain(node: Any) -> Any:
    """cfn-lint's decoded nodes as plain dicts/lists/strings."""
    return json.loads(json.dumps(node))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sam() -> str:
    candidate = SAM_VENV / "bin" / "sam"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("sam")
    if found:
        return found
    pytest.fail(
        f"SAM CLI not found (neither {candidate} nor `sam` on PATH): run `make setup`",
        pytrace=False,
    )


def _sam_python() -> str:
    """The interpreter the SAM CLI runs on (it has samtranslator and aws_lambda_builders)."""
    candidate = SAM_VENV / "bin" / "python"
    if candidate.exists():
        return str(candidate)
    first_line = Path(_sam()).read_text(errors="replace").splitlines()[0]
    if first_line.startswith("#!") and Path(first_line[2:].strip()).exists():
        return first_line[2:].strip()
    pytest.fail(f"cannot find the SAM CLI's Python ({candidate}): run `make setup`", pytrace=False)


def _offline_env(home: Path) -> dict[str, str]:
    """The environment minus AWS credentials, with every HTTP(S) connection refused."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
    }
    dead_proxy = "http://127.0.0.1:9"
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            "HOME": str(home),
            "HTTP_PROXY": dead_proxy,
            "HTTPS_PROXY": dead_proxy,
            "http_proxy": dead_proxy,
            "https_proxy": dead_proxy,
            "NO_PROXY": "",
            "no_proxy": "",
        }
    )
    return env


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False, **kwargs)


def _cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    # cfn-lint has no `python -m cfnlint`; call its console-script entry point.
    code = "import sys; from cfnlint.runner import main; sys.exit(main())"
    return _run([sys.executable, "-c", code, str(path)], cwd=ROOT)


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements, a conditional one (Fn::If) as each statement it may be."""
    found: list[dict[str, Any]] = []
    for st in _as_list(document.get("Statement", [])):
        if isinstance(st, dict) and "Fn::If" in st:
            found += [b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Action" in b]
        else:
            found.append(st)
    return found


def _sam_policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, statement) for every statement a SAM function's `Policies` or an IAM resource
    declares."""
    for name, res in _resources(template, "AWS::Serverless::Function").items():
        for policy in _as_list(res["Properties"].get("Policies", [])):
            if isinstance(policy, dict) and "Statement" in policy:
                for st in _statements(policy):
                    yield name, st
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res.get("Type") in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            for st in _statements(props.get("PolicyDocument", {})):
                yield name, st
        if res.get("Type") == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for st in _statements(policy.get("PolicyDocument", {})):
                    yield name, st


def _statement_problems(where: str, st: dict[str, Any]) -> list[str]:
    problems = []
    if "NotAction" in st or "NotResource" in st:
        problems.append(f"{where}: NotAction/NotResource grants too much: {st}")
    if st.get("Effect") != "Allow":
        return problems
    for action in _as_list(st.get("Action", [])):
        if not isinstance(action, str) or action == "*" or action.endswith(":*") or "*" in action:
            problems.append(f"{where}: wildcard action {action!r} in {st}")
    for resource in _as_list(st.get("Resource", [])):
        if resource == "*":
            problems.append(f"{where}: Resource '*' in {st}")
    return problems


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run as the module is imported: those at top level and inside a
    top-level `try`, `if` or `with` (slack_handler/app.py imports inside a `try`)."""
    for node in body:
        yield node
        if isinstance(node, ast.Try):
            for part in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from _module_level(part)
        elif isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def _handler_binds(path: Path, attr: str) -> bool:
    """Whether the module at path binds `attr` at top level (def, assignment or import)."""
    names: set[str] = set()
    for node in _module_level(ast.parse(path.read_text(), filename=str(path)).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
    return attr in names


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str(TEMPLATE.read_text())
    assert not matches, f"template.yaml does not parse: {matches}"
    assert decoded is not None
    plain: dict[str, Any] = _plain(decoded)
    return plain


@pytest.fixture(scope="module")
def translated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """template.yaml translated to plain CloudFormation (JSON file) by the SAM translator."""
    home = tmp_path_factory.mktemp("sam-home")
    proc = _run([_sam_python(), "-c", _TRANSLATE, str(TEMPLATE)], env=_offline_env(home))
    assert proc.returncode == 0, f"SAM translation failed:\n{proc.stderr}"
    out = tmp_path_factory.mktemp("translated") / "template.json"
    out.write_text(proc.stdout)
    return out


# ----------------------------------------------------------------------------- linters


@slow
def test_cfn_lint_passes() -> None:
    proc = _cfn_lint(TEMPLATE)
    assert proc.returncode == 0, (
        f"cfn-lint template.yaml exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )


@slow
def test_sam_validate_lint_passes_offline(tmp_path: Path) -> None:
    cmd = [_sam(), "validate", "--lint", "--template-file", str(TEMPLATE)]
    proc = _run(cmd, cwd=tmp_path, env=_offline_env(tmp_path))
    assert proc.returncode == 0, (
        f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )
    assert "is a valid SAM Template" in proc.stdout + proc.stderr


@slow
def test_translated_template_passes_cfn_lint(translated: Path) -> None:
    """Catches what linting the SAM template cannot: DurableConfig limits
    (ExecutionTimeout 1..31622400 s, RetentionPeriodInDays 1..90) and IAM action names."""
    proc = _cfn_lint(translated)
    assert proc.returncode == 0, (
        f"cfn-lint on the translated template exited {proc.returncode}:\n"
        f"{proc.stdout}\n{proc.stderr}"
    )


# ----------------------------------------------------------------------------- drift


def _table_props(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """ApprovalsTable's properties as CloudFormation would see them with these parameters."""
    props: dict[str, Any] = Deployment(template, parameters).resolve(
        template["Resources"]["ApprovalsTable"]["Properties"]
    )
    return props


def test_table_matches_schema(template: dict[str, Any]) -> None:
    tables = _resources(template, "AWS::DynamoDB::Table")
    assert list(tables) == ["ApprovalsTable"]
    props = _table_props(template)

    def by(key: str) -> Any:
        return lambda item: item[key]

    for key, expected in TABLE_SCHEMA.items():
        assert key in props, f"ApprovalsTable lacks {key} (signoff.schema.TABLE_SCHEMA has it)"
        actual = props[key]
        if key == "AttributeDefinitions":
            actual = sorted(actual, key=by("AttributeName"))
            expected = sorted(expected, key=by("AttributeName"))
        elif key == "GlobalSecondaryIndexes":
            actual = sorted(actual, key=by("IndexName"))
            expected = sorted(expected, key=by("IndexName"))
        assert actual == expected, f"ApprovalsTable {key} drifted from signoff.schema.TABLE_SCHEMA"
    # Nothing key-shaping in the template that the code's schema does not know about.
    shaping = {
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "BillingMode",
        "ProvisionedThroughput",
    }
    extra = (shaping & set(props)) - set(TABLE_SCHEMA)
    assert not extra, f"ApprovalsTable has {sorted(extra)}; signoff.schema.TABLE_SCHEMA has not"

    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_functions_share_one_artifact(template: dict[str, Any]) -> None:
    functions = _resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    defaults = template.get("Globals", {}).get("Function", {})
    for name, res in functions.items():
        props = {**defaults, **res["Properties"]}
        assert props.get("CodeUri") == ".", f"{name}: CodeUri must be the project root"
        assert props.get("Runtime") == "python3.13", name
        assert "Layers" not in props, f"{name}: first-party code ships in the artifact, no Layer"
    assert (ROOT / "requirements.txt").is_file()


@pytest.mark.parametrize(("function", "handler"), sorted(FUNCTIONS.items()))
def test_handler_points_at_a_module(template: dict[str, Any], function: str, handler: str) -> None:
    declared = template["Resources"][function]["Properties"]["Handler"]
    assert declared == handler
    module, _, attr = declared.rpartition(".")
    assert attr == "handler"
    rel = Path(*module.split("."))
    path = ROOT / rel.with_suffix(".py")
    if not path.exists():
        path = ROOT / rel / "__init__.py"
    assert path.is_file(), f"{function}: handler module {rel}.py does not exist"
    assert _handler_binds(path, attr), f"{function}: {path.relative_to(ROOT)} defines no {attr!r}"


def test_environment_carries_references_not_secrets(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables == {
        "SIGNOFF_TABLE": {"Ref": "ApprovalsTable"},
        "SIGNOFF_TOPIC_ARN": {"Ref": "ApprovalsTopic"},
        "SIGNOFF_SLACK_SECRET_ID": {"Ref": "SlackSecret"},
        "SIGNOFF_GITHUB_WEBHOOK_SECRET_ID": {"Ref": "GitHubWebhookSecret"},
        "SIGNOFF_GITHUB_APP_SECRET_ID": {"Ref": "GitHubAppSecret"},
        "SIGNOFF_WORKFLOW_FUNCTION_ARN": {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
            "function:${AWS::StackName}-workflow:live"
        },
        "SIGNOFF_DEFAULT_CHANNEL": {"Ref": "DefaultChannel"},
        "SIGNOFF_POLICIES_PARAMETER": {"Fn::Sub": "/${AWS::StackName}/policies"},
        "POWERTOOLS_SERVICE_NAME": "signoff",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "SIGNOFF_CODEPIPELINE_TOPIC_ARN": {"Ref": "CodePipelineApprovalTopicArn"},
        "SIGNOFF_CODEPIPELINE_POLICY": {"Ref": "CodePipelinePolicy"},
        "SIGNOFF_GITHUB_DISPATCH_SECRET_ID": {"Ref": "GitHubDispatchSecretArn"},
        "SIGNOFF_GITLAB_SECRET_ID": {"Ref": "GitLabSecretArn"},
        "SIGNOFF_GITLAB_API_URL": {"Ref": "GitLabApiUrl"},
    }
    assert template["Parameters"]["DefaultChannel"]["Default"] == "approvals"
    for name, res in _resources(template, "AWS::Serverless::Function").items():
        assert "Environment" not in res["Properties"], f"{name}: set variables in Globals"
    # A dynamic reference would copy the secret's value into the function configuration.
    assert "{{resolve:" not in TEMPLATE.read_text()


def test_durable_workflow_config(template: dict[str, Any]) -> None:
    props = template["Resources"]["WorkflowFunction"]["Properties"]
    durable = props["DurableConfig"]
    assert isinstance(durable["ExecutionTimeout"], int)
    assert 1 <= durable["ExecutionTimeout"] <= 31_622_400
    assert durable["RetentionPeriodInDays"] == 7
    assert props["AutoPublishAlias"] == "live"
    assert template["Resources"]["SlackFunction"]["Properties"]["AutoPublishAlias"] == "live"


def test_outputs_the_cli_reads(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(outputs) >= OUTPUT_KEYS
    assert outputs["WorkflowFunctionArn"]["Value"] == {"Ref": "WorkflowFunction.Alias"}
    assert outputs["SlackEventsUrl"]["Value"] == {"Fn::GetAtt": ["SlackFunctionUrl", "FunctionUrl"]}
    assert outputs["TableName"]["Value"] == {"Ref": "ApprovalsTable"}
    assert outputs["TopicArn"]["Value"] == {"Ref": "ApprovalsTopic"}
    assert outputs["SlackSecretArn"]["Value"] == {"Ref": "SlackSecret"}


def test_policies_live_in_one_ssm_parameter_read_by_the_workflow_and_slack_only(
    template: dict[str, Any],
) -> None:
    name = {"Fn::Sub": "/${AWS::StackName}/policies"}
    # Data, not configuration: `signoff policies push` writes the parameter, and nothing in
    # the stack does, so no deploy (nor samconfig.toml's saved parameters) can put an old
    # document back, and a value is never squeezed through a 4 KB stack parameter.
    assert not _resources(template, "AWS::SSM::Parameter")
    assert "Policies" not in template.get("Parameters", {})
    assert template["Outputs"]["PoliciesParameterName"]["Value"] == name
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SIGNOFF_POLICIES_PARAMETER"] == name
    functions = [(w, st) for w, st in _sam_policy_statements(template) if w in FUNCTIONS]
    readers = {
        where
        for where, st in functions
        for action in _as_list(st.get("Action", []))
        if action.startswith("ssm:")
    }
    assert readers == {"WorkflowFunction", "SlackFunction"}
    for where, st in functions:
        if any(a.startswith("ssm:") for a in _as_list(st.get("Action", []))):
            assert st["Action"] == "ssm:GetParameter", where
            assert st["Resource"]["Fn::Sub"].endswith(":parameter/${AWS::StackName}/policies")


# ----------------------------------------------------------------------------- IAM


def test_iam_statements_are_least_privilege(template: dict[str, Any]) -> None:
    for name, res in _resources(template, "AWS::Serverless::Function").items():
        for policy in _as_list(res["Properties"].get("Policies", [])):
            # SAM policy templates and managed policies hide their grants from this test.
            assert isinstance(policy, dict) and "Statement" in policy, (
                f"{name}: use inline policy statements, not {policy!r}"
            )
    statements = list(_sam_policy_statements(template))
    assert statements
    problems = [p for where, st in statements for p in _statement_problems(where, st)]
    assert not problems, "\n".join(problems)

    # Each function reads the secrets it needs and no other: the GitHub webhook secret
    # the Slack function, the GitHub App's key the notifier.
    readable = {
        "SlackFunction": ({"Ref": "SlackSecret"}, {"Ref": "GitHubWebhookSecret"}),
        "NotifierFunction": (
            {"Ref": "SlackSecret"},
            {"Ref": "GitHubAppSecret"},
            # The CI gates' tokens (dispatch, GitLab), when the deployment names them.
            {"Ref": "GitHubDispatchSecretArn"},
            {"Ref": "GitLabSecretArn"},
        ),
    }
    for where, st in statements:
        for action in _as_list(st.get("Action", [])):
            if action.startswith("secretsmanager:"):
                allowed = readable.get(where, ({"Ref": "SlackSecret"},))
                assert st["Resource"] in allowed, f"{where}: {st}"


@slow
def test_translated_roles_are_least_privilege(translated: Path) -> None:
    """The same rules on the roles SAM generates (they include SAM's own statements, e.g.
    the dead-letter queue's sqs:SendMessage)."""
    resources = json.loads(translated.read_text())["Resources"]
    roles = {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    assert roles
    problems = [
        p
        for name, role in roles.items()
        for policy in role["Properties"].get("Policies", [])
        for st in _statements(policy["PolicyDocument"])
        for p in _statement_problems(name, st)
    ]
    assert not problems, "\n".join(problems)


@slow
def test_only_the_workflow_role_can_checkpoint_durable_executions(translated: Path) -> None:
    """SAM gives a function with DurableConfig AWS's AWSLambdaBasicDurableExecutionRolePolicy
    (logs, CheckpointDurableExecution, GetDurableExecutionState); no other role checkpoints."""
    resources = json.loads(translated.read_text())["Resources"]
    durable = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy"
    for name in FUNCTIONS:
        role = resources[f"{name}Role"]["Properties"]
        managed = role.get("ManagedPolicyArns", [])
        assert (durable in managed) == (name == "WorkflowFunction"), (name, managed)
        actions = {
            a
            for policy in role.get("Policies", [])
            for st in _statements(policy["PolicyDocument"])
            for a in _as_list(st["Action"])
        }
        assert not actions & DURABLE_ACTIONS, f"{name} grants checkpoints inline: {actions}"


def _managed_policy_actions(template: dict[str, Any], name: str) -> set[str]:
    document = template["Resources"][name]["Properties"]["PolicyDocument"]
    return {a for st in _statements(document) for a in _as_list(st["Action"])}


def test_cli_permissions_ship_as_managed_policies_in_the_outputs(template: dict[str, Any]) -> None:
    """What each command needs is checked by test_iam.py; here: they are shipped, and CI
    can neither decide nor cancel (no table writes, no waking a workflow)."""
    outputs = template["Outputs"]
    for name in ("CliUserPolicy", "CiPolicy", "OperatorPolicy"):
        assert template["Resources"][name]["Type"] == "AWS::IAM::ManagedPolicy"
        assert outputs[f"{name}Arn"]["Value"] == {"Ref": name}
    ci = _managed_policy_actions(template, "CiPolicy")
    writes = {a for a in ci if a.split(":")[1].startswith(("Put", "Update", "Delete", "Send"))}
    assert not writes, f"CiPolicy may write: {writes}"
    user = _managed_policy_actions(template, "CliUserPolicy")
    assert {"dynamodb:UpdateItem", "lambda:SendDurableExecutionCallbackSuccess"} <= user


# ----------------------------------------------------------------------------- hardening


def test_slack_function_has_reserved_concurrency_from_a_parameter(
    template: dict[str, Any],
) -> None:
    props = template["Resources"]["SlackFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "SlackReservedConcurrency"}
    parameter = template["Parameters"]["SlackReservedConcurrency"]
    assert parameter["Type"] == "Number" and parameter["MinValue"] >= 1
    # Sane: room for a burst of clicks, far below the account's default 1,000 (of which
    # Lambda keeps 100 unreserved), and the description says so.
    assert 5 <= parameter["Default"] <= 100
    assert "account" in parameter["Description"]


def test_every_function_logs_to_a_log_group_with_a_retention(template: dict[str, Any]) -> None:
    groups = _resources(template, "AWS::Logs::LogGroup")
    named = {json.dumps(g["Properties"]["LogGroupName"]): g for g in groups.values()}
    for function in FUNCTIONS:
        # Lambda's own name for the function's log group: /aws/lambda/<function name>.
        group = named.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{function}}}"}))
        assert group is not None, f"{function} has no log group of its own"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert "LoggingConfig" not in template["Resources"][function]["Properties"]
    retention = template["Parameters"]["LogRetentionDays"]
    assert retention["Default"] in retention["AllowedValues"]
    assert len(groups) == len(FUNCTIONS)


def test_alarms_notify_a_topic_and_an_optional_email(template: dict[str, Any]) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) >= {
        "NotifierDeadLetterAlarm",
        "WorkflowFailedAlarm",
        "WorkflowTimedOutAlarm",
    }
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    topic = template["Resources"]["AlarmTopic"]
    # CloudWatch cannot publish to a topic under the AWS managed key alias/aws/sns.
    assert "KmsMasterKeyId" not in topic.get("Properties", {})
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}


# Lambda's durable-execution metrics: https://docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html
DURABLE_METRICS_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html"


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [
        ("WorkflowFailedAlarm", "DurableExecutionFailed"),
        ("WorkflowTimedOutAlarm", "DurableExecutionTimedOut"),
    ],
)
def test_durable_execution_alarms_watch_the_workflow(
    template: dict[str, Any], alarm: str, metric: str
) -> None:
    props = template["Resources"][alarm]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", metric)
    workflow_name = template["Resources"]["WorkflowFunction"]["Properties"]["FunctionName"]
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": workflow_name}]
    assert (props["Statistic"], props["Threshold"]) == ("Sum", 0)
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    # The metric names are cited where they are used, and in the deploy guide.
    assert DURABLE_METRICS_PAGE in TEMPLATE.read_text()
    assert DURABLE_METRICS_PAGE in DEPLOY_DOC.read_text()
    assert metric in DEPLOY_DOC.read_text()


def test_the_table_survives_mistakes(template: dict[str, Any]) -> None:
    table = template["Resources"]["ApprovalsTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_two_step_index_upgrade_adds_one_index_per_deploy(template: dict[str, Any]) -> None:
    """CloudFormation adds one global secondary index per update: StatusHistoryIndex and
    InboxIndex leave their index (and its key attributes) out, so an old table gains one
    per deploy; the defaults put them all in."""

    def indexes(**parameters: str) -> list[str]:
        return [
            g["IndexName"] for g in _table_props(template, **parameters)["GlobalSecondaryIndexes"]
        ]

    assert template["Parameters"]["StatusHistoryIndex"]["Default"] == "true"
    assert sorted(indexes()) == sorted(
        g["IndexName"] for g in TABLE_SCHEMA["GlobalSecondaryIndexes"]
    )
    steps = [
        {"StatusHistoryIndex": "false", "InboxIndex": "false"},
        {"StatusHistoryIndex": "true", "InboxIndex": "false"},
        {"StatusHistoryIndex": "true", "InboxIndex": "true"},
    ]
    assert [sorted(indexes(**step)) for step in steps] == [
        ["history", "pending"],
        ["history", "pending", "status_history"],
        ["history", "inbox", "pending", "status_history"],
    ]
    first = _table_props(template, **steps[0])
    names = {a["AttributeName"] for a in first["AttributeDefinitions"]}
    assert not names & {"status_pk", "inbox_pk", "inbox_sk"}
    assert template["Parameters"]["InboxIndex"]["Default"] == "true"
    # The guide runs the deploys in that order.
    text = DEPLOY_DOC.read_text()
    at = 0
    for step in steps:
        overrides = " ".join(f"{k}={v}" for k, v in step.items())
        at = text.index(f"sam deploy --parameter-overrides {overrides}", at)


def test_samconfig_carries_no_parameter_values() -> None:
    """A plain `sam deploy` must not put back values a guided deploy saved (policies above
    all): samconfig.toml holds build settings only."""
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env, commands in config.items():
        if not isinstance(commands, dict):
            continue
        for command, section in commands.items():
            parameters = section.get("parameters", {}) if isinstance(section, dict) else {}
            assert "parameter_overrides" not in parameters, (env, command)


def _ci_role() -> dict[str, Any]:
    decoded, matches = decode_str(CI_ROLE_TEMPLATE.read_text())
    assert not matches, matches
    role: dict[str, Any] = _plain(decoded)
    return role


def test_the_github_ci_role_trusts_one_repository_environment_with_the_ci_policy() -> None:
    template = _ci_role()
    (role,) = _resources(template, "AWS::IAM::Role").values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::Sub": "repo:${Repository}:environment:${Environment}"
            },
        }
    }
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": "CiPolicyArn"}]
    assert "Policies" not in role["Properties"]
    assert "docs/github-ci-role.yaml" in DEPLOY_DOC.read_text()


@slow
def test_the_github_ci_role_template_passes_cfn_lint() -> None:
    proc = _cfn_lint(CI_ROLE_TEMPLATE)
    assert proc.returncode == 0, f"cfn-lint {CI_ROLE_TEMPLATE.name}:\n{proc.stdout}\n{proc.stderr}"


# ----------------------------------------------------------------------------- packaging
# `sam build` would copy the whole project root (CodeUri: .) into every function, .venv-sam
# and node_modules included (466 MB per function, over Lambda's 250 MB unzipped limit). Each
# function is built by a Makefile target instead, which ships the code packages and
# requirements.txt only.


def _make() -> str:
    found = shutil.which("make")
    if not found:
        pytest.fail("make not found: sam build runs the Makefile's build-* targets", pytrace=False)
    return found


def _make_env(tmp_path: Path) -> dict[str, str]:
    """The environment `sam build` gives make, minus anything from an outer make or build."""
    outer = {"ARTIFACTS_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "LAMBDA_PYTHON", "PY"}
    env = {k: v for k, v in os.environ.items() if k not in outer}
    env["STUB_LOG"] = str(tmp_path / "calls.jsonl")
    return env


def _stub_python(tmp_path: Path) -> Path:
    stub = tmp_path / "stub-python"
    stub.write_text(_STUB_PYTHON.format(python=sys.executable))
    stub.chmod(0o755)
    return stub


def _stub_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _shipped_code() -> set[str]:
    """The project's files that belong in the artifact: the code packages minus signoff/local."""
    local = "/".join(LOCAL_ONLY) + "/"
    return {
        f"{pkg}/{rel}"
        for pkg in CODE_PACKAGES
        for rel in _files(ROOT / pkg)
        if not f"{pkg}/{rel}".startswith(local)
    }


def _option(args: list[str], name: str) -> str:
    assert name in args, f"pip is not given {name}: {args}"
    return args[args.index(name) + 1]


def _function_props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        **template.get("Globals", {}).get("Function", {}),
        **template["Resources"][name]["Properties"],
    }


def test_functions_build_with_the_makefile(template: dict[str, Any]) -> None:
    for name, res in _resources(template, "AWS::Serverless::Function").items():
        metadata = res.get("Metadata", {})
        assert metadata.get("BuildMethod") == "makefile", (
            f"{name}: without `Metadata: BuildMethod: makefile` sam build copies the whole "
            "project root (.venv-sam, node_modules) into the function"
        )
        # The targets use paths relative to the project root (CodeUri: .), where sam build
        # runs them (in a copy of it, or in it with --build-in-source).
        assert not {"ContextPath", "ProjectRootDirectory", "WorkingDirectory"} & set(metadata)
    architectures = {
        name: tuple(_function_props(template, name).get("Architectures", ["x86_64"]))
        for name in FUNCTIONS
    }
    # One pip platform in the Makefile for all three.
    assert len(set(architectures.values())) == 1, architectures
    assert all(len(a) == 1 and a[0] in PIP_MACHINE for a in architectures.values()), architectures


@slow
@pytest.mark.parametrize("has_python313", [True, False], ids=["python3.13", "no-python3.13"])
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_build_target_ships_only_code_and_requirements(
    template: dict[str, Any], tmp_path: Path, function: str, has_python313: bool
) -> None:
    """Runs `make build-<function>` as `sam build` does, with a stub Python for pip and
    compileall: the artifact gets the code packages (no signoff/local, no stray __pycache__)
    and requirements.txt installed as wheels for the function's runtime and architecture."""
    props = _function_props(template, function)
    stub = _stub_python(tmp_path)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    env = _make_env(tmp_path)
    env["ARTIFACTS_DIR"] = str(artifacts)
    make_vars = [f"LAMBDA_PYTHON={stub}"] if has_python313 else ["LAMBDA_PYTHON=", f"PY={stub}"]
    proc = _run(
        [_make(), "-f", str(ROOT / "Makefile"), f"build-{function}", *make_vars], cwd=ROOT, env=env
    )
    assert proc.returncode == 0, f"make build-{function} failed:\n{proc.stdout}\n{proc.stderr}"

    assert _files(artifacts) == _shipped_code()
    assert sorted(p.name for p in artifacts.iterdir()) == sorted(CODE_PACKAGES)
    assert not artifacts.joinpath(*LOCAL_ONLY).exists()
    assert not list(artifacts.rglob("__pycache__"))

    calls = _stub_calls(tmp_path)
    assert calls and calls[0][:3] == ["-m", "pip", "install"], calls
    pip = calls[0]
    assert _option(pip, "-r") == "requirements.txt"
    assert _option(pip, "--target") == str(artifacts)
    assert _option(pip, "--implementation") == "cp"
    assert _option(pip, "--python-version") == props["Runtime"].removeprefix("python")
    machine = PIP_MACHINE[props.get("Architectures", ["x86_64"])[0]]
    assert re.fullmatch(rf"manylinux(2014|_2_\d+)_{machine}", _option(pip, "--platform")), pip
    # Only wheels can be installed for another platform; and no .pyc from the build's Python.
    assert "--only-binary=:all:" in pip
    assert "--no-compile" in pip
    if has_python313:
        assert len(calls) == 2, calls
        compileall = calls[1]
        assert compileall[:2] == ["-m", "compileall"], calls
        # Timestamp-checked .pyc files would go stale in the zip (2-second file times).
        assert _option(compileall, "--invalidation-mode") == "unchecked-hash"
        assert compileall[-1] == str(artifacts)
    else:
        assert len(calls) == 1, calls
        assert "skipping compileall" in proc.stderr


@slow
def test_build_target_refuses_without_artifacts_dir(tmp_path: Path) -> None:
    # Run outside the project root, so nothing could be copied even if the guard broke.
    proc = _run(
        [
            _make(),
            "-f",
            str(ROOT / "Makefile"),
            "build-WorkflowFunction",
            f"LAMBDA_PYTHON={_stub_python(tmp_path)}",
        ],
        cwd=tmp_path,
        env=_make_env(tmp_path),
    )
    assert proc.returncode != 0
    assert "ARTIFACTS_DIR is not set" in proc.stderr
    assert _stub_calls(tmp_path) == []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(path: Path, module: str) -> set[str]:
    """Modules that importing `module` (at path) may import: every import statement,
    including those inside functions, except under `if TYPE_CHECKING:`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for stmt in node.orelse:
                visit(stmt)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            # `from pkg import mod` imports pkg.mod when it is a module.
            found.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def _module_path(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for candidate in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# Distributions whose import name is not their name, lowercased with "_" for "-".
_IMPORT_NAMES = {"pyyaml": "yaml", "pyjwt": "jwt"}


def _requirement_modules() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[\s=<>!~\[;@]", line, maxsplit=1)[0].lower().replace("-", "_")
            names.add(_IMPORT_NAMES.get(name, name))
    return names


def test_lambda_import_path_stays_in_the_artifact() -> None:
    """What the handlers can import is in the artifact: first-party modules outside
    signoff/local (which the build leaves out) and the distributions in requirements.txt
    (the only ones the build installs)."""
    first_party = set(CODE_PACKAGES)
    seen: set[str] = set()
    todo = [handler.rpartition(".")[0] for handler in FUNCTIONS.values()]
    third_party: dict[str, str] = {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        parents = module.split(".")
        todo.extend(".".join(parents[:i]) for i in range(1, len(parents)))
        path = _module_path(module)
        if path is None:
            continue  # `from pkg import name` where name is not a module
        for imported in _runtime_imports(path, module):
            top = imported.split(".")[0]
            if top in first_party:
                todo.append(imported)
            elif top not in sys.stdlib_module_names:
                third_party.setdefault(top, module)

    local = ".".join(LOCAL_ONLY)
    shipped = {m for m in seen if _module_path(m) is not None}
    assert {"workflow_fn.app", "slack_handler.app", "notifier.app", "signoff.wiring"} <= shipped
    leaked = sorted(m for m in shipped if m == local or m.startswith(local + "."))
    assert not leaked, f"the Lambda import path reaches {leaked}, which the build leaves out"
    missing = {top: by for top, by in third_party.items() if top not in _requirement_modules()}
    assert not missing, (
        f"imported on the Lambda path but not in requirements.txt (module: importer): {missing}"
    )
