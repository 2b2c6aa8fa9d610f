"""The CLI on a deployed stack as a user runs it: AWS settings from the environment or
options, policies pushed as data. CloudFormation, SSM and SQS are moto's, the table is
DynamoDB Local, and nothing of signoff is patched (tests/integration/aws_stack.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from signoff import cli
from signoff.policy import MAX_PARAMETER_BYTES
from tests.integration.aws_stack import client, create_stack

pytestmark = pytest.mark.integration

runner = CliRunner()
REGION = "eu-west-1"  # not the fixtures' us-east-1: a region only the environment names

DOCUMENT = """\
allow_ad_hoc: false          # every request names a policy
admins: [U02OPSLEAD]
policies:
  prod-db:
    description: Production schema and data changes
    approver_groups: [S04DBATEAM]
    min_approvals: 2
  prod-deploy:
    approvers: [U01ALICE, U01BOB, U01CAROL]
    min_approvals: 2
"""


@pytest.fixture
def aws_env(moto_endpoint: str, tmp_path: Path) -> dict[str, str | None]:
    """What a user's shell holds: credentials, endpoints (moto), no region, no profile."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\noutput = json\n")
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_REGION": None,
        "AWS_DEFAULT_REGION": None,
        "AWS_PROFILE": None,
        "SIGNOFF_STACK": None,
        "COLUMNS": "200",
    }


Run = Callable[..., Result]


@pytest.fixture
def signoff(aws_env: dict[str, str | None]) -> Run:
    def run(*args: str, input: str | None = None, **env: str | None) -> Result:
        return runner.invoke(cli.app, list(args), env={**aws_env, **env}, input=input)

    return run


@pytest.fixture
def stack(moto_endpoint: str) -> str:
    return create_stack(moto_endpoint, REGION)


def parameter(moto: str, stack: str) -> dict[str, Any]:
    """The stack's policy parameter as SSM holds it."""
    return dict(client(moto, "ssm", REGION).get_parameter(Name=f"/{stack}/policies")["Parameter"])


# ------------------------------------------------------------------ region and profile


def test_aws_region_alone_finds_the_stack(signoff: Run, stack: str) -> None:
    """docs/deploy.md step 5: `export AWS_REGION=…` and nothing else."""
    result = signoff("--stack", stack, "policies", AWS_REGION=REGION)
    assert result.exit_code == 0, result.output
    assert f"none yet (SSM parameter /{stack}/policies does not exist)" in result.output
    assert "ad-hoc approvers: allowed" in result.output


def test_doctor_finds_the_stack_with_aws_region_alone(signoff: Run, stack: str) -> None:
    result = signoff("doctor", "--stack", stack, "--json", AWS_REGION=REGION)
    report = json.loads(result.stdout)  # a report, not "You must specify a region"
    assert report["target"] == f"stack {stack}"
    assert {c["name"] for c in report["checks"]} >= {"stack outputs", "table and index"}


def test_no_region_anywhere_is_a_clear_error(signoff: Run, stack: str) -> None:
    for args in (("--stack", stack, "policies"), ("doctor", "--stack", stack)):
        result = signoff(*args)
        assert result.exit_code == 1
        assert "no AWS region is set: pass --region REGION" in result.stderr
        assert "AWS_REGION" in result.stderr
        assert "Traceback" not in result.output


def test_the_region_option_wins_and_a_wrong_region_is_named(
    signoff: Run, stack: str, aws_env: dict[str, str | None]
) -> None:
    # The environment names a region the stack is not in; --region names the right one.
    assert (
        signoff("--region", REGION, "--stack", stack, "policies", AWS_REGION="us-east-2").exit_code
        == 0
    )
    assert (
        signoff("policies", "--stack", stack, "--region", REGION, AWS_REGION="us-east-2").exit_code
        == 0
    )
    assert signoff("doctor", "--stack", stack, "--region", REGION, "--json").stdout.startswith("{")
    wrong = signoff("--stack", stack, "policies", AWS_REGION="us-east-2")
    assert wrong.exit_code == 1
    assert f"cannot read stack {stack} in us-east-2" in wrong.stderr


def test_the_profile_gives_the_region(signoff: Run, stack: str, aws_env: dict[str, Any]) -> None:
    Path(aws_env["AWS_CONFIG_FILE"]).write_text(f"[profile team]\nregion = {REGION}\n")
    # A named profile brings its own keys (the environment's are not used with one).
    Path(aws_env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[team]\naws_access_key_id = local\naws_secret_access_key = local\n"
    )
    assert signoff("--profile", "team", "--stack", stack, "policies").exit_code == 0
    assert signoff("--stack", stack, "policies", AWS_PROFILE="team").exit_code == 0
    unknown = signoff("--profile", "nope", "--stack", stack, "policies")
    assert unknown.exit_code == 1
    assert "the AWS profile 'nope' is not in your AWS config" in unknown.stderr


# ------------------------------------------------------------------ policies push


def test_push_writes_a_version_and_policies_shows_it(
    signoff: Run, stack: str, moto_endpoint: str, tmp_path: Path
) -> None:
    document = tmp_path / "policies.yaml"
    document.write_text(DOCUMENT)
    pushed = signoff("policies", "push", str(document), "--stack", stack, AWS_REGION=REGION)
    assert pushed.exit_code == 0, pushed.output
    assert f"to SSM parameter /{stack}/policies: version 1" in pushed.stdout
    assert "2 policies (prod-db, prod-deploy); ad-hoc approvers not allowed" in pushed.stdout
    stored = parameter(moto_endpoint, stack)
    assert stored["Value"] == DOCUMENT  # as written, comments too

    shown = signoff("policies", "--stack", stack, AWS_REGION=REGION)
    assert shown.exit_code == 0, shown.output
    changed = stored["LastModifiedDate"].isoformat(timespec="seconds").replace("+00:00", "Z")
    assert f"document: SSM parameter /{stack}/policies, version 1, changed {changed[:16]}" in (
        shown.stdout
    )
    assert "prod-deploy" in shown.stdout and "not allowed (name a policy)" in shown.stdout
    listed = json.loads(signoff("policies", "--stack", stack, "--json", AWS_REGION=REGION).stdout)
    assert listed["allow_ad_hoc"] is False and set(listed["policies"]) == {"prod-db", "prod-deploy"}

    # The same text again writes nothing; an edit is the next version.
    again = signoff("--stack", stack, "policies", "push", str(document), AWS_REGION=REGION)
    assert "is already in force (version 1" in again.stdout
    assert parameter(moto_endpoint, stack)["Version"] == 1
    document.write_text(DOCUMENT.replace("min_approvals: 2\n", "min_approvals: 1\n", 1))
    edited = signoff(
        "--stack", stack, "policies", "push", str(document), "--json", AWS_REGION=REGION
    )
    assert json.loads(edited.stdout)["version"] == 2


def test_a_bad_document_is_refused_whole_and_nothing_is_written(
    signoff: Run, stack: str, moto_endpoint: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(DOCUMENT)
    assert (
        signoff("--stack", stack, "policies", "push", str(good), AWS_REGION=REGION).exit_code == 0
    )
    bad = tmp_path / "bad.yaml"
    problems = {
        "allow_ad_hoc: maybe": "allow_ad_hoc must be true or false",
        "  prod-db:\n    approvers: [U01A]\n    min_approvals: 3": "min_approvals is 3 but only 1",
        "  prod-x:\n    approvers: [U01A]\n    remind_every: soon": "remind_every 'soon' is not a duration",
        "  Bad Name:\n    approvers: [U01A]": "must be 3-64 lowercase letters",
        "  prod-y:\n    aprovers: [U01A]": "unknown key(s) 'aprovers'",
    }
    head, *rules = problems
    bad.write_text(head + "\npolicies:\n" + "\n".join(rules) + "\n")
    refused = signoff("--stack", stack, "policies", "push", str(bad), AWS_REGION=REGION)
    assert refused.exit_code == 2, refused.output
    for said in problems.values():
        assert said in refused.stderr, said  # every problem, none clipped
    assert parameter(moto_endpoint, stack)["Version"] == 1

    # The one place SAM's parser used to cut the document: nothing past "allow_ad_hoc:".
    cut = tmp_path / "cut.yaml"
    cut.write_text("allow_ad_hoc:")
    assert signoff("--stack", stack, "policies", "push", str(cut), AWS_REGION=REGION).exit_code == 2
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n")
    nothing = signoff("--stack", stack, "policies", "push", str(empty), AWS_REGION=REGION)
    assert nothing.exit_code == 2 and "is empty" in nothing.stderr
    assert parameter(moto_endpoint, stack)["Value"] == DOCUMENT


def test_up_to_8_kb_is_stored_in_a_tier_that_holds_it_and_more_is_refused(
    signoff: Run, stack: str, moto_endpoint: str, tmp_path: Path
) -> None:
    """SSM's Standard tier holds 4,096 characters; moto stores more without a word, so the
    tier the CLI asked for is checked here: Intelligent-Tiering moves a document over 4 KB
    to Advanced (8 KB)."""
    rules = "".join(
        f"  team-{n:03}:\n    description: {'x' * 40}\n    approvers: [U0{n:05}]\n"
        for n in range(200)
    )
    large = "policies:\n" + rules
    while len(large.encode()) > 6000:
        large = large[: large.rindex("  team-")]
    assert 4096 < len(large.encode()) <= MAX_PARAMETER_BYTES
    document = tmp_path / "large.yaml"
    document.write_text(large)
    pushed = signoff("--stack", stack, "policies", "push", str(document), AWS_REGION=REGION)
    assert pushed.exit_code == 0, pushed.output
    described = client(moto_endpoint, "ssm", REGION).describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"/{stack}/policies"]}]
    )["Parameters"][0]
    assert described["Tier"] in {"Intelligent-Tiering", "Advanced"}

    document.write_text("policies:\n" + rules * 3)
    refused = signoff("--stack", stack, "policies", "push", str(document), AWS_REGION=REGION)
    assert refused.exit_code == 2
    assert "the SSM parameter holds at most 8,192 bytes" in refused.stderr
    assert parameter(moto_endpoint, stack)["Version"] == 1


def test_push_reads_stdin_and_needs_a_stack(signoff: Run, stack: str, moto_endpoint: str) -> None:
    piped = signoff("--stack", stack, "policies", "push", "-", input=DOCUMENT, AWS_REGION=REGION)
    assert piped.exit_code == 0, piped.output
    assert parameter(moto_endpoint, stack)["Value"] == DOCUMENT
    local = signoff("policies", "push", "-", input=DOCUMENT)
    assert local.exit_code == 2
    assert "name the stack with --stack NAME" in local.stderr
    assert ".signoff/policies.yaml" in local.stderr


# ------------------------------------------------------------------ a broken document


def test_start_refuses_while_the_document_in_ssm_is_broken(
    signoff: Run, stack: str, moto_endpoint: str
) -> None:
    """What `sam deploy --parameter-overrides Policies="$(cat policies.yaml)"` wrote."""
    client(moto_endpoint, "ssm", REGION).put_parameter(
        Name=f"/{stack}/policies", Value="allow_ad_hoc:", Type="String"
    )
    started = signoff(
        "--stack", stack, "start", "--title", "Deploy", "--approver", "U0A", "--requester", "U0R",
        AWS_REGION=REGION,
    )  # fmt: skip
    assert started.exit_code == 2, started.output
    assert "the deployment's policy document is broken, so nothing can start" in started.stderr
    assert f"SSM parameter /{stack}/policies (version 1): allow_ad_hoc must be true or false" in (
        started.stderr
    )
    assert f"signoff policies push FILE --stack {stack}" in started.stderr
    shown = signoff("--stack", stack, "policies", AWS_REGION=REGION)
    assert shown.exit_code == 1
    assert "allow_ad_hoc must be true or false" in shown.stderr
    assert f"Push a valid one: signoff policies push FILE --stack {stack}" in shown.stderr
