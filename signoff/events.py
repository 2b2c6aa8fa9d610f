"""The messages signoff publishes on its SNS topic, and the publisher adapter."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from signoff.errors import BackendError
from signoff.model import id_problem


class Topic(StrEnum):
    REQUESTED = "requested"  # the request exists: post its message, tell the requester
    DECIDED = "decided"  # it ended: re-render the message, reply in its thread, tell them
    # A vote was accepted and the request is still open (a quorum): reply in the thread
    # and re-render the message. Anything that records such a vote may publish it.
    VOTED = "voted"
    # A reminder is due: reply in the thread mentioning who has not voted (the number and
    # whom it names are in the audit trail, REMINDED).
    REMINDED = "reminded"
    # The escalation group joined the approvers (or could not be resolved): say so in the
    # thread, and re-render the message.
    ESCALATED = "escalated"
    # A pipeline reported what it did after approval (`signoff report`; the report is in
    # the audit trail, REPORTED): reply in the thread and show it on the message, once.
    REPORTED = "reported"


class Publisher(Protocol):
    def publish(self, kind: Topic, approval_id: str) -> str: ...


def encode(kind: Topic, approval_id: str) -> str:
    # Only the id travels: the notifier reads the record, the one source of truth.
    return json.dumps({"type": kind.value, "id": approval_id})


def decode(message: str) -> tuple[Topic, str]:
    """ValueError (and the like) for a message signoff did not publish."""
    data = json.loads(message)
    approval_id = str(data["id"])
    if id_problem(approval_id):
        raise ValueError("not an approval id")
    return Topic(data["type"]), approval_id


class SnsPublisher:
    def __init__(self, client: Any, topic_arn: str):
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, kind: Topic, approval_id: str) -> str:
        try:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Message=encode(kind, approval_id),
                MessageAttributes={"type": {"DataType": "String", "StringValue": kind.value}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"SNS publish failed: {exc}") from exc
        return str(response["MessageId"])
