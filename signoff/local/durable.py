"""The durable execution emulator from the SDK's testing package, kept on disk.

Execution state lives in a SQLite file. Timers (waits, polls) live only in memory, so
`recover()` re-arms them at start-up for every execution still running.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from aws_durable_execution_sdk_python_testing.stores.sqlite import SQLiteExecutionStore

log = logging.getLogger(__name__)

FUNCTION_NAME = "signoff-workflow"
# The emulator's default is 300 s; an approval may wait for days.
EXECUTION_TIMEOUT = 8 * 24 * 3600


class LocalDurable:
    def __init__(self, handler: Any, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._store = SQLiteExecutionStore.create_and_initialize(db_path)
        self.runner = DurableFunctionTestRunner(
            handler=handler,
            store=self._store,
            skip_time=False,
            execution_timeout=EXECUTION_TIMEOUT,
        )
        self._starting = threading.Lock()

    def close(self) -> None:
        self.runner.close()  # type: ignore[no-untyped-call]

    def _find(self, name: str) -> Any | None:
        executions, _ = self._store.query(function_name=FUNCTION_NAME, execution_name=name)
        return executions[0] if executions else None

    def start(self, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """Start once per name (the approval id): a second start returns the first."""
        with self._starting:
            existing = self._find(name)
            if existing is not None:
                return existing.durable_execution_arn, False
            arn = self.runner.run_async(
                input=json.dumps(payload),
                function_name=FUNCTION_NAME,
                execution_name=name,
                execution_timeout=EXECUTION_TIMEOUT,
            )
            return arn, True

    def describe(self, name: str) -> dict[str, Any]:
        execution = self._find(name)
        if execution is None:
            return {"status": "unknown"}
        if not execution.is_complete:
            return {"status": "running", "arn": execution.durable_execution_arn}
        status = execution.close_status.value.lower() if execution.close_status else "unknown"
        result: Any = None
        if execution.result is not None and execution.result.result:
            try:
                result = json.loads(execution.result.result)
            except ValueError:
                result = execution.result.result
        return {"status": status, "arn": execution.durable_execution_arn, "result": result}

    def recover(self) -> int:
        """Re-arm the pending timer of every running execution; returns how many.

        Leans on the emulator's executor (pinned testing package, covered by a test).
        """
        count = 0
        for execution in self._store.list_all():
            if execution.is_complete:
                continue
            self.runner._executor._schedule_earliest_pending(execution.durable_execution_arn)
            count += 1
        return count
