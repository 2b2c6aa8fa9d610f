"""What waiting costs: workflow invocations and durable operations per approval.

The real wait loop (`signoff.workflow.await_outcome`) runs against the in-memory store
under a stand-in for the durable runtime with virtual time: every sleep (a durable wait,
or a callback's result) ends an invocation, and the clock jumps to whatever comes next —
the timer, or the approver's click at time T, which rings the callback.
Printed for three designs side by side:

- doorbell: callback rung by the click, safety poll 60 s, doubling up to 4 h (the default);
- poll (today): no doorbell, poll 2 s growing by 1.5 up to 60 s (the schedule before the doorbell);
- poll 5 s: no doorbell, a fixed 5 s poll.

Run: .venv/bin/python -m benchmarks.wait_cost
Prices (us-east-1, published): requests $0.20 per million, durable operations $8.00 per
million, compute $0.0000166667 per GB-second, at 512 MB and 150 ms per invocation.
The three operations before the wait and one after (create, publish, publish) and the
first invocation are counted too.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from aws_durable_execution_sdk_python.exceptions import CallbackTimeoutError

from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision, StartRequest
from signoff.service import Approvals
from signoff.workflow import DurableContext, PollSchedule, WorkflowDeps, await_outcome

T0 = datetime(2026, 11, 27, tzinfo=UTC)
PRICE_REQUEST = 0.20 / 1e6
PRICE_OPERATION = 8.00 / 1e6
PRICE_GB_SECOND = 0.0000166667
INVOCATION_GB_SECONDS = 0.5 * 0.150
OPERATIONS_OUTSIDE_THE_WAIT = 3  # create-record, publish-requested, publish-outcome


@dataclass
class Runtime:
    """The durable runtime as the wait loop sees it, with a virtual clock.

    Every sleep (a wait, or a callback's result) ends the invocation; the next one starts
    when the timer fires or the approver's click rings the callback. Replay would re-run
    the completed operations from their records; it changes neither count, so the loop
    simply runs on.
    """

    click_at: datetime
    click: Any
    now: datetime = T0
    operations: int = 0
    invocations: int = 1
    rung: set[str] = field(default_factory=set)

    def _sleep_until(self, fires_at: datetime) -> None:
        """Advance to the click (if it comes first) or the timer; one more invocation."""
        self.invocations += 1
        if self.click is not None and self.click_at <= fires_at:
            self.now = self.click_at
            click, self.click = self.click, None
            click()
        else:
            self.now = fires_at

    def step(self, fn: Any, name: str) -> Any:
        self.operations += 1
        return fn(None)

    def wait(self, duration: Any, name: str) -> None:
        self.operations += 1
        fires_at = self.now + timedelta(seconds=duration.seconds)
        self._sleep_until(fires_at)
        self.now = max(self.now, fires_at)  # a click does not end a plain wait

    def create_callback(self, name: str, config: Any) -> Any:
        self.operations += 1
        runtime = self
        timeout = timedelta(seconds=config.timeout.seconds)
        created = self.now

        class Bell:
            callback_id = name

            def result(self) -> None:
                runtime._sleep_until(created + timeout)
                if name not in runtime.rung:
                    runtime.now = created + timeout
                    raise CallbackTimeoutError("timed out")

        return Bell()

    def ring(self, callback_id: str) -> bool:  # the doorbell port
        self.rung.add(callback_id)
        return True


def run(design: str, decided_after: timedelta) -> tuple[int, int]:
    """(invocations, durable operations) for one approval decided after `decided_after`."""
    store = InMemoryApprovalStore()
    runtime = Runtime(click_at=T0 + decided_after, click=None)
    clock = lambda: runtime.now  # noqa: E731
    workflow = Approvals(store, clock)
    approver = Approvals(store, clock, doorbell=runtime if design == "doorbell" else None)
    request = StartRequest(
        id="apr-bench",
        title="t",
        requester="U0R",
        approvers=("U0A",),
        channel="c",
        timeout=timedelta(days=7),
    )
    approval = workflow.open(request)
    runtime.click = lambda: approver.decide(approval.id, "U0A", Decision.APPROVE)
    schedule = {
        "doorbell": PollSchedule(60, 4 * 3600, 2.0),
        "poll (today)": PollSchedule(2, 60, 1.5),
        "poll 5 s": PollSchedule(5, 5, 1.0),
    }[design]
    deps = WorkflowDeps(workflow, publisher=None, schedule=schedule, doorbell=design == "doorbell")  # type: ignore[arg-type]
    # The wait touches only step, wait and create_callback: the rest of the context is unused.
    status = await_outcome(
        cast("DurableContext", runtime), deps, approval.id, approval.expires_at.timestamp()
    )
    assert status == "approved", status
    return runtime.invocations, runtime.operations + OPERATIONS_OUTSIDE_THE_WAIT


def cost(invocations: int, operations: int) -> float:
    return (
        invocations * (PRICE_REQUEST + INVOCATION_GB_SECONDS * PRICE_GB_SECOND)
        + operations * PRICE_OPERATION
    )


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    waits = {
        "1 min": timedelta(minutes=1),
        "1 h": timedelta(hours=1),
        "24 h": timedelta(hours=24),
        "7 days": timedelta(days=7) - timedelta(seconds=2),
    }
    designs = ["doorbell", "poll (today)", "poll 5 s"]
    print(
        "| decided after | "
        + " | ".join(f"{d}: invocations / operations / $ per 1,000 approvals" for d in designs)
        + " |"
    )
    print("|---|" + "---|" * len(designs))
    for label, after in waits.items():
        cells = []
        for design in designs:
            invocations, operations = run(design, after)
            cells.append(
                f"{invocations} / {operations} / ${cost(invocations, operations) * 1000:.2f}"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
