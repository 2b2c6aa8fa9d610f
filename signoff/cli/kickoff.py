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

from signoff import cli_views as views
from signoff.binding import checked_bindings, parse_binding
from signoff.ci import parse_links
from signoff.cli import context
from signoff.cli.output import clip, complain, err, out, reports_errors, say, styled
from signoff.errors import ConfigError, ValidationError
from signoff.model import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    Approval,
    StartRequest,
    Status,
    checked_id,
    format_duration,
    new_approval_id,
    parse_duration,
    parse_fields,
)
from signoff.service import Started
from signoff.tally import tally

if TYPE_CHECKING:
    from signoff.gates.port import GateRef
    from signoff.targets import Target


# Ctrl-C, as shells report a command ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130

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
) -> int:
    try:
        approval = _watch(target, approval_id, interval, time.sleep)
    except KeyboardInterrupt:
        # Stopping the wait decides nothing: the request stays open for its approvers.
        complain(
            ("stopped waiting: ", "yellow"),
            f"{approval_id} is still pending (Ctrl-C only stops this wait). "
            f"Resume with: signoff wait {approval_id}",
        )
        return EXIT_INTERRUPTED
    code = EXIT_CODES[approval.status]
    if as_json:
        out.print_json(json.dumps(views.approval_view_json(approval)))
    else:
        now = target.approvals.clock()
        say(f"{approval_id} {views.outcome(tally(approval))}")
        for line in views.vote_lines(tally(approval), now):
            say("  ", line)
        if approval.status is Status.CANCELLED:
            for line in approval.reason.splitlines():
                say("  > ", line)
    return code


def _watch(
    target: Target, approval_id: str, interval: float, sleep: Callable[[float], None]
) -> Approval:
    """Follow an approval until it closes, saying each vote as it comes."""
    reads = target.approvals.wait_for_outcome(approval_id, sleep=sleep, interval=interval)
    first = next(reads)
    approval = first.approval
    now = target.approvals.clock()
    err.print(
        styled(
            "Waiting for a decision on ",
            (approval_id, "bold"),
            f" (approvers: {', '.join(approval.policy.approvers)}; "
            f"deadline {views.when(approval.expires_at, now)})",
        ),
        soft_wrap=True,
    )
    seen = 0
    with err.status(Text("waiting…")) as spinner:
        for progress in itertools.chain([first], reads):
            approval = progress.approval
            counted = tally(approval)
            now = approval.expires_at - progress.left
            for vote in counted.votes[seen:]:
                err.print(styled("  ", views.vote_line(vote, now)), soft_wrap=True)
            seen = len(counted.votes)
            if approval.status is Status.PENDING:
                spinner.update(styled(views.standing(counted, now), one_line=True))
    return approval


@reports_errors
def start(
    title: Annotated[str, typer.Option(metavar="TEXT", help="What needs a sign-off (one line).")],
    policy: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help=(
                "A policy of the deployment (see `signoff policies`): it sets who may "
                "approve, how many must, and whether the requester may."
            ),
        ),
    ] = "",
    approver: Annotated[
        list[str] | None,
        typer.Option(
            metavar="USER",
            help=(
                "Ad hoc: a Slack user id allowed to decide (repeatable), where the deployment "
                "allows ad-hoc approvers. The requester may not approve an ad-hoc request."
            ),
        ),
    ] = None,
    approver_group: Annotated[
        list[str] | None,
        typer.Option(
            metavar="GROUP",
            help=(
                "Ad hoc: a Slack user group id (S…) whose members may decide (repeatable); "
                "its members are looked up once, at kickoff."
            ),
        ),
    ] = None,
    min_approvals: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Ad hoc: how many distinct approvers must approve (one reject rejects).",
        ),
    ] = 1,
    description: Annotated[
        str, typer.Option(metavar="TEXT", help="More detail for the approvers.")
    ] = "",
    requester: Annotated[
        str | None,
        typer.Option(
            metavar="USER", help="Who asks (Slack user id). Default: $SIGNOFF_REQUESTER or $USER."
        ),
    ] = None,
    channel: Annotated[
        str,
        typer.Option(
            metavar="CHANNEL",
            envvar="SIGNOFF_CHANNEL",
            help="Slack channel for the request. Default: the deployment's default channel.",
        ),
    ] = "",
    timeout: Annotated[
        str, typer.Option(metavar="DURATION", help="Deadline from now: 90s, 30m, 2h, 1d (max 7d).")
    ] = format_duration(DEFAULT_TIMEOUT),
    field: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE", help="Extra key=value shown in the message (repeatable)."
        ),
    ] = None,
    bind: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KIND=VALUE",
            help=(
                "Bind the approval to what is deployed (repeatable, one of each): "
                "sha=<commit, 7-64 hex>, digest=sha256:<64 hex> (an image), "
                "plan=sha256:<64 hex> (a plan's hash). Fixed once started; shown in Slack; "
                "checked by `signoff verify` and by every gate."
            ),
        ),
    ] = None,
    on_approve: Annotated[
        str | None,
        typer.Option(
            metavar="RELEASE",
            help=(
                "Release a CI hold on approval: github-dispatch:OWNER/REPO (a "
                "repository_dispatch `signoff-approved`) or gitlab-play:PROJECT:JOB (play a "
                "manual job). The deployment holds the tokens (docs/gates/)."
            ),
        ),
    ] = None,
    link: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=URL",
            help="NAME=URL shown as a link button on the message (https:// or http://; "
            "repeatable, at most 5).",
        ),
    ] = None,
    approval_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            metavar="ID",
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
        bindings=checked_bindings(parse_binding(b) for b in bind or ()),
        links=parse_links(link or []),
        gate=_on_approve(on_approve),
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


def _on_approve(text: str | None) -> GateRef | None:
    from signoff.gates.on_approve import parse_on_approve

    return parse_on_approve(text) if text is not None else None


@reports_errors
def wait_cmd(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Wait for an approval started earlier; the exit code is its outcome."""
    checked_id(approval_id)
    raise typer.Exit(wait_for(context.target(), approval_id, as_json))
