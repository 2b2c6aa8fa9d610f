"""Lambda entry point for Slack, clicks, modals and /signoff (body: signoff.handlers.slack)."""

from signoff.handlers.slack import handler

__all__ = ["handler"]
