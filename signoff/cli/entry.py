"""The `signoff` app: its commands, in the order `--help` lists them, and the entry point."""

from __future__ import annotations

import os
import sys

import typer

from signoff.cli import context, decisions, dev, kickoff, ops, output, policies, queries
from signoff.cli.output import DEBUG_ENV, report

app = typer.Typer(
    help=(
        "Human sign-off for risky actions, decided in Slack.\n\n"
        "Acts on the local stack (`signoff dev`, at $SIGNOFF_LOCAL_URL, default "
        "http://127.0.0.1:3000) unless --stack NAME (or $SIGNOFF_STACK) names a deployed stack; "
        "its AWS region and profile come from --region and --profile or the environment, as "
        "the AWS CLI finds them.\n\n"
        "Exit codes of start --wait and wait: 0 approved, 3 rejected, 4 expired, 5 cancelled; "
        "1 error, 2 bad usage. verify adds 6 (what was given is not what was approved) and 7 "
        "(still pending)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: each value named by what it is (ID, DURATION, KEY=VALUE) where
    # typer's rich panels print Python types (`<str>`, `<bool>`) beside every option.
    rich_markup_mode=None,
)
# The options before any command, then the commands in the order `--help` lists them.
app.callback()(context.options)
app.command(short_help="Kick off an approval (and with --wait, wait for its outcome).")(
    kickoff.start
)
app.command(
    "wait", cls=output.Command, short_help="Wait for an approval's outcome; the exit code says it."
)(kickoff.wait_cmd)
app.command(help=queries.VERIFY_HELP, cls=output.Command)(queries.verify)
app.command("list", short_help="List pending approvals, or past ones by outcome and age.")(
    queries.list_cmd
)
app.command(cls=output.Command, short_help="Audit events of one approval, or of all since a time.")(
    queries.audit
)
app.command(cls=output.Command)(queries.show)
app.command(cls=output.Command)(decisions.decide)
app.command(
    cls=output.Command, short_help="Cancel a pending approval (its requester or an admin)."
)(decisions.cancel)
app.command("report", cls=output.Command)(decisions.report_cmd)
app.command(short_help="Check a deployment and say how to fix what fails.")(ops.doctor)
app.add_typer(
    policies.policies_app,
    name="policies",
    short_help="The deployment's policies; push a new document.",
)
app.command(short_help="Replay the notifier's dead-letter queue.")(ops.redrive)
app.command(short_help="Run the local stack in the foreground (Ctrl-C stops it).")(dev.dev)


def main() -> None:
    """The `signoff` entry point: no traceback reaches the user unless SIGNOFF_DEBUG is set."""
    try:
        app()
    except Exception as exc:  # raised outside a command (commands report their own)
        if os.environ.get(DEBUG_ENV):
            raise
        sys.exit(report(exc))
