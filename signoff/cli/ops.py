"""`signoff doctor` and `signoff redrive`: checking a deployment, replaying what failed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from signoff.cli import context
from signoff.cli.output import err, out, reports_errors, say, styled
from signoff.errors import ConfigError
from signoff.model import iso

if TYPE_CHECKING:
    from signoff.doctor import Deployment


_MARKS = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "skip": ("skip", "dim")}


@reports_errors
def doctor(
    stack: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Check this deployed stack (default: --stack before the command, or the local stack).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    region: Annotated[str | None, typer.Option(metavar="REGION", help=context.REGION_HELP)] = None,
    profile: Annotated[
        str | None, typer.Option(metavar="PROFILE", help=context.PROFILE_HELP)
    ] = None,
) -> None:
    """Check what a deployment needs and say how to fix what fails; exit 0 only when all pass.

    Stack outputs, the table and its index, the topic and its subscription, the dead-letter
    queue, the Slack secret, the bot token (auth.test), the bot in the default channel, the
    Slack request URL (a signed url_verification) and the workflow's durable alias. Checks
    that only make sense on AWS are skipped on the local stack, saying why.
    """
    from signoff import doctor as checkup

    context.aws_options(region, profile)
    deployment = _deployment(stack or context.given.get("stack"))
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
        say(("signoff doctor", "bold"), f": {deployment.label}")
        for check in checks:
            mark, style = _MARKS[check.outcome.value]
            say("  ", (mark, style), f"  {check.name}: {check.detail}")
            if check.fix:
                say("        fix: ", check.fix)
        failed = sum(c.outcome is checkup.Outcome.FAIL for c in checks)
        say("all checks passed" if healthy else f"{failed} check(s) failed")
    raise typer.Exit(0 if healthy else 1)


def _deployment(stack: str | None) -> Deployment:
    """What doctor checks: a deployed stack by name, or the local stack."""
    from botocore.exceptions import BotoCoreError, ClientError

    from signoff import doctor as checkup
    from signoff.errors import BackendError
    from signoff.targets import _http_json

    if stack:
        from signoff.aws_session import aws_session

        session = aws_session(context.given.get("region"), context.given.get("profile"))
        try:
            return checkup.aws_deployment(stack, session=session)
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"cannot read stack {stack} in {session.region_name}: {exc}") from exc
    base_url = str(context.given.get("local_url", "http://127.0.0.1:3000")).rstrip("/")
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


_REDRIVE_MARKS = {
    "replayed": ("replayed", "green"),
    "failed": ("FAILED", "red"),
    "skipped": ("skipped", "yellow"),
    "listed": ("would replay", "dim"),
}


@reports_errors
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
    region: Annotated[str | None, typer.Option(metavar="REGION", help=context.REGION_HELP)] = None,
    profile: Annotated[
        str | None, typer.Option(metavar="PROFILE", help=context.PROFILE_HELP)
    ] = None,
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

    context.aws_options(region, profile, stack)
    target = context.aws_target(
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
            styled(
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
        say(f"[{total}] ", (mark, style), f"  {letter.summary}{detail}")

    results = replay(queue, notifier, limit=limit, progress=show)
    left = [r for r in results if r.outcome.value in ("failed", "skipped")]
    if not as_json and results:
        if dry_run:
            say(
                f"{len(results) - len(left)} event(s) would be replayed, {len(left)} left "
                "(nothing was changed)"
            )
        else:
            say(f"{len(results) - len(left)} replayed, {len(left)} left in the queue")
    if left and not dry_run:
        raise typer.Exit(1)
