"""`signoff list`, `signoff audit`, `signoff show` and `signoff verify`: what was asked,
decided and done, and whether an approval covers what is about to be deployed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer

from signoff import cli_views as views
from signoff.binding import BindingKind, checked_bindings
from signoff.cli import context
from signoff.cli.output import cell, complain, new_table, out, reports_errors, say
from signoff.codec import event_json, recorded_json
from signoff.errors import ValidationError
from signoff.model import AuditEvent, RecordedEvent, Status, checked_id, iso
from signoff.tally import tally

VERIFY_HELP = """Exit 0 only when ID is approved and every value given is the one it bound.

Exit codes: 0 approved and matching; 6 a value given differs from what was bound, or was
not bound at all (whatever the status: a binding never changes); 3 rejected, 4 expired,
5 cancelled; 7 still pending (without --wait); 1 unknown id or an error; 2 bad usage.
Values are compared exactly (lowercase): give the full SHA that was bound.
"""


@reports_errors
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
    target = context.target()
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
        say(found.sentence)
    else:
        complain(("refused: ", "red"), found.sentence)
    raise typer.Exit(int(found.code))


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


@reports_errors
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
    target = context.target()
    listing = target.approvals.listing(chosen, span, limit, page)
    if as_json:
        out.print_json(json.dumps([views.approval_view_json(a) for a in listing.approvals]))
        if listing.next_page:
            out.print_json(json.dumps({"next_page": listing.next_page}))
        return
    if not listing.approvals:
        say(
            "Nothing is waiting for a decision."
            if chosen is Status.PENDING and since is None and page is None
            else "No approvals match."
        )
        return
    now = target.approvals.clock()
    for number, approval in enumerate(listing.approvals):
        if number:
            say("")
        for line in views.listed(approval, now):
            say(line)
    if listing.next_page:
        say("next page: --page ", listing.next_page)


@reports_errors
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
    approvals = context.target().approvals
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
    table = new_table("at", "id", "event", "actor", "detail")
    rows = 0
    for recorded in events:
        event = recorded.event
        table.add_row(
            cell(iso(event.at)),
            cell(recorded.approval_id),
            cell(event.kind.value),
            cell(event.actor),
            cell(_detail(event)),
        )
        rows += 1
    if rows:
        out.print(table)
    else:
        say("No events match.")


@reports_errors
def show(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one approval, its audit trail and its workflow's status."""
    checked_id(approval_id)
    target = context.target()
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
    say((approval.title, "bold"), f"  ({approval.id})")
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
            say(f"  {label:<11} {value}")
    if counted.votes:
        say("  votes")
        for line in views.vote_lines(counted, now):
            say("    ", line)
    table = new_table("at", "event", "actor", "detail", title="audit trail")
    for event in audit:
        table.add_row(
            cell(iso(event.at)), cell(event.kind.value), cell(event.actor), cell(_detail(event))
        )
    out.print(table)


def _detail(event: AuditEvent) -> str:
    return ", ".join(f"{k}={v}" for k, v in event.detail.items())
