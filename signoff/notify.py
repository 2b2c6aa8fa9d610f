"""The notifier use case: SNS messages → Slack messages.

SNS delivers at least once. A "requested" message posts the interactive message once
(a claim on the record guards it); "decided" re-renders the message from the record,
which is safe to repeat.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from signoff import messages
from signoff.errors import BackendError, NotFoundError
from signoff.events import Topic, decode
from signoff.model import AuditKind, PostClaim
from signoff.observability import NoTelemetry, Telemetry
from signoff.service import Approvals

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=60)


class Notifier:
    def __init__(
        self,
        approvals: Approvals,
        client: WebClient,
        claim_lease: timedelta = CLAIM_LEASE,
        telemetry: Telemetry | None = None,
    ):
        self._approvals = approvals
        self._client = client
        self._lease = claim_lease
        self._telemetry = telemetry or NoTelemetry()

    def handle_sns_event(self, event: dict[str, Any]) -> int:
        """Handle every record of an SNS Lambda event; returns how many were handled.

        A failure that a retry can fix (Slack or DynamoDB down) raises, so SNS retries.
        A message that no retry can fix (not ours, malformed, or about an approval that no
        longer exists) is logged and skipped rather than retried into the DLQ.
        """
        handled = 0
        for record in event.get("Records", []):
            sns = record.get("Sns") if isinstance(record, dict) else None
            self._telemetry.correlate(str((sns or {}).get("MessageId", "")))
            try:
                kind, approval_id = decode(record["Sns"]["Message"])
            except (KeyError, TypeError, ValueError, json.JSONDecodeError):
                log.warning("skipped an SNS record that is not a signoff message")
                continue
            self._telemetry.tag(approval_id=approval_id)
            log.info("handling %s", kind.value)
            try:
                self.handle(kind, approval_id)
            except NotFoundError:
                log.warning("skipped %s for %s: no such approval", kind.value, approval_id)
                continue
            handled += 1
        return handled

    def handle(self, kind: Topic, approval_id: str) -> None:
        if kind is Topic.REQUESTED:
            self._post(approval_id)
        else:
            self._finish(approval_id)

    def _post(self, approval_id: str) -> None:
        approval = self._approvals.get(approval_id)
        if approval.message is not None:
            return  # a duplicate delivery: already posted
        claim = self._approvals.claim_post(approval_id, self._lease)
        if claim is PostClaim.DENIED:
            if self._approvals.get(approval_id).message is not None:
                return
            # Another delivery is posting right now; fail so this one is retried later.
            raise BackendError(f"{approval_id}: another notifier holds the post claim")
        ref = messages.find_request(self._client, approval) if claim is PostClaim.TAKEOVER else None
        if ref is None:
            try:
                ref = messages.post_request(self._client, approval)
            except BackendError:
                # Slack said no, so nothing was posted: let the retry claim at once. (A lost
                # answer is not a "no": the claim then lapses, and the retry looks first.)
                self._approvals.release_post(approval_id)
                raise
        stored = self._approvals.posted(approval_id, ref)
        if stored.status.is_closed:
            # Decided before the message existed: the "decided" delivery found no message
            # to update, so render the outcome here.
            self._finish(approval_id)

    def _finish(self, approval_id: str) -> None:
        approval = self._approvals.get(approval_id)
        if messages.update_message(self._client, approval):
            self._approvals.note(
                approval_id, AuditKind.MESSAGE_UPDATED, {"status": approval.status.value}
            )
        else:
            log.info("no message yet for %s; the post will render the outcome", approval_id)
