"""Lambda entry point of the durable approval workflow (body: signoff.handlers.workflow)."""

from signoff.handlers.workflow import handler

__all__ = ["handler"]
