"""The local stack's console: the emulator's routine callback timeouts at debug level."""

from __future__ import annotations

import logging

import pytest

from signoff.local.durable import quiet_routine_timeouts

EMULATOR = "aws_durable_execution_sdk_python_testing.executor"


def test_a_routine_callback_timeout_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    quiet_routine_timeouts()
    emulator = logging.getLogger(EMULATOR)
    with caplog.at_level(logging.INFO, logger=EMULATOR):
        emulator.warning("[%s] Callback %s timed out", "arn:x", "cb-1")
        emulator.warning("[%s] Execution timed out.", "arn:x")  # not routine: kept
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "[arn:x] Execution timed out.")
    ]
    with caplog.at_level(logging.DEBUG, logger=EMULATOR):
        caplog.clear()
        emulator.warning("[%s] Callback %s timed out", "arn:x", "cb-2")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DEBUG", "[arn:x] Callback cb-2 timed out")
    ]
