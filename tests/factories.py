"""Test data builders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from signoff.model import StartRequest


def start_request(approval_id: str = "apr-test", **overrides: Any) -> StartRequest:
    """A valid request: U0REQ asks, U0A may decide, 30 minutes to do it."""
    values: dict[str, Any] = {
        "id": approval_id,
        "title": "Deploy api",
        "requester": "U0REQ",
        "approvers": ("U0A",),
        "channel": "approvals",
        "timeout": timedelta(minutes=30),
    }
    values.update(overrides)
    return StartRequest(**values)


class Bell:
    """A doorbell that records what was rung (a fake of the port, for the service's tests)."""

    def __init__(self) -> None:
        self.rung: list[str] = []

    def ring(self, callback_id: str) -> bool:
        self.rung.append(callback_id)
        return True
