"""The `signoff` command line: kick off, wait for, list, show, decide and cancel approvals."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from signoff.errors import (
    ConfigError,
    NotFoundError,
    RefusedError,
    SignoffError,
    ValidationError,
)
from signoff.model import (
    DEFAULT_TIMEOUT,
    Approval,
    Decision,
    StartRequest,
    Status,
    format_duration,
    iso,
    new_approval_id,
    parse_duration,
    parse_fields,
)

if TYPE_CHECKING:
    from signoff.targets import Target

EXIT_CODES = {
    Status.APPROVED: 0,
    Status.REJECTED: 3,
    Status.EXPIRED: 4,
    Status.CANCELLED: 5,
}

app = typer.Typer(
    help=(
        "Human sign-off for risky actions, decided in Slack.\n\n"
        "Acts on the local stack (`signoff dev`, at $SIGNOFF_LOCAL_URL, default "
        "http://127.0.0.1:3000) unless --stack NAME (or $SIGNOFF_STACK) names a deployed stack.\n\n"
        "Exit codes of start --wait and wait: 0 approved, 3 rejected, 4 expired, 5 cancelled; "
        "1 error, 2 bad usage."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

_state: dict[str, Any] = {}


@app.callback()
def _main(
    stack: Annotated[
        str | None,
        typer.Option(envvar="SIGNOFF_STACK", help="Act on this deployed CloudFormation stack."),
    ] = None,
    local_url: Annotated[
        str,
        typer.Option(envvar="SIGNOFF_LOCAL_URL", help="Where the local stack answers."),
    ] = "http://127.0.0.1:3000",
) -> None:
    _state["stack"] = stack
    _state["local_url"] = local_url


def _target() -> Target:
    from signoff.targets import AwsTarget, LocalTarget

    if _state.get("stack"):
        return AwsTarget(_state["stack"])
    return LocalTarget(_state["local_url"])


def _fail(exc: SignoffError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}", highlight=False)
    return typer.Exit(2 if isinstance(exc, ValidationError) else 1)


def _approval_json(approval: Approval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "status": approval.status.value,
        "title": approval.title,
        "description": approval.description,
        "fields": dict(approval.fields),
        "requester": approval.requester,
        "approvers": list(approval.policy.approvers),
        "channel": approval.channel,
        "created_at": iso(approval.created_at),
        "expires_at": iso(approval.expires_at),
        "decided_by": approval.decided_by or None,
        "decided_at": iso(approval.decided_at) if approval.decided_at else None,
        "reason": approval.reason or None,
        "votes": [
            {"user": v.user, "decision": v.decision.value, "at": iso(v.at), "reason": v.reason}
            for v in approval.votes
        ],
        "message": (
            {"channel": approval.message.channel, "ts": approval.message.ts}
            if approval.message
            else None
        ),
    }


# The workflow expires a request at its deadline. If it has not done so this long after
# (the workflow failed or was deleted), the waiting CLI makes the same conditional write:
# still one outcome, whoever writes it.
EXPIRY_GRACE = timedelta(seconds=120)


def _wait(target: Target, approval_id: str, as_json: bool, interval: float = 1.0) -> int:
    approval = target.approvals.get(approval_id)
    deadline = approval.expires_at.astimezone().strftime("%H:%M:%S %Z")
    err.print(
        f"Waiting for a decision on [bold]{approval_id}[/bold] "
        f"(approvers: {', '.join(approval.policy.approvers)}; deadline {deadline})",
        highlight=False,
    )
    with err.status("waiting…") as spinner:
        while approval.status is Status.PENDING:
            left = approval.expires_at - datetime.now(UTC)
            spinner.update(f"pending — {format_duration(left)} left")
            time.sleep(interval)
            approval = target.approvals.get(approval_id)
            if datetime.now(UTC) > approval.expires_at + EXPIRY_GRACE:
                approval = target.approvals.expire_if_due(approval_id)
    code = EXIT_CODES[approval.status]
    if as_json:
        out.print_json(json.dumps(_approval_json(approval)))
    else:
        who = f" by {approval.decided_by}" if approval.decided_by else ""
        why = f": {approval.reason}" if approval.reason else ""
        out.print(f"{approval_id} {approval.status.value}{who}{why}", highlight=False)
    return code


@app.command()
def start(
    title: Annotated[str, typer.Option(help="What needs a sign-off (one line).")],
    approver: Annotated[
        list[str], typer.Option(help="Slack user id allowed to decide (repeatable).")
    ],
    description: Annotated[str, typer.Option(help="More detail for the approvers.")] = "",
    requester: Annotated[
        str | None,
        typer.Option(help="Who asks (Slack user id). Default: $SIGNOFF_REQUESTER or $USER."),
    ] = None,
    channel: Annotated[
        str,
        typer.Option(
            envvar="SIGNOFF_CHANNEL",
            help="Slack channel for the request. Default: the deployment's default channel.",
        ),
    ] = "",
    timeout: Annotated[
        str, typer.Option(help="Deadline from now: 90s, 30m, 2h, 1d (max 7d).")
    ] = format_duration(DEFAULT_TIMEOUT),
    field: Annotated[
        list[str] | None, typer.Option(help="Extra key=value shown in the message (repeatable).")
    ] = None,
    allow_self_approval: Annotated[
        bool, typer.Option(help="Let the requester approve their own request.")
    ] = False,
    approval_id: Annotated[
        str | None, typer.Option("--id", help="Use this id (starting twice starts once).")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="Wait for the outcome; exit 0 approved, 3 rejected, 4 expired, 5 cancelled."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (one object per line).")
    ] = False,
) -> None:
    """Kick off an approval: record it, post it to Slack, and (with --wait) wait for it."""
    try:
        request = StartRequest(
            id=approval_id or new_approval_id(),
            title=title,
            description=description,
            requester=requester
            or os.environ.get("SIGNOFF_REQUESTER")
            or os.environ.get("USER", ""),
            approvers=tuple(approver),
            channel=channel,
            timeout=parse_duration(timeout),
            fields=parse_fields(field or []),
            allow_self_approval=allow_self_approval,
        )
        target = _target()
        target.start(request)
        approval = _await_record(target, request.id)
        if as_json:
            out.print_json(json.dumps({"id": request.id, "status": approval.status.value}))
        else:
            out.print(f"started {request.id}: {request.title}", highlight=False)
        if wait:
            raise typer.Exit(_wait(target, request.id, as_json))
    except SignoffError as exc:
        raise _fail(exc) from exc


def _await_record(target: Target, approval_id: str, timeout: float = 30) -> Approval:
    """The workflow writes the record in its first step; wait until it is there."""
    give_up = time.monotonic() + timeout
    while True:
        try:
            return target.approvals.get(approval_id)
        except NotFoundError as exc:
            if time.monotonic() > give_up:
                raise NotFoundError(
                    f"the workflow has not recorded {approval_id} after {timeout:.0f}s; "
                    f"check that it started (`signoff show {approval_id}` later)"
                ) from exc
            time.sleep(0.2)


@app.command("wait")
def wait_cmd(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Wait for an approval started earlier; the exit code is its outcome."""
    try:
        raise typer.Exit(_wait(_target(), approval_id, as_json))
    except SignoffError as exc:
        raise _fail(exc) from exc


@app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List pending approvals, soonest deadline first."""
    try:
        pending = _target().approvals.list_pending()
    except SignoffError as exc:
        raise _fail(exc) from exc
    if as_json:
        out.print_json(json.dumps([_approval_json(a) for a in pending]))
        return
    if not pending:
        out.print("Nothing is waiting for a decision.")
        return
    table = Table("id", "title", "requester", "approvers", "deadline")
    for a in pending:
        table.add_row(
            a.id,
            a.title,
            a.requester,
            ", ".join(a.policy.approvers),
            a.expires_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)


@app.command()
def show(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one approval, its audit trail and its workflow's status."""
    try:
        target = _target()
        approval = target.approvals.get(approval_id)
        audit = target.approvals.audit(approval_id)
        workflow = target.workflow(approval)
    except SignoffError as exc:
        raise _fail(exc) from exc
    if as_json:
        out.print_json(
            json.dumps({**_approval_json(approval), "audit": audit, "workflow": workflow})
        )
        return
    out.print(f"[bold]{approval.title}[/bold]  ({approval.id})", highlight=False)
    for label, value in (
        ("status", approval.status.value),
        ("requester", approval.requester),
        ("approvers", ", ".join(approval.policy.approvers)),
        ("deadline", iso(approval.expires_at)),
        ("decided by", approval.decided_by),
        ("reason", approval.reason),
        ("workflow", workflow.get("status", "unknown")),
    ):
        if value:
            out.print(f"  {label:<10} {value}", highlight=False)
    table = Table("at", "event", "actor", "detail", title="audit trail")
    for event in audit:
        detail = ", ".join(f"{k}={v}" for k, v in event["detail"].items())
        table.add_row(event["at"], event["kind"], event["actor"], detail)
    out.print(table)


@app.command()
def decide(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    decision: Annotated[Decision, typer.Argument(help="approve or reject")],
    as_user: Annotated[str, typer.Option("--as", help="The deciding user's Slack id.")],
    reason: Annotated[str, typer.Option(help="Why (required to reject).")] = "",
) -> None:
    """Approve or reject, under the same rules as a click in Slack."""
    try:
        approval = _target().approvals.decide(approval_id, as_user, decision, reason)
    except RefusedError as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except SignoffError as exc:
        raise _fail(exc) from exc
    out.print(f"{approval.id} {approval.status.value} by {as_user}", highlight=False)


@app.command()
def cancel(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[str, typer.Option("--as", help="The requester or an approver.")],
    reason: Annotated[str, typer.Option(help="Why it is cancelled.")] = "",
) -> None:
    """Cancel a pending approval (the requester or an approver)."""
    try:
        approval = _target().approvals.cancel(approval_id, as_user, reason)
    except RefusedError as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except SignoffError as exc:
        raise _fail(exc) from exc
    out.print(f"{approval.id} cancelled by {as_user}", highlight=False)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 3000,
    home: Annotated[
        Path, typer.Option(help="Where the local state lives (survives restarts).")
    ] = Path(".signoff"),
) -> None:
    """Run the embedded local stack in the foreground (Ctrl-C stops it)."""
    from signoff.local.stack import DEMO_APPROVER, DEMO_REQUESTER, LocalStack

    stack = LocalStack(home.resolve(), port=port)
    err.print("starting DynamoDB Local, the durable emulator, SNS and the Slack stand-in…")
    try:
        stack.start()
    except (ConfigError, OSError) as exc:
        stack.stop()
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc

    def _stop(signum: int, frame: Any) -> None:
        # Ends serve_forever below; shutdown() waits for it, so it must not run on this thread.
        threading.Thread(target=stack.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    err.print(
        f"[green]ready[/green] on {stack.base_url}\n"
        f"  Slack page     {stack.base_url}/\n"
        f"  Bolt endpoint  {stack.base_url}/slack/events\n"
        f"  conversation   {stack.base_url}/local/messages\n"
        f"  state          {stack.home}  (recovered {stack.recovered} waiting workflow(s))\n"
        f"try: signoff start --title 'Deploy api v2' --approver {DEMO_APPROVER} "
        f"--requester {DEMO_REQUESTER} --wait",
        highlight=False,
    )
    sys.stderr.flush()
    stack.serve_forever()
    err.print("stopping…")
    stack.stop()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
