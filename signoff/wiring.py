"""The composition root: the only place that reads the environment and builds clients.

Handlers call the `*_from_env` functions; each builds its graph once per process
(once per Lambda sandbox) and reuses it on warm invocations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from signoff.config import Settings
from signoff.errors import ConfigError
from signoff.service import Approvals, system_clock
from signoff.store import DynamoApprovalStore

if TYPE_CHECKING:
    from signoff.notify import Notifier
    from signoff.slack_app import SlackApp
    from signoff.workflow import WorkflowDeps

# Fail fast inside Slack's 3-second budget rather than hang on a slow connection.
_BOTO_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard"})


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str
    signing_secret: str


def settings_from_env() -> Settings:
    return Settings.from_env(os.environ)


def build_store(settings: Settings, session: Any = None) -> DynamoApprovalStore:
    client = (session or boto3).client("dynamodb", config=_BOTO_CONFIG)
    return DynamoApprovalStore(client, settings.table, settings.retention)


def load_slack_secrets(secret_id: str) -> SlackSecrets:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, transform="json", max_age=300)
    if not isinstance(value, dict) or not value.get("bot_token") or not value.get("signing_secret"):
        raise ConfigError(f"secret {secret_id} must be JSON with bot_token and signing_secret")
    return SlackSecrets(str(value["bot_token"]), str(value["signing_secret"]))


def build_slack_client(settings: Settings, token: str) -> Any:
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=settings.slack_api_url, timeout=5)


def build_workflow_deps(settings: Settings) -> WorkflowDeps:
    from signoff.events import SnsPublisher
    from signoff.workflow import PollSchedule, WorkflowDeps

    return WorkflowDeps(
        approvals=Approvals(build_store(settings), system_clock, settings.default_channel),
        publisher=SnsPublisher(boto3.client("sns", config=_BOTO_CONFIG), settings.topic_arn),
        schedule=PollSchedule(settings.poll_initial_seconds, settings.poll_max_seconds),
    )


def build_notifier(settings: Settings) -> Notifier:
    from signoff.notify import Notifier

    secrets = load_slack_secrets(settings.slack_secret_id)
    client = build_slack_client(settings, secrets.bot_token)
    return Notifier(build_store(settings), client, system_clock)


def build_slack_app(settings: Settings) -> SlackApp:
    from signoff.slack_app import build_app

    secrets = load_slack_secrets(settings.slack_secret_id)
    return build_app(
        Approvals(build_store(settings), system_clock),
        signing_secret=secrets.signing_secret,
        client=build_slack_client(settings, secrets.bot_token),
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
