"""DynamoDB adapter for approvals and their audit trail (one table).

The approval item is the single commit point. Every change is one TransactWriteItems:
a Put of the new approval guarded by `version = :read_version AND status = pending`
(plus the deadline and "has not voted yet" for a vote) and a Put of its audit events.
Two writers computed from the same version cannot both win.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from signoff.binding import bindings_from_payload, bindings_payload
from signoff.errors import BackendError, ConflictError, NotFoundError, UnansweredError
from signoff.gates.port import GateRef, Link
from signoff.history import KEY_CEILING, Page, approval_key, key_id, month, months
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Decision,
    OnceClaim,
    Policy,
    PostClaim,
    SlackRef,
    Status,
    Vote,
    iso,
    parse_iso,
    utc,
)
from signoff.schema import HISTORY_INDEX, PENDING_INDEX, STATUS_INDEX, TTL_ATTRIBUTE, pending_cursor

META = "META"
PENDING_KEY = "PENDING"
ONCE_PREFIX = "ONCE#"
TRIES_PREFIX = "TRIES#"  # failed attempts at one side effect, counted (count_failure)
# Once-claims outlive the approval's own retention by the longest timeout, so no claim is
# forgotten while its approval can still produce events.
_ONCE_RETENTION_EXTRA = timedelta(days=8)
# Attributes `_to_item` writes only in some states; a commit removes them when absent.
_OPTIONAL_ATTRIBUTES = ("pending_pk", "pending_sk", TTL_ATTRIBUTE, "decided_at")
_ser = TypeSerializer()
_de = TypeDeserializer()


def _pk(approval_id: str) -> str:
    return f"APPROVAL#{approval_id}"


def _expiry(expires_at: datetime, retention: timedelta) -> int:
    """The TTL of an approval and of every one of its audit events: `retention` after its
    deadline, which is known from the first write, so an event written while the request is
    pending gets the same value the approval keeps when it closes."""
    return int((expires_at + retention).timestamp())


def _approvals_pk(bucket: str) -> str:
    return f"APPROVALS#{bucket}"


def _events_pk(bucket: str) -> str:
    return f"EVENTS#{bucket}"


def _status_pk(status: str, bucket: str) -> str:
    return f"{status}#{bucket}"


def _to_item(approval: Approval, retention: timedelta) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _pk(approval.id),
        "sk": META,
        "id": approval.id,
        "title": approval.title,
        "description": approval.description,
        "fields": [{"k": k, "v": v} for k, v in approval.fields],
        "requester": approval.requester,
        "approvers": list(approval.policy.approvers),
        "allow_self_approval": approval.policy.allow_self_approval,
        "min_approvals": approval.policy.min_approvals,
        "approver_groups": list(approval.policy.groups),
        "named_approvers": list(approval.policy.named),
        "policy_name": approval.policy.name,
        "channel": approval.channel,
        "status": approval.status.value,
        "created_at": iso(approval.created_at),
        "expires_at": iso(approval.expires_at),
        "expires_epoch": int(approval.expires_at.timestamp()),
        "votes": {
            v.user: {"decision": v.decision.value, "at": iso(v.at), "reason": v.reason}
            for v in approval.votes
        },
        "decided_by": approval.decided_by,
        "reason": approval.reason,
        "execution_id": approval.execution_id,
        "version": approval.version,
    }
    if approval.decided_at:
        item["decided_at"] = iso(approval.decided_at)
    # A named policy's reminders and escalation: only when it has them.
    if approval.policy.remind_every:
        item["remind_every_seconds"] = int(approval.policy.remind_every.total_seconds())
    if approval.policy.escalate_after:
        item["escalate_after_seconds"] = int(approval.policy.escalate_after.total_seconds())
        item["escalate_to"] = approval.policy.escalate_to
    if approval.policy.escalated:
        item["escalated"] = True
    if approval.bindings:
        item["bindings"] = bindings_payload(approval.bindings)
    if approval.reused_from:
        item["reused_from"] = approval.reused_from
    if approval.gate:  # a gate's hold, as filed (never changed by a later write)
        item["gate"] = approval.gate.to_json()
    if approval.links:
        item["links"] = [link.to_json() for link in approval.links]
    if approval.message:
        item["message_channel"] = approval.message.channel
        item["message_ts"] = approval.message.ts
    if approval.status is Status.PENDING:
        item["pending_pk"] = PENDING_KEY
        item["pending_sk"] = pending_cursor(approval)
    item[TTL_ATTRIBUTE] = _expiry(approval.expires_at, retention)
    # The history indexes: every approval by the month it was created, and by status.
    item["hist_pk"] = _approvals_pk(month(approval.created_at))
    item["hist_sk"] = approval_key(approval.created_at, approval.id)
    item["status_pk"] = _status_pk(approval.status.value, month(approval.created_at))
    return item


def _from_item(item: dict[str, Any]) -> Approval:
    votes = sorted(
        (
            Vote(user, Decision(v["decision"]), parse_iso(v["at"]), v.get("reason", ""))
            for user, v in item.get("votes", {}).items()
        ),
        key=lambda v: v.at,
    )
    message = (
        SlackRef(item["message_channel"], item["message_ts"]) if "message_ts" in item else None
    )
    return Approval(
        id=item["id"],
        title=item["title"],
        description=item.get("description", ""),
        fields=tuple((f["k"], f["v"]) for f in item.get("fields", [])),
        requester=item["requester"],
        policy=Policy(
            tuple(item["approvers"]),
            bool(item.get("allow_self_approval", False)),
            int(item.get("min_approvals", 1)),
            tuple(item.get("approver_groups", ())),
            tuple(item.get("named_approvers", ())),
            str(item.get("policy_name", "")),
            _seconds(item.get("remind_every_seconds")),
            _seconds(item.get("escalate_after_seconds")),
            str(item.get("escalate_to", "")),
            bool(item.get("escalated", False)),
        ),
        channel=item["channel"],
        status=Status(item["status"]),
        created_at=parse_iso(item["created_at"]),
        expires_at=parse_iso(item["expires_at"]),
        votes=tuple(votes),
        decided_by=item.get("decided_by", ""),
        decided_at=parse_iso(item["decided_at"]) if item.get("decided_at") else None,
        reason=item.get("reason", ""),
        message=message,
        execution_id=item.get("execution_id", ""),
        version=int(item["version"]),
        doorbell=item.get("doorbell", ""),
        bindings=bindings_from_payload(item.get("bindings")),
        reused_from=item.get("reused_from", ""),
        gate=GateRef.from_json(item["gate"]) if item.get("gate") else None,
        links=tuple(Link(str(name), str(url)) for name, url in item.get("links", [])),
    )


def _seconds(value: Any) -> timedelta | None:
    return timedelta(seconds=int(value)) if value else None


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _audit_item(approval_id: str, event: AuditEvent, seq: int, expiry: int) -> dict[str, Any]:
    # The event's own random ref keeps two events in the same millisecond apart, and makes
    # writing the same event twice land on the same item.
    order = f"{seq:02d}#{event.ref}"
    return {
        "pk": _pk(approval_id),
        "sk": f"AUDIT#{iso(event.at)}#{order}",
        "kind": event.kind.value,
        "at": iso(event.at),
        "actor": event.actor,
        "detail": dict(event.detail),
        TTL_ATTRIBUTE: expiry,
        "hist_pk": _events_pk(month(event.at)),
        "hist_sk": f"{iso(event.at)}#{approval_id}#{order}",
    }


def _event(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": item["kind"],
        "at": item["at"],
        "actor": item["actor"],
        "detail": dict(item.get("detail", {})),
    }


def _event_key(after: str) -> dict[str, Any]:
    """The table and index key of the audit event whose history sort key is `after`."""
    at, approval_id, order = after.split("#", 2)
    return {
        "pk": _pk(approval_id),
        "sk": f"AUDIT#{at}#{order}",
        "hist_pk": _events_pk(at[:7]),
        "hist_sk": after,
    }


class DynamoApprovalStore:
    """Approvals in one DynamoDB table, through a boto3 DynamoDB *client*."""

    def __init__(self, client: Any, table: str, retention: timedelta = timedelta(days=90)):
        self._client = client
        self._table = table
        self._retention = retention

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConflictError("the approval changed while it was being written") from exc
            raise _failure(f"DynamoDB {operation} failed: {exc}", exc) from exc
        except BotoCoreError as exc:
            raise _failure(f"DynamoDB {operation} failed: {exc}", exc) from exc

    def create(self, approval: Approval, event: AuditEvent) -> bool:
        """Put the new approval once. False when it already exists (a replayed step)."""
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _serialize(_to_item(approval, self._retention)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    self._audit_put(approval.id, [event], approval.expires_at)[0],
                ]
            )
        except ConflictError:
            return False
        return True

    def get(self, approval_id: str) -> Approval:
        response = self._call(
            "get_item", Key=_serialize({"pk": _pk(approval_id), "sk": META}), ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFoundError(f"no approval with id '{approval_id}'")
        return _from_item(_deserialize(response["Item"]))

    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]:
        """Pending approvals, soonest deadline first, read from the sparse index.

        `after` is a `pending_cursor` of the last approval of the previous page.
        """
        condition = "pending_pk = :p" + (" AND pending_sk > :after" if after else "")
        values = {":p": {"S": PENDING_KEY}, **({":after": {"S": after}} if after else {})}
        response = self._call(
            "query",
            IndexName=PENDING_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            Limit=limit,
        )
        return [_from_item(_deserialize(i)) for i in response.get("Items", [])]

    def audit(self, approval_id: str, since: datetime | None = None) -> list[dict[str, Any]]:
        """The approval's audit events in the order written (those at or after `since`)."""
        items: list[dict[str, Any]] = []
        low = f"AUDIT#{iso(since)}" if since else "AUDIT#"
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": _serialize(
                {":pk": _pk(approval_id), ":low": low, ":high": "AUDIT#~"}
            ),
        }
        while True:
            response = self._call("query", **kwargs)
            items += [_event(_deserialize(raw)) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_history(
        self,
        status: Status | None,
        since: datetime,
        until: datetime,
        limit: int,
        after: str | None = None,
    ) -> Page[Approval]:
        """Approvals created in [since, until], newest first; one status or (None) all.

        One Query per month, newest month first, each asking for what the page still lacks:
        no filter, so every item read is returned.
        """
        buckets = months(since, until)
        if after is not None:
            buckets = [b for b in buckets if b <= after[:7]]
        found: list[Approval] = []
        for bucket in reversed(buckets):
            if status is None:
                index, key_name, key = HISTORY_INDEX, "hist_pk", _approvals_pk(bucket)
            else:
                index, key_name, key = STATUS_INDEX, "status_pk", _status_pk(status.value, bucket)
            start = None
            if after is not None and bucket == after[:7]:
                start = {
                    "pk": _pk(key_id(after)),
                    "sk": META,
                    key_name: key,
                    "hist_sk": after,
                }
            items = self._query_index(
                index, key_name, key, since, until, limit - len(found), start, newest_first=True
            )
            found += [_from_item(i) for i in items]
            if len(found) == limit:
                break
        return Page(
            tuple(found),
            approval_key(found[-1].created_at, found[-1].id) if len(found) == limit else None,
        )

    def audit_history(
        self, since: datetime, until: datetime, limit: int, after: str | None = None
    ) -> Page[dict[str, Any]]:
        """Audit events of every approval in [since, until], oldest first, each with its
        approval's `id`: one Query per month, oldest month first."""
        buckets = months(since, until)
        if after is not None:
            buckets = [b for b in buckets if b >= after[:7]]
        found: list[dict[str, Any]] = []
        last = None
        for bucket in buckets:
            start = _event_key(after) if after is not None and bucket == after[:7] else None
            items = self._query_index(
                HISTORY_INDEX,
                "hist_pk",
                _events_pk(bucket),
                since,
                until,
                limit - len(found),
                start,
                newest_first=False,
            )
            for item in items:
                found.append({"id": item["pk"].removeprefix("APPROVAL#"), **_event(item)})
                last = item["hist_sk"]
            if len(found) == limit:
                break
        return Page(tuple(found), last if len(found) == limit else None)

    def _query_index(
        self,
        index: str,
        key_name: str,
        key: str,
        since: datetime,
        until: datetime,
        limit: int,
        start: dict[str, Any] | None,
        *,
        newest_first: bool,
    ) -> list[dict[str, Any]]:
        """Up to `limit` items of one index partition with hist_sk in [since, until]."""
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#k = :k AND hist_sk BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": _serialize(
                {":k": key, ":low": iso(since), ":high": iso(until) + KEY_CEILING}
            ),
            "ScanIndexForward": not newest_first,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = _serialize(start)
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            # Limit caps the items DynamoDB reads, and with no filter each one read is returned.
            response = self._call("query", Limit=limit - len(items), **kwargs)
            items += [_deserialize(raw) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items

    def commit(
        self,
        before: Approval,
        after: Approval,
        events: Iterable[AuditEvent],
        *,
        now: datetime,
        voter: str | None = None,
    ) -> None:
        """Write `after` iff the stored approval is still `before` and still pending.

        For a vote, the condition also holds the deadline, "is an approver" and "has not
        voted", so the rules stand inside the write itself, not only in the read before it.
        An approval short of the quorum is committed the same way: the version guard makes
        each count of votes the one it was computed from.
        Raises ConflictError when another writer got there first.
        """
        # The doorbell as read, too: if the workflow armed a new one since, the writer
        # re-reads and rings the one the workflow is waiting on.
        condition = "version = :v AND #s = :pending AND " + (
            "doorbell = :bell" if before.doorbell else "attribute_not_exists(doorbell)"
        )
        values: dict[str, Any] = {":v": before.version, ":pending": Status.PENDING.value}
        if before.doorbell:
            values[":bell"] = before.doorbell
        names = {"#s": "status"}
        if voter is not None:
            # The deadline as `model.past_deadline` compares it: `iso` text keeps whole
            # milliseconds (truncated) at a fixed width, so it orders as `millis` does. Every
            # item ever written has `expires_at`, so no item needs rewriting for this.
            condition += (
                " AND expires_at > :now AND attribute_not_exists(votes.#voter)"
                " AND contains(approvers, :voter)"
            )
            values[":now"] = iso(now)
            values[":voter"] = voter
            names["#voter"] = voter
        # An update, not a Put of the whole item: attributes the domain does not own (the
        # notifier's post claim) survive the commit.
        item = _to_item(after, self._retention)
        sets = []
        for n, (name, value) in enumerate(sorted(item.items())):
            if name in ("pk", "sk", "status"):
                continue
            names[f"#a{n}"] = name
            values[f":a{n}"] = value
            sets.append(f"#a{n} = :a{n}")
        values[":status"] = item["status"]
        sets.append("#s = :status")
        removes = [name for name in _OPTIONAL_ATTRIBUTES if name not in item]
        for n, name in enumerate(removes):
            names[f"#r{n}"] = name
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#r{n}" for n in range(len(removes)))
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _serialize({"pk": item["pk"], "sk": META}),
                        "UpdateExpression": expression,
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": _serialize(values),
                    }
                },
                *self._audit_put(after.id, list(events), after.expires_at),
            ]
        )

    def arm_doorbell(self, approval_id: str, callback_id: str) -> Approval:
        """Keep the workflow's callback id on the record; returns the approval as it stands."""
        try:
            response = self._call(
                "update_item",
                Key=_serialize({"pk": _pk(approval_id), "sk": META}),
                UpdateExpression="SET doorbell = :bell",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_serialize({":bell": callback_id}),
                ReturnValues="ALL_NEW",
            )
        except ConflictError:
            raise NotFoundError(f"no approval with id '{approval_id}'") from None
        return _from_item(_deserialize(response["Attributes"]))

    def record(
        self, approval_id: str, event: AuditEvent, expires_at: datetime | None = None
    ) -> None:
        """Append one audit event that changes nothing else (a refused vote, a notice).

        The same event (its `ref`) written again is kept once. `expires_at` is the
        approval's deadline (its TTL follows from it); a caller that has not read the
        approval leaves it out and the store reads it (no approval: no expiry).
        """
        if expires_at is None:
            expires_at = self._deadline(approval_id)
        item = _audit_item(approval_id, event, 0, 0)
        if expires_at is None:
            del item[TTL_ATTRIBUTE]
        else:
            item[TTL_ATTRIBUTE] = _expiry(expires_at, self._retention)
        # Conditional, so that writing the event again after a lost answer (botocore's
        # retry, or the caller's) keeps one item and says so.
        with contextlib.suppress(ConflictError):  # it was written by an earlier attempt
            self._call(
                "put_item", Item=_serialize(item), ConditionExpression="attribute_not_exists(pk)"
            )

    def claim_message(self, approval_id: str, now: datetime, lease: timedelta) -> PostClaim:
        """Claim the right to post the Slack message.

        A claim older than `lease` can be taken over, so a notifier that died between
        claim and post does not leave the request without a message forever.
        """
        now_epoch = int(utc(now).timestamp())
        try:
            response = self._call(
                "update_item",
                Key=_serialize({"pk": _pk(approval_id), "sk": META}),
                UpdateExpression="SET post_claim = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(message_ts) AND "
                    "(attribute_not_exists(post_claim) OR post_claim < :stale)"
                ),
                ExpressionAttributeValues=_serialize(
                    {":now": now_epoch, ":stale": now_epoch - int(lease.total_seconds())}
                ),
                ReturnValues="UPDATED_OLD",
            )
        except ConflictError:
            return PostClaim.DENIED
        return (
            PostClaim.TAKEOVER
            if "post_claim" in response.get("Attributes", {})
            else PostClaim.FIRST
        )

    def release_claim(self, approval_id: str) -> None:
        with contextlib.suppress(ConflictError):  # no such approval: nothing to release
            self._call(
                "update_item",
                Key=_serialize({"pk": _pk(approval_id), "sk": META}),
                UpdateExpression="REMOVE post_claim",
                ConditionExpression="attribute_exists(pk)",
            )

    def set_message(
        self, approval_id: str, ref: SlackRef, now: datetime, expires_at: datetime | None = None
    ) -> Approval:
        """Keep the posted message's channel+ts and audit `notified`, in one transaction (a
        kill cannot keep one without the other); returns the approval as it now stands.

        TransactWriteItems returns no item, so the approval is read after it.
        """
        if expires_at is None:
            expires_at = self._deadline(approval_id)
        notified = AuditEvent(
            AuditKind.NOTIFIED, now, "signoff", {"channel": ref.channel, "ts": ref.ts}
        )
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _serialize({"pk": _pk(approval_id), "sk": META}),
                        "UpdateExpression": (
                            "SET message_channel = :c, message_ts = :ts, "
                            "version = version + :one REMOVE post_claim"
                        ),
                        "ConditionExpression": (
                            "attribute_exists(pk) AND attribute_not_exists(message_ts)"
                        ),
                        "ExpressionAttributeValues": _serialize(
                            {":c": ref.channel, ":ts": ref.ts, ":one": 1}
                        ),
                    }
                },
                *self._audit_put(approval_id, [notified], expires_at),
            ]
        )
        return self.get(approval_id)

    def _deadline(self, approval_id: str) -> datetime | None:
        """The approval's deadline (what its items' TTL follows from), or None."""
        response = self._call(
            "get_item",
            Key=_serialize({"pk": _pk(approval_id), "sk": META}),
            ProjectionExpression="expires_at",
        )
        if "Item" not in response:
            return None
        return parse_iso(_deserialize(response["Item"])["expires_at"])

    # -- once-only side effects (a thread reply, a DM): one item per key ------------------

    def claim_once(self, approval_id: str, key: str, now: datetime, lease: timedelta) -> OnceClaim:
        """Claim the right to do the one thing `key` names for this approval.

        One item under the approval's partition, written with a condition: the first
        caller gets FIRST; while the claim is live or done, others get DENIED; a claim
        older than `lease` that was never finished (its holder died) can be taken over
        (TAKEOVER: the thing may or may not have happened). A released claim is FIRST again.
        """
        now_epoch = int(utc(now).timestamp())
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._once_key(approval_id, ONCE_PREFIX + key),
                UpdateExpression="SET claimed = :now, #ttl = :ttl",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND "
                    "(attribute_not_exists(claimed) OR claimed < :stale))"
                ),
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues=_serialize(
                    {
                        ":now": now_epoch,
                        ":stale": now_epoch - int(lease.total_seconds()),
                        ":ttl": self._once_ttl(now),
                    }
                ),
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise _failure(f"DynamoDB update_item failed: {exc}", exc) from exc
            held = exc.response.get("Item") or {}
            return OnceClaim.DONE if "done_at" in held else OnceClaim.BUSY
        except BotoCoreError as exc:
            raise _failure(f"DynamoDB update_item failed: {exc}", exc) from exc
        return (
            OnceClaim.TAKEOVER if "claimed" in response.get("Attributes", {}) else OnceClaim.FIRST
        )

    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None:
        """Mark the claimed thing done: nobody claims `key` again, lease or not.

        With `event`, the mark and the audit event are one transaction, written once: a
        kill cannot leave one without the other, and finishing again writes no second event.
        """
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._once_key(approval_id, ONCE_PREFIX + key),
            "UpdateExpression": "SET done_at = :now, #ttl = if_not_exists(#ttl, :ttl)",
            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": _serialize(
                {":now": iso(now), ":ttl": self._once_ttl(now)}
            ),
        }
        if event is None:
            self._call("update_item", **{k: v for k, v in update.items() if k != "TableName"})
            return
        update["ConditionExpression"] = "attribute_not_exists(done_at)"
        expires_at = self._deadline(approval_id)
        with contextlib.suppress(ConflictError):  # finished before, with its event
            self._transact([{"Update": update}, *self._audit_put(approval_id, [event], expires_at)])

    def release_once(self, approval_id: str, key: str) -> None:
        """Give an unfinished claim back (the thing failed): the next caller gets FIRST.

        An update, not a delete: the notifier's role needs no DeleteItem."""
        with contextlib.suppress(ConflictError):
            self._call(
                "update_item",
                Key=self._once_key(approval_id, ONCE_PREFIX + key),
                UpdateExpression="REMOVE claimed",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(done_at)",
            )

    def finished_once(self, approval_id: str) -> frozenset[str]:
        """The keys of every once-only thing done (or given up for good) for the approval."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :once)",
            "ExpressionAttributeValues": _serialize(
                {":pk": _pk(approval_id), ":once": ONCE_PREFIX}
            ),
            "ProjectionExpression": "sk, done_at",
            "ConsistentRead": True,
        }
        done: set[str] = set()
        while True:
            response = self._call("query", **kwargs)
            for raw in response.get("Items", []):
                item = _deserialize(raw)
                if "done_at" in item:
                    done.add(str(item["sk"]).removeprefix(ONCE_PREFIX))
            if "LastEvaluatedKey" not in response:
                return frozenset(done)
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count_failure(self, approval_id: str, key: str, now: datetime) -> int:
        """Count one more failed attempt at `key`; returns how many there have been."""
        response = self._call(
            "update_item",
            Key=self._once_key(approval_id, TRIES_PREFIX + key),
            UpdateExpression="ADD tries :one SET #ttl = if_not_exists(#ttl, :ttl)",
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues=_serialize({":one": 1, ":ttl": self._once_ttl(now)}),
            ReturnValues="UPDATED_NEW",
        )
        return int(_deserialize(response["Attributes"])["tries"])

    def _once_key(self, approval_id: str, sk: str) -> dict[str, Any]:
        return _serialize({"pk": _pk(approval_id), "sk": sk})

    def _once_ttl(self, now: datetime) -> int:
        return int((utc(now) + self._retention + _ONCE_RETENTION_EXTRA).timestamp())

    def _audit_put(
        self, approval_id: str, events: list[AuditEvent], expires_at: datetime | None
    ) -> list[dict[str, Any]]:
        puts = []
        for seq, event in enumerate(events):
            item = _audit_item(approval_id, event, seq, 0)
            if expires_at is None:  # no approval to follow: kept until deleted
                del item[TTL_ATTRIBUTE]
            else:
                item[TTL_ATTRIBUTE] = _expiry(expires_at, self._retention)
            puts.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _serialize(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        return puts

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            error = exc.response["Error"]
            if error["Code"] == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    raise ConflictError("the approval changed while it was being written") from exc
            raise _failure(f"DynamoDB transaction failed: {exc}", exc) from exc
        except BotoCoreError as exc:
            raise _failure(f"DynamoDB transaction failed: {exc}", exc) from exc


def _failure(message: str, exc: Exception) -> BackendError:
    """A failed call: UnansweredError when it was sent and may have been carried out (the
    answer timed out or was cut off, or DynamoDB answered 5xx), else BackendError (refused,
    throttled, or never sent)."""
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError | ResponseStreamingError):
        return UnansweredError(message)
    if (
        isinstance(exc, ClientError)
        and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    ):
        return UnansweredError(message)
    return BackendError(message)
