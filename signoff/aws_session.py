"""AWS settings for the CLI, resolved the way the AWS CLI resolves them.

botocore alone reads the region from `AWS_DEFAULT_REGION` or the profile, not from
`AWS_REGION`, which the AWS CLI and the other SDKs honour first. So the CLI resolves it
itself, in the AWS CLI's order: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the
profile's `region`; the profile is `--profile`, else `AWS_PROFILE`. Credentials stay
botocore's (environment, profile, SSO, container or instance roles).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from signoff.errors import ConfigError

MISSING_REGION = (
    "no AWS region is set: pass --region REGION (e.g. `signoff --region eu-west-1 ...`), "
    "or set AWS_REGION (or AWS_DEFAULT_REGION) to the stack's region, or give your AWS "
    "profile one (`aws configure set region REGION`)"
)


def resolve_region(
    region: str | None, env: Mapping[str, str], profile_region: str | None
) -> str | None:
    """The region the AWS CLI would use: the option, then the environment, then the profile."""
    for candidate in (region, env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), profile_region):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def aws_session(
    region: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """A boto3 session with a region, or ConfigError saying how to set one."""
    import boto3
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    env = os.environ if env is None else env
    profile = (profile or env.get("AWS_PROFILE") or "").strip() or None
    core = botocore.session.Session(profile=profile)
    try:
        profile_region = core.get_scoped_config().get("region")
    except ProfileNotFound:
        raise ConfigError(
            f"the AWS profile {profile!r} is not in your AWS config or credentials file: "
            "check the name (`aws configure list-profiles`), or set it up "
            f"(`aws configure --profile {profile}`)"
        ) from None
    chosen = resolve_region(region, env, profile_region)
    if chosen is None:
        raise ConfigError(MISSING_REGION)
    return boto3.Session(botocore_session=core, region_name=chosen)
