"""Lambda entry point subscribed to the SNS topic (body: signoff.handlers.notifier)."""

from signoff.handlers.notifier import handler

__all__ = ["handler"]
