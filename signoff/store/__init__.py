"""DynamoDB adapter for approvals, their audit trails and the notifier's claims (one table).

The store is three parts by concern, each the adapter of one port (`signoff.service`,
`signoff.claims`): `DynamoRecords` (approvals: create, read, commit a change),
`DynamoHistory` (audit trails and listings over time) and `DynamoClaims` (who may do a
side effect that must happen once). They share the table and its item format
(`signoff.codec`); `DynamoApprovalStore` is all three on one client.
"""

from __future__ import annotations

from signoff.store.claims import DynamoClaims
from signoff.store.history import DynamoHistory
from signoff.store.records import DynamoRecords


class DynamoApprovalStore(DynamoRecords, DynamoHistory, DynamoClaims):
    """Every port of the one table, through one boto3 DynamoDB *client*."""


__all__ = ["DynamoApprovalStore"]
