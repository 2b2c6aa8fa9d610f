"""The durable approval workflow's Lambda handler (AWS calls it as workflow_fn.app.handler)."""

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from signoff import observability
from signoff.wiring import workflow_deps_from_env
from signoff.workflow import run_approval

logger = observability.logger()
metrics = observability.metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    context.set_logger(logger)  # replay-aware: a replay does not repeat what was logged
    return run_approval(event, context, workflow_deps_from_env())
