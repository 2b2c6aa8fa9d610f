"""Record every AWS call the handlers and the CLI make, and who made it.

One botocore hook on boto3's default session (`before-parameter-build`, which carries the
API parameters) sees every call of every client built from that session: the handlers'
clients come from it (`signoff.wiring._client`), and so do the clients the IAM test gives
the CLI. Registered before any client is made (botocore copies a session's hooks into a
client when it builds it).

Who made a call is read from the call stack: a frame of a Lambda handler's body
(`signoff/handlers/workflow.py`, `slack.py`, `notifier.py`, which the entry points
`workflow_fn.app`, `slack_handler.app` and `notifier.app` re-export) names the function; a
frame of a module of `signoff/cli/` names the CLI, run as the persona in `cli_persona` (whose
managed policy the call is evaluated against). A context variable alone would not do: the
durable SDK runs the workflow's handler on a worker thread of its own, which does not
inherit the caller's context. Calls with none of these on the stack (the test's own setup,
the local stack's SNS delivery) are kept apart as unattributed.

The workflow's checkpoints do not go through boto3 in the durable emulator (it hands the
SDK an in-memory client): `record_durable` takes those from a wrapper of that client.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]

# Lambda handlers' bodies -> the template's logical id of the function they are the handler
# of (tests/integration/test_template.py checks the Handler of each).
ENTRY_POINTS = {
    str(ROOT / "signoff" / "handlers" / "workflow.py"): "WorkflowFunction",
    str(ROOT / "signoff" / "handlers" / "slack.py"): "SlackFunction",
    str(ROOT / "signoff" / "handlers" / "notifier.py"): "NotifierFunction",
}
CLI_PACKAGE = str(ROOT / "signoff" / "cli") + os.sep

# Whose credentials the CLI runs with: a managed policy's logical id (CliUserPolicy, ...).
cli_persona: ContextVar[str | None] = ContextVar("cli_persona", default=None)


@dataclass
class Call:
    principal: str | None  # a function's logical id, "cli:<policy>", or None (unattributed)
    service: str  # botocore's service name: dynamodb, sns, lambda, ...
    operation: str  # the API operation: GetItem, TransactWriteItems, ...
    params: dict[str, Any] = field(repr=False)

    @property
    def api(self) -> str:
        return f"{self.service}:{self.operation}"


def _principal() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name in ENTRY_POINTS:
            return ENTRY_POINTS[name]
        if name.startswith(CLI_PACKAGE):
            return f"cli:{cli_persona.get() or '?'}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


class Recorder:
    """The calls seen while installed (thread-safe: handlers run on many threads)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._session: Any = None
        self._id = f"iam-recorder-{id(self)}"

    def install(self) -> None:
        self._session = boto3._get_default_session()
        self._session.events.register("before-parameter-build", self._on_call, unique_id=self._id)

    def uninstall(self) -> None:
        if self._session is not None:
            self._session.events.unregister("before-parameter-build", unique_id=self._id)
            self._session = None

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        principal = _principal()
        # Payloads are not needed to authorize a call; keys and names are.
        kept = {k: v for k, v in params.items() if k not in ("Payload", "Result")}
        call = Call(principal, model.service_model.service_name, model.name, copy.deepcopy(kept))
        with self._lock:
            self.calls.append(call)

    def record_durable(self, principal: str, operation: str, execution_arn: str) -> None:
        """A durable-execution API call the emulator's in-memory client served (on the SDK's
        checkpoint thread, so the caller says whose it is)."""
        with self._lock:
            self.calls.append(
                Call(principal, "lambda", operation, {"DurableExecutionArn": execution_arn})
            )

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)


@contextlib.contextmanager
def as_persona(policy: str) -> Iterator[None]:
    """Run the CLI inside as someone whose only grants are the managed policy `policy`."""
    token = cli_persona.set(policy)
    try:
        yield
    finally:
        cli_persona.reset(token)
