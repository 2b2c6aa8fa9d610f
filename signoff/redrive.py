"""`signoff redrive`: replay the notifier's dead-letter queue.

SNS invokes the notifier asynchronously; an event that still fails after Lambda's
retries lands in the notifier's dead-letter queue, its body the SNS Lambda event itself
(with Lambda's RequestID, ErrorCode and ErrorMessage as message attributes). Redrive
hands each event back to the notifier function, synchronously, so it knows the outcome:
an event the notifier handled is deleted from the queue; one that fails again stays
there, with its error shown. Replaying is safe even for an event that was handled after
all: the notifier posts, replies and DMs once per key (its claims on the record), so a
second delivery changes nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from signoff.errors import BackendError
from signoff.events import decode

# How long a received event stays hidden from other readers while it is replayed: a batch
# is at most BATCH events, each a synchronous notifier run of at most 30 s (its timeout).
BATCH = 5
REPLAY_VISIBILITY = 300
# A dry run only reads: long enough to page through the queue, then handed back at once.
LIST_VISIBILITY = 30
WAIT_SECONDS = 1  # a long poll, so an empty answer means the queue is empty


class Outcome(StrEnum):
    REPLAYED = "replayed"  # the notifier handled it; deleted from the queue
    FAILED = "failed"  # the notifier failed again; left in the queue
    SKIPPED = "skipped"  # not a notifier event; left in the queue for a person to read
    LISTED = "listed"  # --dry-run: what would be replayed


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, read as the notifier event it holds."""

    message_id: str
    receipt: str
    body: str
    event: dict[str, Any] | None  # the SNS Lambda event; None when the body is not one
    notices: tuple[str, ...]  # "requested apr-1", ... one per signoff message in it
    error: str  # why Lambda gave up on it (its ErrorMessage attribute)
    sent_at: datetime | None

    @classmethod
    def read(cls, message: dict[str, Any]) -> DeadLetter:
        body = str(message.get("Body", ""))
        attributes = message.get("MessageAttributes") or {}
        error = str((attributes.get("ErrorMessage") or {}).get("StringValue", ""))
        sent = str((message.get("Attributes") or {}).get("SentTimestamp", ""))
        sent_at = datetime.fromtimestamp(int(sent) / 1000, UTC) if sent.isdigit() else None
        event, notices = _notifier_event(body)
        return cls(
            str(message["MessageId"]),
            str(message["ReceiptHandle"]),
            body,
            event,
            notices,
            error,
            sent_at,
        )

    @property
    def summary(self) -> str:
        return ", ".join(self.notices) or "not a signoff notifier event"


def _notifier_event(body: str) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """The SNS Lambda event in a message body, and what each of its records says."""
    try:
        event = json.loads(body)
        records = event["Records"]
        notices = tuple(
            f"{kind.value} {approval_id}"
            for kind, approval_id in (decode(r["Sns"]["Message"]) for r in records)
        )
    except (ValueError, KeyError, TypeError):
        return None, ()
    if not isinstance(event, dict) or not notices:
        return None, ()
    return event, notices


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    outcome: Outcome
    detail: str = ""


class NotifierFunction(Protocol):
    def run(self, event: dict[str, Any]) -> None:
        """Run the notifier on one event; NotifierFailedError when it fails.

        BackendError (not its subclass) when it could not be called at all.
        """
        ...


class NotifierFailedError(BackendError):
    """The notifier ran and failed on the event."""


class LambdaNotifier:
    """The deployed notifier, invoked synchronously (RequestResponse) with the event."""

    def __init__(self, client: Any, function_name: str):
        self._client = client
        self._function = function_name

    def run(self, event: dict[str, Any]) -> None:
        try:
            response = self._client.invoke(
                FunctionName=self._function,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"invoking the notifier {self._function} failed: {exc}") from exc
        payload = response["Payload"].read() if response.get("Payload") else b""
        if response.get("FunctionError"):
            try:
                said = json.loads(payload or b"{}")
                reason = f"{said.get('errorType', 'Error')}: {said.get('errorMessage', '')}"
            except (ValueError, AttributeError):
                reason = payload.decode(errors="replace")[:300]
            raise NotifierFailedError(reason.strip() or "the notifier failed")


class DeadLetterQueue:
    """The queue, read in batches; every message read is deleted or handed back."""

    def __init__(self, client: Any, queue_url: str):
        self._client = client
        self.url = queue_url

    def waiting(self) -> int:
        """About how many events wait (SQS's approximate count)."""
        try:
            attributes = self._client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"cannot read the dead-letter queue {self.url}: {exc}") from exc
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def receive(self, visibility: int) -> list[DeadLetter]:
        try:
            response = self._client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=WAIT_SECONDS,
                VisibilityTimeout=visibility,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["SentTimestamp"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"cannot read the dead-letter queue {self.url}: {exc}") from exc
        return [DeadLetter.read(m) for m in response.get("Messages", [])]

    def delete(self, letter: DeadLetter) -> None:
        try:
            self._client.delete_message(QueueUrl=self.url, ReceiptHandle=letter.receipt)
        except (ClientError, BotoCoreError) as exc:
            # Replayed but not deleted: it will be replayed again, which changes nothing.
            raise BackendError(
                f"{letter.message_id} was replayed but could not be deleted: {exc}"
            ) from exc

    def hand_back(self, letters: list[DeadLetter]) -> None:
        """Make messages read but not deleted visible again at once."""
        for letter in letters:
            # On failure it comes back by itself when its visibility timeout ends.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=letter.receipt, VisibilityTimeout=0
                )


def redrive(
    queue: DeadLetterQueue,
    notifier: NotifierFunction | None,
    *,
    limit: int | None = None,
    progress: Callable[[Replayed], None] = lambda _: None,
) -> list[Replayed]:
    """Replay up to `limit` events (all without a limit); without a notifier, only list them.

    Each event is read once per run: one that fails again stays in the queue, hidden
    until the run ends. BackendError stops the run when the notifier cannot be invoked at
    all (no permission, throttled): nothing more could succeed.
    """
    done: list[Replayed] = []
    held: list[DeadLetter] = []  # read, not deleted: handed back at the end
    visibility = LIST_VISIBILITY if notifier is None else REPLAY_VISIBILITY
    try:
        for letter in _letters(queue, visibility, limit):
            if letter.event is None:
                result = Replayed(
                    letter, Outcome.SKIPPED, "not a notifier event: left in the queue"
                )
                held.append(letter)
            elif notifier is None:
                result = Replayed(letter, Outcome.LISTED, letter.error)
                held.append(letter)
            else:
                try:
                    notifier.run(letter.event)
                except NotifierFailedError as exc:
                    result = Replayed(letter, Outcome.FAILED, str(exc))
                    held.append(letter)
                except BackendError:
                    held.append(letter)
                    raise
                else:
                    queue.delete(letter)
                    result = Replayed(letter, Outcome.REPLAYED)
            done.append(result)
            progress(result)
    finally:
        queue.hand_back(held)
    return done


def _letters(queue: DeadLetterQueue, visibility: int, limit: int | None) -> Iterator[DeadLetter]:
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        batch = [letter for letter in queue.receive(visibility) if letter.message_id not in seen]
        if not batch:
            return  # empty, or only what this run already read
        for letter in batch:
            if limit is not None and len(seen) >= limit:
                queue.hand_back([letter])
                return
            seen.add(letter.message_id)
            yield letter
