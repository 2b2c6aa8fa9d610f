"""What AWS allows one Lambda durable execution, and what an approval spends of it.

The durable emulator enforces none of these limits (of the sizes it checks only an error
object's), so signoff keeps to them by design: a policy whose reminders would take more
operations than AWS allows over the longest request is refused when the document is
read (`reminder_problem`), and tests/integration/test_durable_limits.py runs the longest
and largest approval that validation accepts and counts what it checkpoints. Where AWS's
sources disagree the lower figure is kept; docs/architecture.md ("Durable limits") cites
each.
"""

from __future__ import annotations

import math
from datetime import timedelta

from signoff.config import Settings
from signoff.model import MAX_TIMEOUT, format_duration

KIB = 1024

# Durable operations per execution: Lambda's DurableExecutionOperations metric says
# "max: 3,000"; the Rust SDK's limits page says 25,000 history operations.
MAX_OPERATIONS = 3_000
# One operation's checkpointed payload (a step's result): 256 KB in the Python SDK
# (CHECKPOINT_SIZE_LIMIT_BYTES) and the Rust SDK's limits; 1 MB in the Lambda API.
MAX_CHECKPOINT_BYTES = 256 * KIB
# The execution's input, started asynchronously: 256 KB (GetDurableExecution's
# InputPayload, the Rust SDK); 1 MB (Invoke, the API model).
MAX_INPUT_BYTES = 256 * KIB
# A callback's result (SendDurableExecutionCallbackSuccess): 256 KB in the API reference,
# 1 MB in botocore's model of it.
MAX_CALLBACK_RESULT_BYTES = 256 * KIB
# A failed operation's error object: under 32 KB in the SDK's emulator, 1 MB in the API.
MAX_ERROR_BYTES = 32 * KIB
# All an execution checkpoints, summed (the DurableExecutionStorageWrittenBytes metric).
MAX_STORAGE_BYTES = 100 * KIB * KIB
# An execution, a wait, a callback's timeout: at most a year (the Rust SDK; the API takes
# 31,622,400 s, 366 days), a wait at least a second.
MAX_DURATION = timedelta(days=365)
MIN_WAIT = timedelta(seconds=1)

# What an approval may plan to spend: 90 % of MAX_OPERATIONS. The rest is for what no
# schedule foresees: an escalation tried again after store errors, a vote that lands
# between a look and the arming of the doorbell.
OPERATIONS_BUDGET = MAX_OPERATIONS * 9 // 10

# Every approval: the execution itself, resolve-request, create-record, publish-requested
# and publish-outcome.
_FIXED = 5
_PER_REMINDER = 2  # remind-N, publish-reminded-N
_PER_ESCALATION = 2  # escalate, publish-escalated
# A vote short of the quorum rings the doorbell: one more round (look, callback, arm) and
# publish-progress.
_PER_VOTE = 4


def operations(
    timeout: timedelta,
    remind_every: timedelta | None = None,
    escalate_after: timedelta | None = None,
    *,
    votes: int = 0,
    doorbell: bool = True,
    poll_initial: int = Settings.poll_initial_seconds,
    poll_max: int = Settings.poll_max_seconds,
    poll_backoff: float = Settings.poll_backoff,
) -> int:
    """The durable operations one approval takes at most when nobody decides it.

    It walks the workflow's wait (signoff/workflow.py) on simulated time: each round looks
    at the record, sends the reminder or the escalation that is due, and sleeps — a wait,
    or with the doorbell a callback and the step that arms it — until the next reminder,
    the escalation, the deadline or the safety poll (AWS's schedule unless told), whichever
    is first; the look at the deadline expires it. `votes` accepted votes short of the
    quorum each cost one more round.
    """
    deadline = timeout.total_seconds()
    every = remind_every.total_seconds() if remind_every else 0.0
    escalation = escalate_after.total_seconds() if escalate_after else 0.0
    spent = _FIXED + _PER_VOTE * max(0, votes)
    now, rounds, reminded, escalated = 0.0, 0, 0, False
    while True:
        spent += 1  # look-N
        if now >= deadline:
            return spent
        if every:
            due = math.floor(min(now, math.nextafter(deadline, -math.inf)) / every)
            if due > reminded:
                spent += _PER_REMINDER
                reminded = due
        if escalation and not escalated and escalation <= now:
            spent += _PER_ESCALATION
            escalated = True
        upcoming = [deadline]
        if every:
            upcoming.append((reminded + 1) * every)
        if escalation and not escalated:
            upcoming.append(escalation)
        grown = poll_initial * poll_backoff ** min(rounds, 64)
        sleep = min(grown, float(poll_max), math.ceil(max(min(upcoming) - now, 0.0)))
        spent += 2 if doorbell else 1  # the callback and arm-N, or the wait
        now += max(1, math.ceil(sleep))
        rounds += 1


def shortest_reminder(
    escalate_after: timedelta | None = None, min_approvals: int = 1
) -> timedelta | None:
    """The shortest whole-minute `remind_every` whose longest request stays in the budget
    (None: even one reminder a request would not)."""

    def fits(minutes: int) -> bool:
        return _spent(timedelta(minutes=minutes), escalate_after, min_approvals) <= (
            OPERATIONS_BUDGET
        )

    low, high = 1, math.ceil(MAX_TIMEOUT.total_seconds() / 60)
    if not fits(high):
        return None
    while low < high:  # the cost falls as the interval grows
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    return timedelta(minutes=low)


def reminder_problem(
    remind_every: timedelta | None, escalate_after: timedelta | None, min_approvals: int
) -> str | None:
    """Why a policy's reminders would take more durable operations than AWS allows over
    the longest request (MAX_TIMEOUT), or None. Checked against the doorbell's rounds and
    every vote the quorum leaves room for, on AWS's poll schedule."""
    if not remind_every:
        return None
    spent = _spent(remind_every, escalate_after, min_approvals)
    if spent <= OPERATIONS_BUDGET:
        return None
    shortest = shortest_reminder(escalate_after, min_approvals)
    fix = f"use at least {format_duration(shortest)}" if shortest else "drop remind_every"
    return (
        f"remind_every {format_duration(remind_every)} would take {spent:,} durable "
        f"operations over a {format_duration(MAX_TIMEOUT)} request; AWS allows "
        f"{MAX_OPERATIONS:,} per execution and signoff plans for at most "
        f"{OPERATIONS_BUDGET:,}: {fix}"
    )


def _spent(remind_every: timedelta, escalate_after: timedelta | None, min_approvals: int) -> int:
    return operations(MAX_TIMEOUT, remind_every, escalate_after, votes=max(0, min_approvals - 1))
