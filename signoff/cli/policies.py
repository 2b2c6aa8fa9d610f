"""`signoff policies` and `signoff policies push`: the deployment's policy document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from signoff.cli import context
from signoff.cli.output import Command, cell, err, new_table, out, reports_errors, say, styled
from signoff.errors import ConfigError, ValidationError
from signoff.model import format_duration, iso

if TYPE_CHECKING:
    from signoff.policy import PolicyDocument
    from signoff.targets import AwsTarget


policies_app = typer.Typer(no_args_is_help=False)  # its help is the callback's docstring


@policies_app.callback(invoke_without_command=True)
@reports_errors
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
    region: Annotated[str | None, typer.Option(metavar="REGION", help=context.REGION_HELP)] = None,
    profile: Annotated[
        str | None, typer.Option(metavar="PROFILE", help=context.PROFILE_HELP)
    ] = None,
) -> None:
    """List the deployment's named policies, whether ad-hoc approvers are allowed, and admins.

    On a deployed stack it also says which version of the document is in force, and when it
    changed. `signoff policies push FILE` writes a new one.
    """
    if ctx.invoked_subcommand is not None:
        return
    from signoff.policy import PolicyBook
    from signoff.targets import AwsTarget

    context.aws_options(region, profile, stack)
    target = context.target()
    if isinstance(target, AwsTarget):
        try:
            document = target.policy_document()
        except ConfigError as exc:  # broken by hand: say what is wrong and how to mend it
            raise ConfigError(f"{exc}. {context.fix_document(target)}") from exc
        book = document.book if document else PolicyBook()
    else:
        document, book = None, target.policies()
    if as_json:
        out.print_json(json.dumps(book.to_json()))
        return
    if isinstance(target, AwsTarget):
        say("document: ", _document_line(target, document))
    say(
        "ad-hoc approvers: ",
        "allowed" if book.allow_ad_hoc else "not allowed (name a policy)",
    )
    say("admins: ", ", ".join(book.admins) or "none")
    if not book.policies:
        say("No named policies.")
        return
    table = new_table("policy", "approvers", "groups", "needs", "self", "reminders", "description")
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
            cell(name),
            cell(", ".join(rule.approvers)),
            cell(", ".join(rule.approver_groups)),
            cell(str(rule.min_approvals)),
            cell("allowed" if rule.allow_self_approval else "no"),
            cell("; ".join(reminders)),
            cell(rule.description),
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


@policies_app.command("push", cls=Command)
@reports_errors
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
    region: Annotated[str | None, typer.Option(metavar="REGION", help=context.REGION_HELP)] = None,
    profile: Annotated[
        str | None, typer.Option(metavar="PROFILE", help=context.PROFILE_HELP)
    ] = None,
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
        err.print(styled(("refused: ", "red"), str(exc), one_line=True), soft_wrap=True)
        raise typer.Exit(2) from exc


def _push(
    file: str, stack: str | None, region: str | None, profile: str | None, as_json: bool
) -> None:
    context.aws_options(region, profile, stack)
    text, source = _read_document(file)
    target = context.aws_target(
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
        say(
            f"{source} is already in force (version {pushed.version} of SSM parameter "
            f"{pushed.parameter}): nothing written"
        )
        return
    book = pushed.book
    say(
        f"pushed {source} to SSM parameter {pushed.parameter}: version {pushed.version} "
        f"({pushed.tier or 'unknown'} tier)"
    )
    say(
        f"  {len(book.policies)} polic{'y' if len(book.policies) == 1 else 'ies'}"
        f"{' (' + ', '.join(book.names()) + ')' if book.policies else ''}; ad-hoc approvers "
        f"{'allowed' if book.allow_ad_hoc else 'not allowed'}; admins: "
        f"{', '.join(book.admins) or 'none'}"
    )
    say("  new requests use it within a minute; running approvals keep the rules they started with")


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
