"""How a door starts a workflow without waiting for it: Lambda's asynchronous invoke named
after the approval (idempotent), or the local stack's /local/workflows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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
                Payload=json.dumps(request.to_payload(), ensure_ascii=False).encode(),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("DurableExecutionAlreadyStartedException",):
                return {}  # started before, by an earlier delivery
            raise BackendError(f"starting the workflow failed: {exc}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"starting the workflow failed: {exc}") from exc


class HttpStarter:
    """The local stack's start endpoint (the same call the CLI's LocalTarget makes)."""

    def __init__(self, url: str):
        self._url = url

    def start(self, request: StartRequest) -> object:
        body = json.dumps(request.to_payload(), ensure_ascii=False).encode()
        call = urllib.request.Request(self._url, data=body, method="POST")
        call.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(call, timeout=5) as answer:  # the stack's own loopback
                return json.loads(answer.read())
        except (OSError, ValueError) as exc:
            raise BackendError(f"starting the workflow failed: {exc}") from exc
