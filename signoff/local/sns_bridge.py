"""Local SNS delivery: topic → SQS queue → the notifier handler, as an SNS Lambda event.

At least once, like the real thing: a message is deleted only after the handler
returned; a failure leaves it to come back after the queue's visibility timeout.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
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
    def __init__(self, sqs: Any, queue_url: str, topic_arn: str, handler: Handler, context: Any):
        self._sqs = sqs
        self._queue_url = queue_url
        self._topic_arn = topic_arn
        self._handler = handler
        self._context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sns-bridge", daemon=True)
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception:
                log.exception("receiving from the local queue failed")
                self._stop.wait(1)
                continue
            for message in response.get("Messages", []):
                self.deliver(message)

    def deliver(self, message: dict[str, Any]) -> None:
        try:
            event = sns_lambda_event(json.loads(message["Body"]), self._topic_arn)
            self._handler(event, self._context)
        except Exception:
            self.failed += 1
            log.exception("notifier failed; the message will be delivered again")
            return
        self.delivered += 1
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
