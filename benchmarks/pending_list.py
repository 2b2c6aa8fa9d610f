"""The pending list at scale: the sparse index against a Scan, on DynamoDB Local.

Loads N approvals (default 100,000) of which P (default 1,000) are pending, then reads
the first page (100) of the pending list both ways, several times, and prints items read
(ScannedCount, what DynamoDB bills and walks) and latency for each:

- index: `DynamoApprovalStore.list_pending` — a Query on the sparse `pending` index,
  which holds only pending approvals;
- scan: a Scan of the table filtered on status = pending, page after page until 100 are
  found (what `list` would cost without the index).

Run: .venv/bin/python -m benchmarks.pending_list [--records 100000] [--pending 1000]
Loading 100,000 items takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from signoff.codec import approval_to_item
from signoff.local.dynamodb import DynamoDBLocal, local_client
from signoff.model import Approval, Decision, Status
from signoff.schema import create_table
from signoff.store import DynamoApprovalStore
from signoff.store.table import serialize
from tests.factories import start_request

PAGE = 100
TABLE = "bench-pending"


def items(records: int, pending: int) -> list[dict[str, Any]]:
    """Approval items as the store writes them: every (records/pending)-th one pending."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    every = max(1, records // pending)
    out = []
    for n in range(records):
        opened, _ = Approval.open(
            start_request(f"apr-{n:07d}", timeout=timedelta(hours=1 + n % 48)),
            t0 + timedelta(seconds=n),
        )
        if n % every != 0:
            opened = opened.vote("U0A", Decision.APPROVE, opened.created_at)[0]
        out.append(serialize(approval_to_item(opened, timedelta(days=90))))
    return out


def load(client: Any, batch: list[dict[str, Any]]) -> None:
    for start in range(0, len(batch), 25):
        request = {TABLE: [{"PutRequest": {"Item": i}} for i in batch[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def scan_first_page(client: Any) -> tuple[int, int]:
    """(items returned, items scanned) for the first PAGE pending approvals by Scan."""
    found, scanned = 0, 0
    kwargs: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "#s = :p AND sk = :meta",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":p": {"S": Status.PENDING.value}, ":meta": {"S": "META"}},
    }
    while found < PAGE:
        response = client.scan(**kwargs)
        found += response["Count"]
        scanned += response["ScannedCount"]
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return min(found, PAGE), scanned


def index_first_page(client: Any) -> tuple[int, int]:
    response = client.query(
        TableName=TABLE,
        IndexName="pending",
        KeyConditionExpression="pending_pk = :p",
        ExpressionAttributeValues={":p": {"S": "PENDING"}},
        Limit=PAGE,
    )
    return response["Count"], response["ScannedCount"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    ddb = DynamoDBLocal()
    ddb.start()
    try:
        client = local_client(ddb.endpoint)
        create_table(client, TABLE)
        started = time.perf_counter()
        batch = items(args.records, args.pending)
        chunks = [batch[i : i + 2500] for i in range(0, len(batch), 2500)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda c: load(local_client(ddb.endpoint), c), chunks))
        print(
            f"# loaded {args.records} approvals ({args.pending} pending) in {time.perf_counter() - started:.0f} s"
        )
        store = DynamoApprovalStore(client, TABLE)
        assert len(store.list_pending(limit=PAGE)) == min(PAGE, args.pending)
        rows = []
        for name, read in (
            ("index (Query on `pending`)", index_first_page),
            ("Scan + filter", scan_first_page),
        ):
            times, counts = [], (0, 0)
            for _ in range(args.runs):
                t = time.perf_counter()
                counts = read(client)
                times.append((time.perf_counter() - t) * 1000)
            rows.append((name, counts[0], counts[1], statistics.median(times)))
        print(
            f"| first page of the pending list ({PAGE}) | returned | items read | median ms ({args.runs} runs) |"
        )
        print("|---|---|---|---|")
        for name, returned, scanned, ms in rows:
            print(f"| {name} | {returned} | {scanned} | {ms:.1f} |")
        print(
            f"\nScan / index latency: {rows[1][3] / rows[0][3]:.0f}x; items read: {rows[1][2] / max(1, rows[0][2]):.0f}x"
        )
    finally:
        ddb.stop()


if __name__ == "__main__":
    main()
