"""The notifier's Lambda handler, subscribed to the SNS topic: posts and updates Slack
messages (AWS calls it as notifier.app.handler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from signoff import observability
from signoff.wiring import codepipeline_intake_from_env, notifier_from_env

logger = observability.logger()
metrics = observability.metrics()


# The correlation id is each SNS record's message id (set per record by the notifier).
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    intake = codepipeline_intake_from_env()  # the pipelines' approval topic, if subscribed
    if intake is not None:
        event = intake.take(event)
    return {"handled": notifier_from_env().handle_sns_event(event)}
