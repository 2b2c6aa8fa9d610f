"""The history listing at scale: the history indexes against a Scan, on DynamoDB Local.

Loads N approvals (default 20,000) created over 90 days, in every status, then reads the
first page (100) of `list --status all --since 7d` and of `list --status rejected --since 30d`
through the store, and the same pages by a filtered Scan, several times; prints items read
(ScannedCount summed over the calls) and median latency.

Run: .venv/bin/python -m benchmarks.history_list [--records 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.pending_list import load
from signoff.codec import approval_to_item
from signoff.local.dynamodb import DynamoDBLocal, local_client
from signoff.model import Approval, Decision, Status, iso
from signoff.schema import create_table
from signoff.store import DynamoApprovalStore
from signoff.store.table import serialize
from tests.factories import start_request

PAGE = 100
TABLE = "bench-pending"  # benchmarks.pending_list.load writes here
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SPREAD = timedelta(days=90)


def items(records: int) -> list[dict[str, Any]]:
    out = []
    for n in range(records):
        created = NOW - SPREAD * n / records
        opened, _ = Approval.open(start_request(f"apr-{n:07d}"), created)
        step = created + timedelta(minutes=1)
        closed = (
            opened.vote("U0A", Decision.APPROVE, step)[0],
            opened.vote("U0A", Decision.REJECT, step, "no")[0],
            opened.cancel("U0REQ", step)[0],
            opened.expire(opened.expires_at)[0],
        )[n % 4]
        out.append(serialize(approval_to_item(closed, timedelta(days=90))))
    return out


class Counted:
    def __init__(self, client: Any) -> None:
        self.scanned = 0
        client.meta.events.register("after-call.dynamodb", self)

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        self.scanned += int(parsed.get("ScannedCount", 0))


def scan_page(client: Any, status: Status | None, since: datetime) -> int:
    """Items returned by a Scan filtered to the window (and status), until a page is found."""
    found = 0
    names = {"#s": "status"}
    condition = "sk = :meta AND created_at >= :since"
    values: dict[str, Any] = {":meta": {"S": "META"}, ":since": {"S": iso(since)}}
    if status is not None:
        condition += " AND #s = :st"
        values[":st"] = {"S": status.value}
    kwargs: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if status is not None:
        kwargs["ExpressionAttributeNames"] = names
    while found < PAGE:
        response = client.scan(**kwargs)
        found += response["Count"]
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return min(found, PAGE)


def measure(runs: int, read: Callable[[], int], counter: Counted) -> tuple[int, int, float]:
    times, returned, scanned = [], 0, 0
    for _ in range(runs):
        before = counter.scanned
        started = time.perf_counter()
        returned = read()
        times.append((time.perf_counter() - started) * 1000)
        scanned = counter.scanned - before
    return returned, scanned, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    ddb = DynamoDBLocal()
    ddb.start(timeout=240)
    try:
        client = local_client(ddb.endpoint)
        create_table(client, TABLE)
        started = time.perf_counter()
        batch = items(args.records)
        chunks = [batch[i : i + 2500] for i in range(0, len(batch), 2500)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda c: load(local_client(ddb.endpoint), c), chunks))
        print(f"# loaded {args.records} approvals in {time.perf_counter() - started:.0f} s")
        store = DynamoApprovalStore(client, TABLE)
        counter = Counted(client)
        rows = []
        for label, status, since in (
            ("--status all --since 7d", None, NOW - timedelta(days=7)),
            ("--status rejected --since 30d", Status.REJECTED, NOW - timedelta(days=30)),
        ):
            for how, read in (
                ("index", lambda s=status, t=since: len(store.list_history(s, t, NOW, PAGE).items)),
                ("Scan + filter", lambda s=status, t=since: scan_page(client, s, t)),
            ):
                rows.append((label, how, *measure(args.runs, read, counter)))
        print(
            f"| first page ({PAGE}) | read by | returned | items read | median ms ({args.runs} runs) |"
        )
        print("|---|---|---|---|---|")
        for label, how, returned, scanned, ms in rows:
            print(f"| `{label}` | {how} | {returned} | {scanned} | {ms:.1f} |")
    finally:
        ddb.stop()


if __name__ == "__main__":
    main()
