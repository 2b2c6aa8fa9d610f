"""The one DynamoDB table's key schema, as template.yaml declares it.

Tests and the local stack create the table from this; a test compares it with
template.yaml so the two cannot drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signoff.model import Approval

PENDING_INDEX = "pending"
TTL_ATTRIBUTE = "ttl"

TABLE_SCHEMA: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "pending_pk", "AttributeType": "S"},
        {"AttributeName": "pending_sk", "AttributeType": "S"},
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
        }
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
