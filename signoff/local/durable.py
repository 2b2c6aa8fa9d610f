"""The durable execution emulator from the SDK's testing package, kept on disk.

Execution state lives in a SQLite file. Timers (waits, polls) and the handler
invocations in flight live only in memory, so at start-up `recover()` drives every
execution still running again: it re-arms its pending timer, or invokes the handler.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import OperationStatus, OperationType
from aws_durable_execution_sdk_python_testing.execution import Execution, ExecutionStatus
from aws_durable_execution_sdk_python_testing.executor import Executor
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from aws_durable_execution_sdk_python_testing.stores.sqlite import SQLiteExecutionStore
from aws_durable_execution_sdk_python_testing.token import CallbackToken

log = logging.getLogger(__name__)

FUNCTION_NAME = "signoff-workflow"
# The emulator's default is 300 s; an approval may wait for days.
EXECUTION_TIMEOUT = 8 * 24 * 3600


class RoutineAtDebug(logging.Filter):
    """The emulator's "Callback … timed out" is a warning, but for signoff it is routine:
    the workflow's wait for a decision is a callback with a timeout (its poll), so one
    times out at every poll of every waiting request. Logged at DEBUG instead."""

    ROUTINE = "[%s] Callback %s timed out"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != self.ROUTINE:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_routine_timeouts() -> None:
    """Install `RoutineAtDebug` on the emulator's logger (once)."""
    emulator = logging.getLogger("aws_durable_execution_sdk_python_testing.executor")
    if not any(isinstance(f, RoutineAtDebug) for f in emulator.filters):
        emulator.addFilter(RoutineAtDebug())


class LocalDurable:
    def __init__(self, handler: Any, db_path: Path):
        quiet_routine_timeouts()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db_path = db_path
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

    @staticmethod
    def is_callback_id(callback_id: str) -> bool:
        """Whether this is a callback id the emulator made (it says which execution)."""
        try:
            CallbackToken.from_str(callback_id)
        except Exception:
            return False
        return True

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
        return {
            "status": status,
            "arn": execution.durable_execution_arn,
            "result": result,
            "ended_at": self._ended_at(name),
        }

    def _ended_at(self, name: str) -> float | None:
        """When the execution finished (epoch seconds), from the store's table."""
        with closing(sqlite3.connect(self._db_path)) as db:
            row = db.execute(
                "SELECT end_timestamp FROM executions WHERE function_name = ? AND execution_name = ?",
                (FUNCTION_NAME, name),
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def running(self) -> list[str]:
        """The names (approval ids) of the executions not finished yet.

        Read from the store's table, as `recently_finished`: the store's query decodes
        every execution's operations, and a burst has a thousand running.
        """
        with closing(sqlite3.connect(self._db_path)) as db:
            rows = db.execute(
                "SELECT execution_name FROM executions WHERE function_name = ? AND status = ?",
                (FUNCTION_NAME, ExecutionStatus.RUNNING.value),
            ).fetchall()
        return [str(name) for (name,) in rows]

    def statuses(self) -> dict[str, str]:
        """Every execution's name (approval id) and status (RUNNING, SUCCEEDED, FAILED...)."""
        with closing(sqlite3.connect(self._db_path)) as db:
            rows = db.execute(
                "SELECT execution_name, status FROM executions WHERE function_name = ?",
                (FUNCTION_NAME,),
            ).fetchall()
        return {str(name): str(status) for name, status in rows}

    def created(self, name: str, step: str = "create-record") -> bool:
        """Whether the execution `name` finished its step `step`."""
        execution = self._find(name)
        return execution is not None and any(
            op.operation_type is OperationType.STEP
            and op.name == step
            and op.status is OperationStatus.SUCCEEDED
            for op in execution.operations
        )

    def recently_finished(self, limit: int) -> list[str]:
        """The names of the `limit` executions that finished last, newest first.

        Read from the store's table (the pinned testing package's schema): its query
        orders by start time only, and a long wait may have started long ago.
        """
        with closing(sqlite3.connect(self._db_path)) as db:
            rows = db.execute(
                "SELECT execution_name FROM executions"
                " WHERE function_name = ? AND status != ? AND end_timestamp IS NOT NULL"
                " ORDER BY end_timestamp DESC LIMIT ?",
                (FUNCTION_NAME, ExecutionStatus.RUNNING.value, limit),
            ).fetchall()
        return [str(name) for (name,) in rows]

    def _query(self, status: ExecutionStatus) -> list[Execution]:
        executions, _ = self._store.query(function_name=FUNCTION_NAME, status_filter=status.value)
        return list(executions)

    def recover(self) -> int:
        """Drive every running execution again after a restart; returns how many.

        The last run may have died anywhere: in a wait (its timer is gone), inside a
        step (STARTED, never finished) or between two operations (nothing pending).
        Each running execution gets its earliest pending timer re-armed, and a fresh
        invocation unless that timer or an outside completion (a callback, a chained
        invoke) will invoke it anyway. On that invocation the SDK replays what finished
        and runs a STARTED step again: steps are at least once, and ours are idempotent.
        No invocation of this process is in flight yet, so none is duplicated.

        Leans on the emulator's executor (pinned testing package, covered by a test).
        """
        executor = self.runner._executor
        executions = self._query(ExecutionStatus.RUNNING)
        for execution in executions:
            arn = execution.durable_execution_arn
            if _needs_invocation(execution):
                executor._invoke_execution(arn)
            executor._schedule_earliest_pending(arn)
            # A callback's timeout is a timer too, kept in memory and not re-armed by the
            # emulator (nor is its length stored): wake the workflow now instead. Its
            # doorbell only ever means "look at the record", so an early wake is safe.
            for callback_id in _pending_callbacks(execution):
                try:
                    self.runner.send_callback_success(callback_id, b'{"recovered": true}')
                except Exception:
                    log.warning("could not wake %s at recovery", arn, exc_info=True)
        return len(executions)


def _pending_callbacks(execution: Execution) -> list[str]:
    return [
        op.callback_details.callback_id
        for op in execution.operations
        if op.operation_type is OperationType.CALLBACK
        and op.status is OperationStatus.STARTED
        and op.callback_details is not None
    ]


def _needs_invocation(execution: Execution) -> bool:
    """Whether nothing already armed or awaited would invoke the handler again."""
    operations = execution.operations
    if any(
        op.operation_type is OperationType.STEP and op.status is OperationStatus.STARTED
        for op in operations
    ):
        return True  # killed inside a step
    if any(
        op.operation_type in (OperationType.CALLBACK, OperationType.CHAINED_INVOKE)
        and op.status is OperationStatus.STARTED
        for op in operations
    ):
        return False  # its completion invokes the handler
    # A wait or a retry due later has a timer (the one the executor arms); without one
    # the handler died between two operations, or after a timer fired and before it ran.
    return Executor._earliest_pending_timestamp(execution) is None
