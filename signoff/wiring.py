"""The composition root: the only place that reads the environment and builds clients.

Handlers call the `*_from_env` functions; each builds its graph once per process
(once per Lambda sandbox) and reuses it on warm invocations.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from signoff.config import Settings
from signoff.errors import ConfigError
from signoff.service import Approvals, system_clock
from signoff.store import DynamoApprovalStore

if TYPE_CHECKING:
    from signoff.doorbell import Doorbell
    from signoff.model import StartRequest
    from signoff.notify import Notifier
    from signoff.policy import PolicySource
    from signoff.slack_app import SlackApp
    from signoff.workflow import WorkflowDeps


@dataclass(frozen=True)
class Budget:
    """How long one path may wait on DynamoDB and Slack, retries included."""

    ddb_connect: float  # seconds, per attempt
    ddb_read: float  # seconds, per attempt
    ddb_attempts: int  # botocore total_max_attempts (standard mode, jittered backoff)
    slack_timeout: int  # seconds, per Web API attempt (WebClient's timeout)
    slack_retries: int  # retries after a 5xx, a connection error or (below) a 429
    slack_max_retry_after: int  # a 429 is retried only when Retry-After is at most this

    def boto_config(self) -> Config:
        return Config(
            connect_timeout=self.ddb_connect,
            read_timeout=self.ddb_read,
            retries={"mode": "standard", "total_max_attempts": self.ddb_attempts},
        )


# The click path (slack_handler): Slack wants the HTTP answer within 3 s, and with
# process_before_response the answer waits for the whole listener. A click is one
# GetItem, one TransactWriteItems and one doorbell ring (Lambda's callback API); a
# refusal adds one POST to the response_url, a Reject click one views.open. The
# message itself is re-rendered later by the notifier. With one failing dependency
# at a time, the worst cases add up to:
#   DynamoDB failing: a call that times out twice = 2 attempts x (0.25 connect +
#     0.5 read) = 1.5 s (+ 25 ms backoff); throttled twice = 2 fast answers + <= 1 s
#     jittered backoff. The click is then answered "try again".
#   The doorbell failing: one attempt, 1 s connect + 1 s read at most
#     (build_doorbell); DynamoDB answering takes ~0.05 s: about 2.1 s. A lost ring
#     only delays the workflow to its safety poll.
#   Slack failing (views.open after Reject): 2 attempts x 1 s + <= 0.5 s backoff
#     after ~0.05 s of DynamoDB = 2.55 s. A read timeout ends the call at 1 s
#     (slack-sdk does not retry it); a 429 is not retried here (Retry-After >= 1 s).
# All stay below 3 s.
CLICK = Budget(
    ddb_connect=0.25,
    ddb_read=0.5,
    ddb_attempts=2,
    slack_timeout=1,
    slack_retries=1,
    slack_max_retry_after=0,
)

# The notifier (30 s Lambda timeout; SNS retries a failed delivery) and the workflow
# (60 s; the durable SDK retries failed steps and the wait polls again). Per call:
#   DynamoDB: 4 attempts x (1 connect + 2 read) = 12 s worst; throttling backoff
#     <= 1 + 2 + 4 s; a failure usually answers in milliseconds.
#   Slack: a read timeout ends the call at 5 s (not retried: the request may have
#     reached Slack); up to 2 retries in all after 5xx, connection errors or a 429
#     whose Retry-After <= 5 s (slack-sdk sleeps Retry-After + <= 1 s jitter):
#     <= 5 + 2 x (5 + 1) = 17 s. A longer Retry-After fails the delivery at once
#     and SNS delivers it again later.
BACKGROUND = Budget(
    ddb_connect=1,
    ddb_read=2,
    ddb_attempts=4,
    slack_timeout=5,
    slack_retries=2,
    slack_max_retry_after=5,
)


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str
    signing_secret: str


def settings_from_env() -> Settings:
    return Settings.from_env(os.environ)


def build_store(
    settings: Settings, session: Any = None, budget: Budget = BACKGROUND
) -> DynamoApprovalStore:
    client = (session or boto3).client("dynamodb", config=budget.boto_config())
    return DynamoApprovalStore(client, settings.table, settings.retention)


# At DEBUG, botocore logs every request body and every response body in full, Secrets
# Manager's SecretString included. Those two loggers stay at INFO even when the rest
# of the process logs at DEBUG (Lambda's log level setting, a developer's basicConfig).
_WIRE_BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")


def quiet_wire_logs() -> None:
    """Keep secrets read or written through boto3 out of DEBUG logs."""
    for name in _WIRE_BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def load_slack_secrets(secret_id: str) -> SlackSecrets:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    quiet_wire_logs()
    # A client from boto3's default session shares its loaded service models with the
    # handler's other clients (Powertools' own session would load them again, cold).
    provider = SecretsProvider(
        boto3_client=boto3.client("secretsmanager", config=BACKGROUND.boto_config())
    )
    value = provider.get(secret_id, transform="json", max_age=300)
    if not isinstance(value, dict) or not value.get("bot_token") or not value.get("signing_secret"):
        raise ConfigError(f"secret {secret_id} must be JSON with bot_token and signing_secret")
    return SlackSecrets(str(value["bot_token"]), str(value["signing_secret"]))


def build_slack_client(settings: Settings, token: str, budget: Budget = BACKGROUND) -> Any:
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
        """Retries a 429 only when its Retry-After fits the budget (it sleeps that long)."""

        def _can_retry(
            self, *, state: Any, request: Any, response: Any = None, error: Any = None
        ) -> bool:
            if response is None or response.status_code != 429:
                return False
            wait = next(
                (v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"]
            )
            try:
                return int(wait[0]) <= budget.slack_max_retry_after
            except (TypeError, ValueError, IndexError):
                return False

    # All handlers share one attempt counter: slack_retries bounds the retries in total.
    handlers = [
        ConnectionErrorRetryHandler(max_retry_count=budget.slack_retries),
        ServerErrorRetryHandler(max_retry_count=budget.slack_retries),
    ]
    if budget.slack_max_retry_after > 0:
        handlers.append(BoundedRateLimitRetryHandler(max_retry_count=budget.slack_retries))
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=budget.slack_timeout,
        retry_handlers=handlers,
    )


def build_policies(settings: Settings, budget: Budget = BACKGROUND) -> PolicySource:
    """The deployment's policy document: a file locally, an SSM parameter on AWS, or none."""
    from pathlib import Path

    from signoff.policy import FilePolicies, NoPolicies, SsmPolicies

    if settings.policies_file:
        return FilePolicies(Path(settings.policies_file))
    if settings.policies_parameter:
        return SsmPolicies(
            settings.policies_parameter,
            lambda: boto3.client("ssm", config=budget.boto_config()),
        )
    return NoPolicies()


def build_kickoff(settings: Settings) -> Callable[[StartRequest], StartRequest]:
    """Kickoff's rules: the policy document, and user groups looked up in Slack."""
    from signoff.policy import SlackGroups, resolve

    policies = build_policies(settings)

    @cache
    def slack() -> Any:  # only a request that names a group needs the token
        return build_slack_client(settings, load_slack_secrets(settings.slack_secret_id).bot_token)

    groups = SlackGroups(slack)
    return lambda request: resolve(request, policies.load(), groups)


def build_workflow_deps(settings: Settings) -> WorkflowDeps:
    from signoff.events import SnsPublisher
    from signoff.workflow import PollSchedule, WorkflowDeps

    return WorkflowDeps(
        approvals=Approvals(build_store(settings), system_clock, settings.default_channel),
        publisher=SnsPublisher(
            boto3.client("sns", config=BACKGROUND.boto_config()), settings.topic_arn
        ),
        schedule=PollSchedule(
            settings.poll_initial_seconds, settings.poll_max_seconds, settings.poll_backoff
        ),
        doorbell=settings.doorbell,
        kickoff=build_kickoff(settings),
    )


def build_doorbell(settings: Settings) -> Doorbell:
    """What rings the waiting workflow after a decision (the Lambda API; locally the stack)."""
    from signoff.doorbell import LambdaDoorbell, NoDoorbell

    if not settings.doorbell:
        return NoDoorbell()
    # On the click path: one quick try. A lost ring costs at most one safety-poll interval.
    config = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})
    return LambdaDoorbell(lambda: boto3.client("lambda", config=config))


def build_notifier(settings: Settings) -> Notifier:
    from signoff.notify import Notifier

    secrets = load_slack_secrets(settings.slack_secret_id)
    client = build_slack_client(settings, secrets.bot_token)
    lease = timedelta(seconds=settings.post_claim_lease_seconds)
    return Notifier(Approvals(build_store(settings), system_clock), client, lease)


def build_slack_app(settings: Settings) -> SlackApp:
    from signoff.slack_app import build_app

    secrets = load_slack_secrets(settings.slack_secret_id)
    policies = build_policies(settings, CLICK)
    return build_app(
        Approvals(
            build_store(settings, budget=CLICK),
            system_clock,
            doorbell=build_doorbell(settings),
            admins=lambda: policies.load().admins,
        ),
        signing_secret=secrets.signing_secret,
        client=build_slack_client(settings, secrets.bot_token, CLICK),
    )


@cache
def workflow_deps_from_env() -> WorkflowDeps:
    return build_workflow_deps(settings_from_env())


@cache
def notifier_from_env() -> Notifier:
    return build_notifier(settings_from_env())


@cache
def slack_app_from_env() -> SlackApp:
    return build_slack_app(settings_from_env())


def reset() -> None:
    """Forget the per-process graphs (after the environment changed: tests, restarts)."""
    workflow_deps_from_env.cache_clear()
    notifier_from_env.cache_clear()
    slack_app_from_env.cache_clear()
