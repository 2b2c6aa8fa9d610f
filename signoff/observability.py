"""Logs and metrics, with Powertools for AWS Lambda: what the handlers and the core report.

- Logs are JSON lines on stdout (Powertools `Logger`), at `POWERTOOLS_LOG_LEVEL`. The
  core's stdlib loggers (`signoff.*`) go through the same handler and formatter, so one
  line carries the invocation's keys (correlation id, approval id, Slack user) whoever
  wrote it.
- Metrics are CloudWatch embedded metric format (EMF) blobs on stdout, namespace
  `signoff`. Each metric with its own dimensions is written at once (`single_metric`);
  the cold start is written by `log_metrics` at the end of the first invocation.

The core never imports Powertools: it reports through `Telemetry` (a small port), and
`NoTelemetry` is the default, so the CLI and the unit tests report nothing.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "signoff"
CORE_LOGGER = "signoff"  # the parent of every module logger in the core

# Metric names (CloudWatch namespace `signoff`).
APPROVALS_STARTED = "ApprovalsStarted"
APPROVALS_DECIDED = "ApprovalsDecided"  # dimension Outcome
CLICKS_REFUSED = "ClicksRefused"  # dimension Reason: the refusal's code (signoff.refusals)
WRITE_CONFLICTS = "WriteConflicts"
SLACK_API_ERRORS = "SlackApiErrors"  # dimensions Method, Code
REQUEST_TO_DECISION = "RequestToDecision"  # seconds; dimension Outcome
DECISION_TO_RESUME = "DecisionToResume"  # milliseconds


class Telemetry(Protocol):
    """What the core reports: log keys for the current invocation, and metrics."""

    def tag(self, **keys: str) -> None:
        """Add keys to every log line from here to the end of the invocation."""

    def correlate(self, correlation_id: str) -> None:
        """The id that ties this invocation's lines to the request or message that caused it."""

    def count(self, name: str, value: float = 1, **dimensions: str) -> None: ...

    def measure(self, name: str, value: float, unit: str, **dimensions: str) -> None: ...


class NoTelemetry:
    """Reports nothing (the CLI, tests of the core)."""

    def tag(self, **keys: str) -> None:
        pass

    def correlate(self, correlation_id: str) -> None:
        pass

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        pass

    def measure(self, name: str, value: float, unit: str, **dimensions: str) -> None:
        pass


class PowertoolsTelemetry:
    """Telemetry through one Powertools Logger and EMF metrics."""

    def __init__(self, logger: Logger, metrics: Metrics):
        self.logger = logger
        self.metrics = metrics

    def tag(self, **keys: str) -> None:
        self.logger.append_keys(**keys)

    def correlate(self, correlation_id: str) -> None:
        self.logger.set_correlation_id(correlation_id)

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        self.measure(name, value, "Count", **dimensions)

    def measure(self, name: str, value: float, unit: str, **dimensions: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        try:
            with single_metric(
                name=name,
                unit=MetricUnit(unit),
                value=value,
                namespace=NAMESPACE,
                default_dimensions=self._dimensions(),
            ) as metric:
                for key, dimension in dimensions.items():
                    metric.add_dimension(name=key, value=dimension or "none")
        except Exception:
            # A metric must never fail the work it reports on.
            logging.getLogger(__name__).warning("could not emit metric %s", name, exc_info=True)

    def _dimensions(self) -> dict[str, str]:
        return {"service": self.metrics.service or NAMESPACE}


@cache
def logger() -> Logger:
    """The process's Powertools Logger; the core's loggers are routed through it."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    log = Logger(utc=True)  # service and level: POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL
    logging.getLogger(CORE_LOGGER)  # registered, so the copy below finds it
    # When the service is named "signoff" the core's loggers are its children already
    # (Powertools names its logger after the service); otherwise they get its handler.
    copy_config_to_registered_loggers(source_logger=log, include={CORE_LOGGER})
    return log


@cache
def metrics() -> Metrics:
    import warnings

    from aws_lambda_powertools import Metrics

    # Our metrics are written as they happen (single_metric), so the end-of-invocation
    # flush usually has none left: that is expected, not worth a warning per invocation.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    return Metrics(namespace=NAMESPACE)


@cache
def telemetry() -> PowertoolsTelemetry:
    return PowertoolsTelemetry(logger(), metrics())
