"""The Slack Lambda handler (Function URL): clicks, modals and /signoff (AWS calls it as
slack_handler.app.handler)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from signoff import observability
from signoff.slack.request import handle_function_url
from signoff.wiring import github_door_from_env, slack_app_from_env

GITHUB_EVENTS = "/github/events"

if TYPE_CHECKING:  # an annotation only: not imported on a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = observability.logger()
metrics = observability.metrics()


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, clear_state=True
)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("rawPath") == GITHUB_EVENTS:  # the GitHub App's webhook, same URL
        from signoff.gates.http import handle_github

        return handle_github(github_door_from_env(), event)
    return handle_function_url(slack_app_from_env(), event, context)
