"""The one DynamoDB table's key schema, as template.yaml declares it.

Tests and the local stack create the table from this; a test compares it with
template.yaml so the two cannot drift.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signoff.model import Approval

PENDING_INDEX = "pending"
# Every approval (by the month it was created) and every audit event (by its month).
HISTORY_INDEX = "history"
# Approvals by status and the month they were created.
STATUS_INDEX = "status_history"
# Sparse: each person's inbox items of pending requests (signoff.store.inbox).
INBOX_INDEX = "inbox"
TTL_ATTRIBUTE = "ttl"

TABLE_SCHEMA: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "pending_pk", "AttributeType": "S"},
        {"AttributeName": "pending_sk", "AttributeType": "S"},
        {"AttributeName": "hist_pk", "AttributeType": "S"},
        {"AttributeName": "hist_sk", "AttributeType": "S"},
        {"AttributeName": "status_pk", "AttributeType": "S"},
        {"AttributeName": "inbox_pk", "AttributeType": "S"},
        {"AttributeName": "inbox_sk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            # Sparse: only pending approvals carry pending_pk, so the list reads
            # exactly what it returns.
            "IndexName": PENDING_INDEX,
            "KeySchema": [
                {"AttributeName": "pending_pk", "KeyType": "HASH"},
                {"AttributeName": "pending_sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            # Month buckets: hist_pk is APPROVALS#YYYY-MM or EVENTS#YYYY-MM, hist_sk the
            # creation (event) time and id, so a time window is one Query per month.
            "IndexName": HISTORY_INDEX,
            "KeySchema": [
                {"AttributeName": "hist_pk", "KeyType": "HASH"},
                {"AttributeName": "hist_sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            # Sparse: only approval items carry status_pk (STATUS#YYYY-MM).
            "IndexName": STATUS_INDEX,
            "KeySchema": [
                {"AttributeName": "status_pk", "KeyType": "HASH"},
                {"AttributeName": "hist_sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            # Sparse: a person's inbox items while their request is pending; only the id
            # is needed, the request itself is read as it stands.
            "IndexName": INBOX_INDEX,
            "KeySchema": [
                {"AttributeName": "inbox_pk", "KeyType": "HASH"},
                {"AttributeName": "inbox_sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["approval_id"]},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_table(client: Any, table_name: str) -> None:
    """Create the table (and wait for it) with a boto3 DynamoDB client."""
    client.create_table(TableName=table_name, **TABLE_SCHEMA)
    client.get_waiter("table_exists").wait(TableName=table_name)


def pending_cursor(approval: Approval) -> str:
    """Where `approval` sits in the pending index (its sort key there): a page's cursor."""
    from signoff.model import iso

    return f"{iso(approval.expires_at)}#{approval.id}"


class InboxRole(StrEnum):
    """Why a pending request is in a person's inbox (their Home tab's two lists)."""

    WAITING = "waiting"  # they may still vote on it
    ASKED = "asked"  # they asked for it


def inbox_entries(approval: Approval | None) -> frozenset[tuple[str, InboxRole]]:
    """Whose inbox lists `approval`, and why: its requester (asked) and everyone who may
    still vote (waiting), while it is pending; nobody once it is closed."""
    from signoff.model import Status

    if approval is None or approval.status is not Status.PENDING:
        return frozenset()
    waiting = {(user, InboxRole.WAITING) for user in approval.waiting_for()}
    return frozenset({(approval.requester, InboxRole.ASKED), *waiting})


def add_missing_indexes(client: Any, table_name: str) -> list[str]:
    """Create the schema's indexes that an existing table lacks (one per UpdateTable, as
    DynamoDB allows); returns their names. Items written before carry no history keys."""
    described = client.describe_table(TableName=table_name)["Table"]
    present = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
    added = []
    for index in TABLE_SCHEMA["GlobalSecondaryIndexes"]:
        if index["IndexName"] in present:
            continue
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=TABLE_SCHEMA["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        added.append(index["IndexName"])
        _wait_for_indexes(client, table_name)
    return added


def _wait_for_indexes(client: Any, table_name: str, timeout: float = 120.0) -> None:
    """Until every index is ACTIVE: writes while one is still being built can fail."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = client.describe_table(TableName=table_name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        if table.get("TableStatus") == "ACTIVE" and all(
            i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
        ):
            return
        time.sleep(0.2)
