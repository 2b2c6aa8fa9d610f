"""`signoff list`, `signoff audit` and `signoff show`: what was asked, decided and done."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer

from signoff.cli import context
from signoff.cli.output import cell, new_table, out, reports_errors, say
from signoff.codec import approval_json, event_json, recorded_json
from signoff.model import AuditEvent, RecordedEvent, Status, checked_id, iso


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


@reports_errors
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
    listing = context.target().approvals.listing(chosen, span, limit, page)
    if as_json:
        out.print_json(json.dumps([approval_json(a) for a in listing.approvals]))
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
    if chosen is Status.PENDING and since is None:
        table = new_table("id", "title", "requester", "approvers", "deadline")
        for a in listing.approvals:
            table.add_row(
                cell(a.id),
                cell(a.title),
                cell(a.requester),
                cell(", ".join(a.policy.approvers)),
                cell(a.expires_at.astimezone().strftime("%Y-%m-%d %H:%M")),
            )
    else:
        table = new_table(
            "id", "status", "title", "requester", "requested", "decided by", "decided"
        )
        for a in listing.approvals:
            table.add_row(
                cell(a.id),
                cell(a.status.value),
                cell(a.title),
                cell(a.requester),
                cell(_local_time(a.created_at)),
                cell(a.decided_by),
                cell(_local_time(a.decided_at)),
            )
    out.print(table)
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
            json.dumps({**approval_json(approval), "audit": trail, "workflow": workflow})
        )
        return
    say((approval.title, "bold"), f"  ({approval.id})")
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
            say(f"  {label:<11} {value}")
    table = new_table("at", "event", "actor", "detail", title="audit trail")
    for event in audit:
        table.add_row(
            cell(iso(event.at)), cell(event.kind.value), cell(event.actor), cell(_detail(event))
        )
    out.print(table)


def _detail(event: AuditEvent) -> str:
    return ", ".join(f"{k}={v}" for k, v in event.detail.items())
