"""The notifier use case: SNS messages → Slack messages.

SNS delivers at least once. A "requested" message posts the interactive message once
(a claim on the record guards it); "decided" re-renders the message from the record,
which is safe to repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from signoff import blocks
from signoff.errors import BackendError
from signoff.events import Topic, decode
from signoff.model import AuditEvent, AuditKind, SlackRef
from signoff.slack_app import update_message
from signoff.store import DynamoApprovalStore

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=60)


class Notifier:
    def __init__(
        self, store: DynamoApprovalStore, client: WebClient, clock: Callable[[], datetime]
    ):
        self._store = store
        self._client = client
        self._clock = clock

    def handle_sns_event(self, event: dict[str, Any]) -> int:
        """Handle every record of an SNS Lambda event; any failure raises so SNS retries."""
        handled = 0
        for record in event.get("Records", []):
            kind, approval_id = decode(record["Sns"]["Message"])
            self.handle(kind, approval_id)
            handled += 1
        return handled

    def handle(self, kind: Topic, approval_id: str) -> None:
        if kind is Topic.REQUESTED:
            self._post(approval_id)
        else:
            self._finish(approval_id)

    def _post(self, approval_id: str) -> None:
        approval = self._store.get(approval_id)
        if approval.message is not None:
            return  # a duplicate delivery: already posted
        if not self._store.claim_message(approval_id, self._clock(), CLAIM_LEASE):
            if self._store.get(approval_id).message is not None:
                return
            # Another delivery is posting right now; fail so this one is retried later.
            raise BackendError(f"{approval_id}: another notifier holds the post claim")
        try:
            response = self._client.chat_postMessage(
                channel=approval.channel,
                text=blocks.fallback_text(approval),
                blocks=blocks.approval_message(approval),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            self._store.release_claim(approval_id)
            raise BackendError(
                f"Slack chat.postMessage failed: {exc.response.get('error')}"
            ) from exc
        ref = SlackRef(str(response["channel"]), str(response["ts"]))
        stored = self._store.set_message(approval_id, ref, self._clock())
        if stored.status.is_closed:
            # Decided before the message existed: the "decided" delivery found no message
            # to update, so render the outcome here.
            self._finish(approval_id)

    def _finish(self, approval_id: str) -> None:
        approval = self._store.get(approval_id)
        if update_message(self._client, approval):
            self._store.record(
                approval_id,
                AuditEvent(
                    AuditKind.MESSAGE_UPDATED,
                    self._clock(),
                    "signoff",
                    {"status": approval.status.value},
                ),
            )
        else:
            log.info("no message yet for %s; the post will render the outcome", approval_id)
