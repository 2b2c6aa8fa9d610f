"""The local workspace Slack would be: its team, app and bot user, and how ids are made."""

from __future__ import annotations

from typing import Any

TEAM = {"id": "T0LOCAL", "domain": "signoff-local"}
APP_ID = "A0SIGNOFF"
BOT_USER = "U0SIGNOFFBOT"
DEFAULT_CHANNEL = "approvals"  # the local stack's default channel


class StandInError(Exception):
    pass


def dm_channel(user: str) -> str:
    """The id of the direct-message channel between the bot and `user`."""
    return f"D{user}"


def slack_user(user: str) -> dict[str, Any]:
    """A user as Slack names one in an interaction payload."""
    return {"id": user, "username": user, "name": user, "team_id": TEAM["id"]}
