"""The doorbell: wake the waiting workflow the moment its approval closes.

The workflow keeps its current durable callback id on the record; whoever commits a
decision, cancel or expiry rings it. A ring is a hint, never the decision: the workflow
re-reads the record when it wakes, and its safety poll resumes it if a ring is lost.
So a ring that fails is logged and never fails the click.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)


class Doorbell(Protocol):
    def ring(self, callback_id: str) -> bool: ...


class NoDoorbell:
    """Doorbell switched off: the workflow resumes on its poll."""

    def ring(self, callback_id: str) -> bool:
        return False


class LambdaDoorbell:
    """`SendDurableExecutionCallbackSuccess` through a boto3 Lambda client.

    The same call reaches AWS and the local stack (which serves that API path).
    """

    def __init__(self, make_client: Callable[[], Any]):
        # The client is made on the first ring, not on a cold start.
        self._make_client = make_client
        self._client: Any = None

    def ring(self, callback_id: str) -> bool:
        if self._client is None:
            self._client = self._make_client()
        try:
            self._client.send_durable_execution_callback_success(
                CallbackId=callback_id, Result=json.dumps({"rung": True}).encode()
            )
        except (ClientError, BotoCoreError) as exc:
            # Typically the callback already timed out (the workflow is polling again).
            log.warning("doorbell ring failed; the workflow's poll will notice: %s", exc)
            return False
        return True
