"""`signoff decide` and `signoff cancel`: the same rules as a click in Slack; `signoff
report`: what the pipeline did after the approval.
"""

from __future__ import annotations

from typing import Annotated

import typer

from signoff.cli import context
from signoff.cli.output import reports_errors, say
from signoff.errors import ValidationError
from signoff.model import Decision, checked_id, person_problem
from signoff.service import CliAction


@reports_errors
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
    target = context.target()
    approvals = target.approvals.for_cli(
        CliAction.DECIDE, approval_id, as_user, target.cli_decisions()
    )
    approval = approvals.decide(approval_id, as_user, decision, reason)
    if approval.status.is_closed:
        say(f"{approval.id} {approval.status.value} by {as_user}")
    else:
        rule = approval.policy.min_approvals
        say(
            f"{approval.id}: approval by {as_user} recorded "
            f"({len(approval.approved_by)} of {rule}); waiting for "
            f"{approval.approvals_missing} more"
        )


@reports_errors
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
    target = context.target()
    approvals = target.approvals.for_cli(
        CliAction.CANCEL, approval_id, as_user, target.cli_decisions()
    )
    approval = approvals.cancel(approval_id, as_user, reason)
    say(f"{approval.id} cancelled by {as_user}")


@reports_errors
def report_cmd(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    stage: Annotated[str, typer.Argument(metavar="STAGE", help="started, succeeded or failed")],
    url: Annotated[
        str, typer.Option(metavar="URL", help="A link to the pipeline's run (http or https).")
    ] = "",
    note: Annotated[
        str, typer.Option(metavar="TEXT", help="A line or two for the approvers, shown as typed.")
    ] = "",
    key: Annotated[
        str,
        typer.Option(
            metavar="KEY",
            help="Names this report: sent again with the same key it is shown once (for "
            "instance the CI run's id and the stage). Default: one per call.",
        ),
    ] = "",
    as_user: Annotated[
        str, typer.Option("--as", metavar="USER", help="Who reports, in the audit trail.")
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
        context.target()
        .reports()
        .report(approval_id, stage, actor=as_user, url=url, note=note, key=key)
    )
    said = "reported" if result.new else "was reported already with this --key"
    say(f"{approval_id}: {stage} {said}; it shows in the request's thread and on its message")


# Ids and --as are checked before the stack is reached: bad usage is exit 2 wherever it runs.
def _check_person(as_user: str) -> None:
    """`--as` names who acts, in the audit trail: a Slack user id or a plain name."""
    problem = person_problem("--as", as_user)
    if problem:
        raise ValidationError(problem)
