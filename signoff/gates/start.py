"""How a door starts a workflow without waiting for it: Lambda's asynchronous Invoke named
after the approval (a second start with the same name starts nothing). The local stack
serves the same call with the durable emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from signoff.codec import request_to_payload
from signoff.errors import BackendError
from signoff.model import StartRequest


class LambdaStarter:
    def __init__(self, client: Callable[[], Any], function_arn: str):
        self._client = client
        self._function_arn = function_arn

    def start(self, request: StartRequest) -> object:
        try:
            return self._client().invoke(
                FunctionName=self._function_arn,
                InvocationType="Event",
                DurableExecutionName=request.id,
                Payload=json.dumps(request_to_payload(request), ensure_ascii=False).encode(),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("DurableExecutionAlreadyStartedException",):
                return {}  # started before, by an earlier delivery
            raise BackendError(f"starting the workflow failed: {exc}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"starting the workflow failed: {exc}") from exc
