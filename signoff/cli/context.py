"""The options given before a command (--stack, --local-url, --region, --profile)
and the target they name: the local stack or a deployed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from signoff.cli.output import say
from signoff.errors import ValidationError

if TYPE_CHECKING:
    from signoff.targets import AwsTarget, Target


# How the CLI finds AWS settings for --stack: as the AWS CLI does (signoff.aws_session).
REGION_HELP = (
    "AWS region of the --stack (default: $AWS_REGION, then $AWS_DEFAULT_REGION, then the "
    "profile's region)."
)

PROFILE_HELP = "AWS profile for --stack (default: $AWS_PROFILE, else the default profile)."

given: dict[str, Any] = {}


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("signoff")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown (not installed)"
        say(f"signoff {number}")
        raise typer.Exit(0)


def options(
    stack: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            envvar="SIGNOFF_STACK",
            help="Act on this deployed CloudFormation stack.",
        ),
    ] = None,
    local_url: Annotated[
        str,
        typer.Option(
            metavar="URL", envvar="SIGNOFF_LOCAL_URL", help="Where the local stack answers."
        ),
    ] = "http://127.0.0.1:3000",
    region: Annotated[str | None, typer.Option(metavar="REGION", help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    given["stack"] = stack
    given["local_url"] = local_url
    given["region"] = region
    given["profile"] = profile


def target() -> Target:
    from signoff.targets import AwsTarget, LocalTarget

    if given.get("stack"):
        return AwsTarget(given["stack"], region=given.get("region"), profile=given.get("profile"))
    return LocalTarget(given["local_url"])


def aws_target(needs_a_stack: str) -> AwsTarget:
    """The deployed stack the command acts on; ValidationError `needs_a_stack` without one."""
    from signoff.targets import AwsTarget

    chosen = target() if given.get("stack") else None
    if not isinstance(chosen, AwsTarget):
        raise ValidationError(needs_a_stack)
    return chosen


def aws_options(region: str | None, profile: str | None, stack: str | None = None) -> None:
    """A command's own --stack, --region and --profile win over the ones given before it."""
    for key, value in (("stack", stack), ("region", region), ("profile", profile)):
        if value:
            given[key] = value


def fix_document(target: Target) -> str:
    from signoff.targets import AwsTarget

    if isinstance(target, AwsTarget):
        return f"Push a valid one: signoff policies push FILE --stack {target.stack_name}"
    return "Fix the local stack's policy file (.signoff/policies.yaml or `signoff dev --policies`)"
