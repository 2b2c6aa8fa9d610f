"""The CLI's AWS region and profile, found as the AWS CLI finds them (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.aws_session import MISSING_REGION, aws_session, resolve_region
from signoff.errors import ConfigError

CONFIG = """\
[default]
region = us-west-2

[profile team]
region = ap-southeast-2

[profile no-region]
output = json
"""


@pytest.fixture(autouse=True)
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Our own AWS config file, and none of the machine's AWS settings."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    config.write_text(CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return config


@pytest.mark.parametrize(
    ("option", "env", "profile_region", "expected"),
    [
        (
            "eu-central-1",
            {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"},
            "x",
            "eu-central-1",
        ),
        (None, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}, "x", "eu-west-1"),
        (None, {"AWS_DEFAULT_REGION": "us-east-2"}, "ap-south-1", "us-east-2"),
        (None, {}, "ap-south-1", "ap-south-1"),
        (None, {"AWS_REGION": "", "AWS_DEFAULT_REGION": "  "}, "ap-south-1", "ap-south-1"),
        (None, {}, None, None),
    ],
)
def test_the_region_comes_from_the_option_then_aws_region_then_the_default_then_the_profile(
    option: str | None, env: dict[str, str], profile_region: str | None, expected: str | None
) -> None:
    assert resolve_region(option, env, profile_region) == expected


def test_aws_region_alone_is_enough() -> None:
    """What botocore alone does not read (it asks for AWS_DEFAULT_REGION or the profile)."""
    env = {"AWS_REGION": "eu-west-1", "AWS_PROFILE": "no-region"}
    assert aws_session(env=env).region_name == "eu-west-1"


def test_the_default_profile_and_a_named_profile_give_their_regions() -> None:
    assert aws_session(env={}).region_name == "us-west-2"
    assert aws_session(env={"AWS_PROFILE": "team"}).region_name == "ap-southeast-2"
    assert aws_session(profile="team", env={}).region_name == "ap-southeast-2"
    # --profile wins over AWS_PROFILE; the environment's region over the profile's.
    assert aws_session(profile="team", env={"AWS_PROFILE": "no-region"}).profile_name == "team"
    session = aws_session(profile="team", env={"AWS_DEFAULT_REGION": "eu-north-1"})
    assert session.region_name == "eu-north-1"
    assert aws_session(region="sa-east-1", profile="team", env={}).region_name == "sa-east-1"


def test_no_region_anywhere_says_how_to_set_one(aws_files: Path) -> None:
    aws_files.write_text("[default]\noutput = json\n")
    with pytest.raises(ConfigError) as refused:
        aws_session(env={})
    assert str(refused.value) == MISSING_REGION
    for way in ("--region", "AWS_REGION", "AWS_DEFAULT_REGION", "aws configure set region"):
        assert way in MISSING_REGION


def test_an_unknown_profile_is_named() -> None:
    with pytest.raises(ConfigError, match="the AWS profile 'nope' is not in your AWS config"):
        aws_session(env={"AWS_PROFILE": "nope", "AWS_REGION": "eu-west-1"})
