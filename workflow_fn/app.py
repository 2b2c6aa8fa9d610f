"""Lambda entry point of the durable approval workflow."""

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from signoff.wiring import workflow_deps_from_env
from signoff.workflow import run_approval


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    return run_approval(event, context, workflow_deps_from_env())
