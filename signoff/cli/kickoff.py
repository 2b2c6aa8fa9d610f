"""`signoff start` and `signoff wait`: kick off an approval, and wait for its outcome."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from signoff.cli import context
from signoff.cli.output import clip, err, out, reports_errors, say, styled
from signoff.codec import approval_json
from signoff.errors import ConfigError, ValidationError
from signoff.model import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    StartRequest,
    Status,
    checked_id,
    format_duration,
    new_approval_id,
    parse_duration,
    parse_fields,
)
from signoff.service import Started

if TYPE_CHECKING:
    from signoff.targets import Target


EXIT_CODES = {
    Status.APPROVED: 0,
    Status.REJECTED: 3,
    Status.EXPIRED: 4,
    Status.CANCELLED: 5,
}


def _timeout(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except (OverflowError, ValueError) as exc:  # past timedelta's range or int()'s digit limit
        raise ValidationError(
            f"the timeout '{clip(text)}' is too long: at most {format_duration(MAX_TIMEOUT)}"
        ) from exc


def wait_for(
    target: Target,
    approval_id: str,
    as_json: bool,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    reads = target.approvals.wait_for_outcome(approval_id, sleep=sleep, interval=interval)
    first = next(reads)
    approval = first.approval
    deadline = approval.expires_at.astimezone().strftime("%H:%M:%S %Z")
    err.print(
        styled(
            "Waiting for a decision on ",
            (approval_id, "bold"),
            f" (approvers: {', '.join(approval.policy.approvers)}; deadline {deadline})",
        ),
        soft_wrap=True,
    )
    with err.status(Text("waiting…")) as spinner:
        for progress in itertools.chain([first], reads):
            approval = progress.approval
            if approval.status is Status.PENDING:
                spinner.update(Text(f"pending — {format_duration(progress.left)} left"))
    code = EXIT_CODES[approval.status]
    if as_json:
        out.print_json(json.dumps(approval_json(approval)))
    else:
        who = f" by {approval.decided_by}" if approval.decided_by else ""
        why = f": {approval.reason}" if approval.reason else ""
        say(f"{approval_id} {approval.status.value}{who}{why}")
    return code


@reports_errors
def start(
    title: Annotated[str, typer.Option(help="What needs a sign-off (one line).")],
    policy: Annotated[
        str,
        typer.Option(
            help=(
                "A policy of the deployment (see `signoff policies`): it sets who may "
                "approve, how many must, and whether the requester may."
            )
        ),
    ] = "",
    approver: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "Ad hoc: a Slack user id allowed to decide (repeatable), where the deployment "
                "allows ad-hoc approvers. The requester may not approve an ad-hoc request."
            )
        ),
    ] = None,
    approver_group: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "Ad hoc: a Slack user group id (S…) whose members may decide (repeatable); "
                "its members are looked up once, at kickoff."
            )
        ),
    ] = None,
    min_approvals: Annotated[
        int,
        typer.Option(
            help="Ad hoc: how many distinct approvers must approve (one reject rejects).",
        ),
    ] = 1,
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
    approval_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help=(
                "Use this id. Starting the same request again starts nothing and reports it; "
                "a different request with a used id is refused (exit 2)."
            ),
        ),
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
    """Kick off an approval: record it, post it to Slack, and (with --wait) wait for it.

    Name a deployment policy with --policy, or list approvers ad hoc with --approver and
    --approver-group. An unknown policy, forbidden ad-hoc approvers or a user group that
    cannot be resolved is refused with exit 2, and nothing is recorded.
    """
    if not (policy or approver or approver_group):
        raise ValidationError("name a --policy, or at least one --approver or --approver-group")
    request = StartRequest(
        id=approval_id or new_approval_id(),
        title=title,
        description=description,
        requester=requester or os.environ.get("SIGNOFF_REQUESTER") or os.environ.get("USER", ""),
        approvers=tuple(approver or ()),
        channel=channel,
        timeout=_timeout(timeout),
        fields=parse_fields(field or []),
        policy=policy,
        approver_groups=tuple(approver_group or ()),
        min_approvals=min_approvals,
    )
    target = context.target()
    # What needs no lookup is refused here; the workflow resolves the groups (and checks
    # again) before it writes anything.
    try:
        book = target.policies()
    except ConfigError as exc:  # a broken document: no request can be checked against it
        raise ValidationError(
            f"the deployment's policy document is broken, so nothing can start: {exc}. "
            f"{context.fix_document(target)}"
        ) from exc
    book.check(request)
    kickoff = target.approvals.start_or_match(request, target, new_id=approval_id is None)
    if kickoff.outcome is Started.REFUSED:
        raise ValidationError(
            f"id {request.id} is already used by a different request: "
            f"{'; '.join(kickoff.differences)}"
        )
    status = kickoff.approval.status.value
    if as_json:
        out.print_json(json.dumps({"id": request.id, "status": status}))
    elif kickoff.outcome is Started.STARTED:
        say(f"started {request.id}: {request.title}")
    else:
        say(f"already started {request.id} ({status}): {request.title}")
    if wait:
        raise typer.Exit(wait_for(target, request.id, as_json))


@reports_errors
def wait_cmd(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Wait for an approval started earlier; the exit code is its outcome."""
    checked_id(approval_id)
    raise typer.Exit(wait_for(context.target(), approval_id, as_json))
