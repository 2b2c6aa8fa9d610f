"""Local SNS delivery: topic → SQS queue → the notifier handler, as an SNS Lambda event.

At least once, like the real thing: a message is deleted only after the handler
returned; a failure leaves it to come back after the queue's visibility timeout. Several
deliveries run at once, as Lambda runs them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


def sns_lambda_event(envelope: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    """The event AWS gives a Lambda subscribed to an SNS topic."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:local-notifier",
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope.get("TopicArn", topic_arn),
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope.get("Timestamp", ""),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


class SnsBridge:
    """Receives from the queue and runs the handler on up to `workers` messages at once.

    Lambda runs an SNS subscriber's deliveries concurrently; one at a time, a burst of
    notices backs the queue up (and moto's receive costs O(queue) per message). Only as
    many messages are received as there are idle workers, so none waits out its
    visibility timeout in a local backlog.
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        topic_arn: str,
        handler: Handler,
        context: Any,
        workers: int = 4,
    ):
        self._sqs = sqs
        self._queue_url = queue_url
        self._topic_arn = topic_arn
        self._handler = handler
        self._context = context
        self._workers = workers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sns-bridge", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sns-deliver")
        self._idle = threading.Condition()
        self._busy = 0
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._idle:
            self._idle.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _room(self) -> int:
        """Wait for an idle worker; how many messages to ask for (0: stopping)."""
        with self._idle:
            while self._busy >= self._workers and not self._stop.is_set():
                self._idle.wait(0.5)
            return 0 if self._stop.is_set() else min(10, self._workers - self._busy)

    def _run(self) -> None:
        while (room := self._room()) > 0:
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=room, WaitTimeSeconds=1
                )
            except Exception:
                log.exception("receiving from the local queue failed")
                self._stop.wait(1)
                continue
            for message in response.get("Messages", []):
                with self._idle:
                    self._busy += 1
                self._pool.submit(self._deliver_one, message)

    def _deliver_one(self, message: dict[str, Any]) -> None:
        try:
            self.deliver(message)
        except Exception:
            log.exception("deleting a delivered message failed; it will be delivered again")
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify()

    def deliver(self, message: dict[str, Any]) -> None:
        try:
            event = sns_lambda_event(json.loads(message["Body"]), self._topic_arn)
            self._handler(event, self._context)
        except Exception:
            with self._idle:
                self.failed += 1
            log.exception("notifier failed; the message will be delivered again")
            return
        with self._idle:
            self.delivered += 1
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
