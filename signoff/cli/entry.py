"""The `signoff` app: its commands, in the order `--help` lists them, and the entry point."""

from __future__ import annotations

import os
import sys

import typer

from signoff.cli import context, decisions, dev, kickoff, ops, policies, queries
from signoff.cli.output import DEBUG_ENV, report

app = typer.Typer(
    help=(
        "Human sign-off for risky actions, decided in Slack.\n\n"
        "Acts on the local stack (`signoff dev`, at $SIGNOFF_LOCAL_URL, default "
        "http://127.0.0.1:3000) unless --stack NAME (or $SIGNOFF_STACK) names a deployed stack; "
        "its AWS region and profile come from --region and --profile or the environment, as "
        "the AWS CLI finds them.\n\n"
        "Exit codes of start --wait and wait: 0 approved, 3 rejected, 4 expired, 5 cancelled; "
        "1 error, 2 bad usage."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# The options before any command, then the commands in the order `--help` lists them.
app.callback()(context.options)
app.command()(kickoff.start)
app.command("wait")(kickoff.wait_cmd)
app.command("list")(queries.list_cmd)
app.command()(queries.audit)
app.command()(queries.show)
app.command()(decisions.decide)
app.command()(decisions.cancel)
app.command()(ops.doctor)
app.add_typer(policies.policies_app, name="policies")
app.command()(ops.redrive)
app.command()(dev.dev)


def main() -> None:
    """The `signoff` entry point: no traceback reaches the user unless SIGNOFF_DEBUG is set."""
    try:
        app()
    except Exception as exc:  # raised outside a command (commands report their own)
        if os.environ.get(DEBUG_ENV):
            raise
        sys.exit(report(exc))
