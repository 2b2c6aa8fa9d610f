"""The notifier use case: SNS messages → Slack messages.

SNS delivers at least once and the workflow may replay, so everything here is safe to
repeat. A "requested" message posts the interactive message once (a claim on the record
guards it) and tells the requester by DM; "decided" and "voted" reply in the message's
thread (one reply per accepted vote and one for the outcome), tell the requester the
outcome by DM, and re-render the message from the record. Each reply and DM is sent
once per key (`messages.once`).

Slack errors that a retry may fix raise, so SNS delivers again. Errors no retry fixes
(the bot is not in the channel, the channel is archived, the token is revoked) do not
raise: they are recorded in the audit trail once, the requester is told by DM where
Slack still lets us, and the request stays decidable from the CLI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from signoff import blocks, messages
from signoff.errors import BackendError, NotFoundError
from signoff.events import Topic, decode
from signoff.messages import PermanentSlackError, SlackRefusedError
from signoff.model import Approval, AuditKind, PostClaim
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
        elif kind is Topic.REMINDED:
            self._remind(approval_id)
        elif kind is Topic.ESCALATED:
            self._escalated(approval_id)
            self._follow_up(approval_id)
        else:
            self._follow_up(approval_id)

    # -- the thread and the requester's DMs: for others to build on --------------------

    def reply_in_thread(self, approval: Approval, notice: messages.Notice, key: str) -> bool:
        """Reply once per key in the request's thread (False: done before, or no thread).

        A permanent Slack error is recorded and told, not raised.
        """
        return self._permanent_told(
            approval,
            lambda: messages.reply_in_thread(
                self._client, self._approvals, approval, notice, key, self._lease
            ),
        )

    def tell_requester(self, approval: Approval, notice: messages.Notice, key: str) -> bool:
        """DM the requester once per key (False: done before, or not a Slack user)."""
        return self._permanent_told(
            approval,
            lambda: messages.direct_message(
                self._client,
                self._approvals,
                approval,
                approval.requester,
                notice,
                "dm:" + key,
                self._lease,
            ),
            dm=True,
        )

    # -- internals ---------------------------------------------------------------------

    def _post(self, approval_id: str) -> None:
        approval = self._approvals.get(approval_id)
        if approval.message is None:
            posted = self._post_message(approval)
            if posted is None:
                return
            approval = posted
        if approval.message is not None:
            posted = approval
            self.tell_requester(
                approval,
                lambda: blocks.requested_dm(posted, self._permalink(posted)),
                "requested",
            )
        self._refresh_homes(approval)
        if approval.status.is_closed:
            # Decided before the message existed: the "decided" delivery found no message
            # to update or reply to, so render the outcome here.
            self._follow_up(approval_id)

    def _post_message(self, approval: Approval) -> Approval | None:
        """Post the request's message once; the approval as it stands after, or None."""
        approval_id = approval.id
        claim = self._approvals.claim_post(approval_id, self._lease)
        if claim is PostClaim.DENIED:
            if self._approvals.get(approval_id).message is not None:
                return self._approvals.get(approval_id)
            # Another delivery is posting right now; fail so this one is retried later.
            raise BackendError(f"{approval_id}: another notifier holds the post claim")
        ref = messages.find_request(self._client, approval) if claim is PostClaim.TAKEOVER else None
        if ref is None:
            try:
                ref = messages.post_request(self._client, approval)
            except PermanentSlackError as exc:
                self._approvals.release_post(approval_id)  # a later delivery may post
                self._failed(approval, exc)
                if approval.status.is_closed:
                    self._follow_up(approval_id)
                return None
            except SlackRefusedError:
                # Slack said no, so nothing was posted: let the retry claim at once. (A lost
                # answer is not a "no": the claim then lapses, and the retry looks first.)
                self._approvals.release_post(approval_id)
                raise
        return self._approvals.posted(approval_id, ref)

    def _follow_up(self, approval_id: str) -> None:
        """After a vote or the outcome: thread replies, the requester's DM, the message.

        The message is re-rendered last: its `message_updated` audit event marks the
        outcome as shown (the local stack re-drives closed requests without one).
        """
        approval = self._approvals.get(approval_id)
        for vote in approval.votes:
            self.reply_in_thread(approval, blocks.vote_notice(vote), f"vote:{vote.user}")
        if approval.status.is_closed:
            self.reply_in_thread(approval, blocks.outcome_notice(approval), "outcome")
            self.tell_requester(
                approval, lambda: blocks.outcome_dm(approval, self._permalink(approval)), "outcome"
            )
        self._refresh_homes(approval)
        if approval.message is None:
            log.info("no message yet for %s; the post will render the outcome", approval_id)
            return
        updated = self._permanent_told(
            approval, lambda: messages.update_message(self._client, approval)
        )
        if updated and approval.status.is_closed:
            self._approvals.note(
                approval_id, AuditKind.MESSAGE_UPDATED, {"status": approval.status.value}
            )

    def _remind(self, approval_id: str) -> None:
        """Reply for the latest reminder in the audit trail, once (`remind:<number>`),
        mentioning whoever has still not voted; nothing once the request is closed."""
        approval = self._approvals.get(approval_id)
        if approval.status.is_closed or not approval.waiting_for():
            return
        numbers = [
            int(e.get("detail", {}).get("number", 0))
            for e in self._approvals.audit(approval_id)
            if e.get("kind") == AuditKind.REMINDED.value
        ]
        if not numbers or max(numbers) <= 0:
            return
        number = max(numbers)
        self.reply_in_thread(approval, blocks.reminder_notice(approval, number), f"remind:{number}")

    def _escalated(self, approval_id: str) -> None:
        """Say in the thread, once, that the escalation group joined (or could not)."""
        approval = self._approvals.get(approval_id)
        for event in self._approvals.audit(approval_id):
            detail = event.get("detail", {})
            if event.get("kind") == AuditKind.ESCALATED.value:
                notice = blocks.escalation_notice(approval, int(detail.get("count", 0)))
            elif event.get("kind") == AuditKind.ESCALATION_FAILED.value:
                notice = blocks.escalation_notice(approval, 0, str(detail.get("why", "")))
            else:
                continue
            self.reply_in_thread(approval, notice, "escalated")
            return

    def _refresh_homes(self, approval: Approval) -> None:
        """The Home tabs this request shows in: its requester's and its approvers'."""
        for user in dict.fromkeys((approval.requester, *approval.policy.approvers)):
            messages.publish_home(self._client, self._approvals, user)

    def _permalink(self, approval: Approval) -> str | None:
        if approval.message is None:
            return None
        try:
            return messages.permalink(self._client, approval.message)
        except PermanentSlackError as exc:
            self._failed(approval, exc)
            return None

    def _permanent_told(
        self, approval: Approval, act: Callable[[], bool], *, dm: bool = False
    ) -> bool:
        try:
            return act()
        except PermanentSlackError as exc:
            self._failed(approval, exc, tell=not dm)
            return False

    def _failed(self, approval: Approval, exc: PermanentSlackError, *, tell: bool = True) -> None:
        """Slack refused for good: audit it once, and tell the requester what to do."""
        advice = blocks.failure_advice(approval, exc.error)
        key = f"slack-failed:{exc.error}"
        log.warning("%s: %s (%s)", approval.id, exc, advice)
        if self._approvals.claim_once(approval.id, key, self._lease).granted:
            self._approvals.note(
                approval.id,
                AuditKind.SLACK_FAILED,
                {"call": exc.method, "error": exc.error, "what_to_do": advice},
            )
            self._approvals.finish_once(approval.id, key)
        if tell and exc.error not in messages.TOKEN_ERRORS:
            self.tell_requester(approval, blocks.slack_failure_dm(approval, exc.error, advice), key)
