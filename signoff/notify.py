"""The notifier use case: SNS messages → Slack messages.

SNS delivers at least once and the workflow may replay, so everything here is safe to
repeat. A "requested" message posts the interactive message once (a claim on the record
guards it) and tells the requester by DM; "decided" and "voted" reply in the message's
thread (one reply per accepted vote and one for the outcome), tell the requester the
outcome by DM, and re-render the message from the record. Each reply and DM is sent
once per key (`signoff.claims.Once`).

Slack errors that a retry may fix raise, so SNS delivers again, SLACK_TRIES times at
most per side effect and error. Errors no retry fixes (the bot is not in the channel,
the message is gone, the token is revoked: messages.SLACK_ERRORS), and those that kept
failing, do not raise: they are recorded in the audit trail once with what to do, the
requester is told by DM where Slack still lets us, and the request stays decidable from
the CLI.

Every side effect is named by a once-key, finished when done (or given up), so what
should exist and what does can be compared: `unfinished` tells a recovery which topics
to publish again after a crash lost deliveries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient

from signoff import blocks, messages, model
from signoff.claims import Claims
from signoff.errors import BackendError, NotFoundError
from signoff.events import Publisher, Topic, decode
from signoff.messages import (
    NO_RESPONSE,
    PermanentSlackError,
    SlackRefusedError,
    SlackUnansweredError,
)
from signoff.model import (
    Approval,
    AuditEvent,
    AuditKind,
    Escalated,
    EscalationFailed,
    MessageUpdated,
    OnceClaim,
    PostClaim,
    Reminded,
    SlackFailed,
    SlackRef,
    utc,
)
from signoff.observability import NoTelemetry, Telemetry
from signoff.service import Clock, Pending, system_clock

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=60)
# Failed deliveries of one side effect with one error before it is given up and recorded.
# Lambda retries an SNS-invoked function's failures twice (three tries) and then sends the
# event to the dead-letter queue, where nobody is told: the third failure is recorded here.
SLACK_TRIES = 3


class NoticeStore(Claims, Protocol):
    """What the notifier reads and claims: one approval, its audit trail, the pending
    index (for Home tabs), and the claims that make each side effect happen once."""

    def get(self, approval_id: str) -> Approval: ...
    def list_pending(self, limit: int = 100, after: str = "") -> list[Approval]: ...
    def audit(self, approval_id: str, since: datetime | None = None) -> list[AuditEvent]: ...


class Notifier:
    def __init__(
        self,
        store: NoticeStore,
        client: WebClient,
        claim_lease: timedelta = CLAIM_LEASE,
        telemetry: Telemetry | None = None,
        *,
        clock: Clock = system_clock,
    ):
        self._store = store
        self._client = client
        self._lease = claim_lease
        self._telemetry = telemetry or NoTelemetry()
        self._clock = clock
        self._once = messages.once_notices(store, clock, claim_lease)
        self._pending = Pending(index=store, clock=clock)

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

        A Slack error no retry fixes (or one that kept failing) is recorded and told, not
        raised.
        """
        return self._slack(
            approval,
            key,
            lambda: messages.reply_in_thread(self._client, self._once, approval, notice, key),
        )

    def tell_requester(self, approval: Approval, notice: messages.Notice, key: str) -> bool:
        """DM the requester once per key (False: done before, or not a Slack user)."""
        return self._slack(
            approval,
            "dm:" + key,
            lambda: messages.direct_message(
                self._client, self._once, approval, approval.requester, notice, "dm:" + key
            ),
            dm=True,
        )

    # -- internals ---------------------------------------------------------------------

    def _post(self, approval_id: str) -> None:
        approval = self._store.get(approval_id)
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
        if approval.votes or approval.status.is_closed or approval.policy.escalated:
            # Something happened before the message existed (or before a lost delivery was
            # redone): the deliveries that came for it found no message, so do it here.
            self._follow_up(approval_id)

    def _post_message(self, approval: Approval) -> Approval | None:
        """Post the request's message once; the approval as it stands after, or None."""
        approval_id = approval.id
        claim = self._store.claim_message(approval_id, self._clock(), self._lease)
        if claim is PostClaim.DENIED:
            if self._store.get(approval_id).message is not None:
                return self._store.get(approval_id)
            # Another delivery is posting right now; fail so this one is retried later.
            raise BackendError(f"{approval_id}: another notifier holds the post claim")
        try:
            ref = self._find_or_post(approval, claim)
        except PermanentSlackError as exc:
            self._store.release_claim(approval_id)  # a later delivery may post
            self._failed(approval, exc.method, exc.error)
            self._not_posted(approval)
            return None
        except SlackRefusedError as exc:
            # Slack said no, so nothing was posted: let the retry claim at once. (A lost
            # answer is not a "no": the claim then lapses, and the retry looks first.)
            self._store.release_claim(approval_id)
            if not self._gave_up(approval, "post", exc.method, exc.error):
                raise
            self._not_posted(approval)
            return None
        except (OSError, SlackUnansweredError):
            if not self._gave_up(approval, "post", "chat.postMessage", NO_RESPONSE):
                raise
            self._not_posted(approval)
            return None
        return self._store.set_message(approval_id, ref, self._clock(), approval.expires_at)

    def _find_or_post(self, approval: Approval, claim: PostClaim) -> SlackRef:
        found = (
            messages.find_request(self._client, approval) if claim is PostClaim.TAKEOVER else None
        )
        return found or messages.post_request(self._client, approval)

    def _not_posted(self, approval: Approval) -> None:
        """No message (Slack refused it for good): a closed request is still told by DM."""
        if approval.status.is_closed:
            self._follow_up(approval.id)

    def _follow_up(self, approval_id: str) -> None:
        """After a vote or the outcome: thread replies, the requester's DM, the message.

        The message is re-rendered last: for a closed request its `message_updated` audit
        event marks the outcome as shown.
        """
        approval = self._store.get(approval_id)
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
        self._render(approval)

    def _render(self, approval: Approval) -> None:
        """Re-render the message from the record, once per version (`render:vN`); a closed
        request's render is audited as `message_updated` in the same write as its mark.

        An update is safe to repeat, so a claim held by another delivery (or one that died)
        does not stop this one, and a failed update gives its claim back at once.
        """
        key = render_key(approval)
        if self._store.claim_once(approval.id, key, self._clock(), self._lease) is OnceClaim.DONE:
            return

        def render() -> bool:
            try:
                messages.update_message(self._client, approval)
            except PermanentSlackError:
                self._finish(approval.id, key)  # given up for good
                raise
            except (SlackRefusedError, SlackUnansweredError):
                self._store.release_once(approval.id, key)
                raise
            self._finish(
                approval.id,
                key,
                (AuditKind.MESSAGE_UPDATED, MessageUpdated(status=approval.status).detail())
                if approval.status.is_closed
                else None,
            )
            return True

        self._slack(approval, key, render)

    def _remind(self, approval_id: str) -> None:
        """Reply for the latest reminder in the audit trail, once (`remind:<number>`),
        mentioning whoever has still not voted; nothing once the request is closed."""
        approval = self._store.get(approval_id)
        number = _reminder_due(approval, self._store.audit(approval_id))
        if number:
            self.reply_in_thread(
                approval, blocks.reminder_notice(approval, number), f"remind:{number}"
            )

    def _escalated(self, approval_id: str) -> None:
        """Say in the thread, once, that the escalation group joined (or could not)."""
        approval = self._store.get(approval_id)
        for event in self._store.audit(approval_id):
            if escalated := event.read(Escalated):
                notice = blocks.escalation_notice(approval, escalated.count)
            elif failed := event.read(EscalationFailed):
                notice = blocks.escalation_notice(approval, 0, failed.why)
            else:
                continue
            self.reply_in_thread(approval, notice, "escalated")
            return

    def _refresh_homes(self, approval: Approval) -> None:
        """The Home tabs this request shows in: its requester's and its approvers'."""
        for user in dict.fromkeys((approval.requester, *approval.policy.approvers)):
            messages.publish_home(self._client, self._pending, user)

    def _permalink(self, approval: Approval) -> str | None:
        message = approval.message
        if message is None:
            return None
        link: list[str] = []

        def look() -> bool:
            link.append(messages.permalink(self._client, message))
            return True

        return link[0] if self._slack(approval, "permalink", look, once=False) else None

    def _slack(
        self,
        approval: Approval,
        what: str,
        act: Callable[[], bool],
        *,
        dm: bool = False,
        once: bool = True,
    ) -> bool:
        """Run one Slack side effect named `what` (its once-key, when `once`).

        An error no retry fixes is recorded and told; any other raises so SNS delivers
        again, until it has failed SLACK_TRIES times: then it is given up (its once-key
        finished, so nothing tries again) and recorded the same way. False: not done.
        """
        try:
            return act()
        except PermanentSlackError as exc:
            self._failed(approval, exc.method, exc.error, tell=not dm)
            return False
        except (SlackRefusedError, SlackUnansweredError) as exc:
            if not self._gave_up(approval, what, exc.method, exc.error, tell=not dm):
                raise
            if once:
                self._finish(approval.id, what)
            return False

    def _gave_up(
        self, approval: Approval, what: str, call: str, error: str, *, tell: bool = True
    ) -> bool:
        """Count a failed try at `what`; True (and recorded) when it is the last one."""
        tries = self._store.count_failure(approval.id, f"{what}:{error}", self._clock())
        if tries < SLACK_TRIES:
            log.warning(
                "%s: %s failed with %s (try %d of %d)", approval.id, call, error, tries, SLACK_TRIES
            )
            return False
        self._failed(approval, call, error, tell=tell, tries=tries)
        return True

    def _failed(
        self, approval: Approval, call: str, error: str, *, tell: bool = True, tries: int = 0
    ) -> None:
        """Slack refused for good (or kept failing): audit it once, and tell the requester
        what to do."""
        advice = messages.failure_advice(approval, error, call, tries)
        key = f"slack-failed:{error}"
        log.warning("%s: Slack %s failed: %s (%s)", approval.id, call, error, advice)
        if self._store.claim_once(approval.id, key, self._clock(), self._lease).granted:
            failed = SlackFailed(call=call, error=error, what_to_do=advice, tries=tries)
            self._finish(approval.id, key, (AuditKind.SLACK_FAILED, failed.detail()))
        if tell and error not in messages.TOKEN_ERRORS:
            self.tell_requester(approval, blocks.slack_failure_dm(approval, error, advice), key)

    def _finish(
        self, approval_id: str, key: str, note: tuple[AuditKind, dict[str, str]] | None = None
    ) -> None:
        """Mark `key` done; with `note`, audit it (signoff as the actor) in the same write."""
        now = utc(self._clock())
        event = AuditEvent(kind=note[0], at=now, actor="signoff", detail=note[1]) if note else None
        self._store.finish_once(approval_id, key, now, event)


def render_key(approval: Approval) -> str:
    """The once-key of the message's render of this version of the record."""
    return f"render:v{approval.version}"


def _reminder_due(approval: Approval, audit: list[AuditEvent]) -> int:
    """The latest reminder's number, when a reply for it is due (0: none)."""
    if approval.status.is_closed or not approval.waiting_for():
        return 0
    return max((r.number for e in audit if (r := e.read(Reminded))), default=0)


def unfinished(approval: Approval, audit: list[AuditEvent], done: frozenset[str]) -> list[Topic]:
    """The topics whose delivery would finish every side effect the record and its audit
    trail say should exist and the once-keys (`done`) say does not, in order.

    Each is safe to deliver again: whatever is done already is skipped. The post (and,
    from it, everything after it) is "requested"; replies, DMs and the render after votes
    or the outcome are "voted" or "decided"; a reminder's reply and the escalation's
    notice are their own topics.
    """
    if approval.message is None:
        return [Topic.REQUESTED]
    to_user = model.is_slack_user(approval.requester)
    topics: list[Topic] = []
    if to_user and "dm:requested" not in done:
        topics.append(Topic.REQUESTED)
    wanted = [f"vote:{v.user}" for v in approval.votes]
    if approval.status.is_closed:
        wanted += ["outcome", render_key(approval)] + (["dm:outcome"] if to_user else [])
    elif approval.votes or approval.policy.escalated:
        wanted.append(render_key(approval))
    if any(key not in done for key in wanted) and Topic.REQUESTED not in topics:
        topics.append(Topic.DECIDED if approval.status.is_closed else Topic.VOTED)
    escalation = {AuditKind.ESCALATED, AuditKind.ESCALATION_FAILED}
    if any(e.kind in escalation for e in audit) and "escalated" not in done:
        topics.append(Topic.ESCALATED)
    number = _reminder_due(approval, audit)
    if number and f"remind:{number}" not in done:
        topics.append(Topic.REMINDED)
    return topics


def redrive(store: NoticeStore, publisher: Publisher, approval_ids: list[str]) -> int:
    """Publish again what finishes each approval's unfinished side effects (after a crash
    lost deliveries); returns how many messages were published. An id with no approval
    yet is skipped: its workflow creates it, then publishes."""
    published = 0
    for approval_id in approval_ids:
        try:
            approval = store.get(approval_id)
        except NotFoundError:
            continue
        audit = store.audit(approval_id) if approval.message else []
        for topic in unfinished(approval, audit, store.finished_once(approval_id)):
            publisher.publish(topic, approval_id)
            published += 1
    return published
