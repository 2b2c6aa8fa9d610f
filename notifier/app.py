"""Lambda entry point subscribed to the SNS topic: posts and updates Slack messages."""

from typing import Any

from signoff.wiring import notifier_from_env


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return {"handled": notifier_from_env().handle_sns_event(event)}
