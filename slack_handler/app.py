"""Lambda entry point for Slack (Function URL): clicks, modals and /signoff."""

from typing import Any

from signoff.slack_app import handle_function_url
from signoff.wiring import slack_app_from_env


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_function_url(slack_app_from_env(), event, context)
