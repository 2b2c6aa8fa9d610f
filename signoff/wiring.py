"""The composition root: the only place that reads the environment and builds clients.

Handlers call the `*_from_env` functions; each builds its graph once per process
(once per Lambda sandbox) and reuses it on warm invocations.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from signoff.config import Settings
from signoff.errors import ConfigError
from signoff.frozen import frozen
from signoff.observability import SLACK_API_ERRORS, NoTelemetry, Telemetry
from signoff.service import Approvals, system_clock
from signoff.store import DynamoApprovalStore

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from signoff.doorbell import Doorbell
    from signoff.gates import Gate, Gates
    from signoff.gates.codepipeline import CodePipelineIntake
    from signoff.gates.github import GitHubDoor
    from signoff.model import StartRequest
    from signoff.notify import Notifier
    from signoff.policy import PolicySource, SlackGroups
    from signoff.slack.app import SlackApp
    from signoff.workflow import WorkflowDeps


@frozen
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

# POST /github/events: GitHub gives a webhook 10 s. The door reads the webhook secret
# (cached), puts the delivery (2 attempts x (0.5 connect + 1.5 read) = 4 s at worst) and
# invokes the workflow asynchronously (below: 2 x (0.5 + 2) = 5 s at worst): 9 s.
WEBHOOK = Budget(
    ddb_connect=0.5,
    ddb_read=1.5,
    ddb_attempts=2,
    slack_timeout=1,
    slack_retries=0,
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


@frozen
class SlackSecrets:
    bot_token: str
    signing_secret: str


def settings_from_env() -> Settings:
    return Settings.from_env(os.environ)


def _client(service: str, config: Config) -> Any:
    """A client from boto3's default session: one session, so service models load once,
    and hooks registered on it (the local stack's crash points) see every call."""
    import boto3

    return boto3.client(service, config=config)


def build_store(
    settings: Settings, session: Any = None, budget: Budget = BACKGROUND
) -> DynamoApprovalStore:
    config = budget.boto_config()
    client = session.client("dynamodb", config=config) if session else _client("dynamodb", config)
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


def _checked_secrets(secret_id: str, value: Any) -> SlackSecrets:
    if not isinstance(value, dict) or not value.get("bot_token") or not value.get("signing_secret"):
        raise ConfigError(f"secret {secret_id} must be JSON with bot_token and signing_secret")
    return SlackSecrets(str(value["bot_token"]), str(value["signing_secret"]))


class SlackSecretSource:
    """The Slack secret as Secrets Manager has it now, so a rotation needs no redeploy.

    Read through Powertools Parameters, cached for `max_age` seconds and then read again.
    `refresh()` reads it at once (a signature that fails may have been made with a secret
    rotated since the last read) but at most once every `refresh_interval` seconds, so a
    stream of forged requests costs at most one GetSecretValue per interval.
    """

    def __init__(
        self,
        secret_id: str,
        max_age: int = 300,
        refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        quiet_wire_logs()
        self.secret_id = secret_id
        self._max_age = max_age
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._last_refresh: float | None = None
        self._lock = threading.Lock()
        # A client from the default session shares its loaded service models with the
        # handler's other clients (Powertools' own session would load them again, cold).
        self._provider = SecretsProvider(
            boto3_client=_client("secretsmanager", BACKGROUND.boto_config())
        )

    def current(self) -> SlackSecrets:
        value = self._provider.get(self.secret_id, transform="json", max_age=self._max_age)
        return _checked_secrets(self.secret_id, value)

    def refresh(self) -> bool:
        """Read the secret again now, unless that was done less than an interval ago.

        Returns whether a different value was read.
        """
        with self._lock:
            now = self._clock()
            if self._last_refresh is not None and now - self._last_refresh < self._refresh_interval:
                return False
            self._last_refresh = now
            before = self.current()
            value = self._provider.get(
                self.secret_id, transform="json", max_age=self._max_age, force_fetch=True
            )
            return _checked_secrets(self.secret_id, value) != before


def load_slack_secrets(secret_id: str) -> SlackSecrets:
    """The Slack secret, read once (the CLI and tools that need it once)."""
    return SlackSecretSource(secret_id).current()


def build_slack_client(
    settings: Settings,
    token: str,
    budget: Budget = BACKGROUND,
    telemetry: Telemetry | None = None,
) -> WebClient:
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )
    from slack_sdk.http_retry.handler import RetryHandler

    observe = telemetry or NoTelemetry()

    class SlackErrorCounter(RetryHandler):
        """Counts every failed Web API attempt by method and Slack's error code; never retries.

        slack-sdk shows each answer to the retry handlers (an `ok: false` one too), and Bolt
        copies them into the client it makes per request: one place sees every call.
        """

        def can_retry(
            self, *, state: Any, request: Any, response: Any = None, error: Any = None
        ) -> bool:
            method = str(getattr(request, "url", "")).rsplit("/", 1)[-1].split("?")[0]
            if error is not None:
                observe.count(SLACK_API_ERRORS, Method=method, Code=type(error).__name__)
            elif response is not None:
                body = response.body if isinstance(response.body, dict) else {}
                if response.status_code != 200 or not body.get("ok", False):
                    code = str(body.get("error") or f"http_{response.status_code}")
                    observe.count(SLACK_API_ERRORS, Method=method, Code=code[:64])
            return False

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
        SlackErrorCounter(max_retry_count=0),  # first: it sees every answer, then declines
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
            lambda: _client("ssm", budget.boto_config()),
        )
    return NoPolicies()


def build_groups(settings: Settings) -> SlackGroups:
    """User groups looked up in Slack (kickoff's groups, and an escalation's)."""
    from signoff.policy import SlackGroups

    @cache
    def slack() -> Any:  # only a request that names a group needs the token
        return build_slack_client(settings, load_slack_secrets(settings.slack_secret_id).bot_token)

    return SlackGroups(slack)


def build_kickoff(settings: Settings) -> Callable[[StartRequest], StartRequest]:
    """Kickoff's rules: the policy document, and user groups looked up in Slack."""
    from signoff.policy import resolve

    policies = build_policies(settings)
    groups = build_groups(settings)
    return lambda request: resolve(request, policies.load(), groups)


def build_workflow_deps(settings: Settings, telemetry: Telemetry | None = None) -> WorkflowDeps:
    from signoff.events import SnsPublisher
    from signoff.workflow import PollSchedule, WorkflowDeps

    observe = telemetry or NoTelemetry()
    return WorkflowDeps(
        approvals=Approvals(
            build_store(settings), system_clock, settings.default_channel, telemetry=observe
        ),
        publisher=SnsPublisher(_client("sns", BACKGROUND.boto_config()), settings.topic_arn),
        schedule=PollSchedule(
            settings.poll_initial_seconds, settings.poll_max_seconds, settings.poll_backoff
        ),
        doorbell=settings.doorbell,
        kickoff=build_kickoff(settings),
        telemetry=observe,
        groups=build_groups(settings),
    )


def build_doorbell(settings: Settings) -> Doorbell:
    """What rings the waiting workflow after a decision (the Lambda API; locally the stack)."""
    from signoff.doorbell import LambdaDoorbell, NoDoorbell

    if not settings.doorbell:
        return NoDoorbell()
    # On the click path: one quick try. A lost ring costs at most one safety-poll interval.
    config = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})
    return LambdaDoorbell(lambda: _client("lambda", config))


def secret_source(settings: Settings) -> SlackSecretSource:
    return SlackSecretSource(
        settings.slack_secret_id,
        max_age=settings.secret_max_age_seconds,
        refresh_interval=settings.secret_refresh_seconds,
    )


class Notifiers:
    """The notifier for the bot token the secret holds now (a new client when it rotates)."""

    def __init__(self, settings: Settings, telemetry: Telemetry | None = None):
        self._settings = settings
        self._telemetry = telemetry or NoTelemetry()
        self._secrets = secret_source(settings)
        self._store = build_store(settings)
        self._current: tuple[str, Notifier] | None = None

    def current(self) -> Notifier:
        from signoff.notify import Notifier

        token = self._secrets.current().bot_token
        if self._current is None or self._current[0] != token:
            client = build_slack_client(self._settings, token, telemetry=self._telemetry)
            lease = timedelta(seconds=self._settings.post_claim_lease_seconds)
            window = self._settings.home_window_seconds
            gates = build_gates(self._settings)
            notifier = Notifier(
                self._store, client, lease, self._telemetry, gates=gates, home_window=window
            )
            self._current = (token, notifier)
        return self._current[1]


def build_notifier(settings: Settings, telemetry: Telemetry | None = None) -> Notifier:
    return Notifiers(settings, telemetry).current()


def build_slack_app(settings: Settings, telemetry: Telemetry | None = None) -> SlackApp:
    from signoff.slack.app import build_app

    observe = telemetry or NoTelemetry()
    secrets = secret_source(settings)
    # Only a cancel by someone other than the requester reads the policy document (its
    # admins): built then, so a cold start does not import the policy module for a click.
    policies = cache(lambda: build_policies(settings, CLICK))
    first = secrets.current()
    return build_app(
        Approvals(
            build_store(settings, budget=CLICK),
            system_clock,
            doorbell=build_doorbell(settings),
            admins=lambda: policies().load().admins,
            telemetry=observe,
        ),
        signing_secret=lambda: secrets.current().signing_secret,
        bot_token=lambda: secrets.current().bot_token,
        refresh_secret=secrets.refresh,
        client=build_slack_client(settings, first.bot_token, CLICK, observe),
        telemetry=observe,
    )


class JsonSecret:
    """One key of a JSON secret in Secrets Manager, read again after `max_age` seconds."""

    def __init__(self, secret_id: str, max_age: int = 300):
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        quiet_wire_logs()
        self.secret_id = secret_id
        self._max_age = max_age
        self._provider = SecretsProvider(
            boto3_client=_client("secretsmanager", BACKGROUND.boto_config())
        )

    def value(self) -> dict[str, Any]:
        value = self._provider.get(self.secret_id, transform="json", max_age=self._max_age)
        if not isinstance(value, dict):
            raise ConfigError(f"secret {self.secret_id} must be a JSON object")
        return value


def build_gates(settings: Settings) -> Gates:
    """The deployment's CI gates: GitHub's when its App secret is configured."""
    from signoff.gates import Gates

    github = settings.github
    ci = build_ci_gates(settings)
    if github is None or not github.app_secret_id:
        return Gates(*ci)
    from signoff.gates.github import GitHubGate, check_app_credentials

    secret = JsonSecret(github.app_secret_id, settings.secret_max_age_seconds)
    return Gates(
        GitHubGate(lambda: check_app_credentials(secret.secret_id, secret.value()), github.api_url),
        *ci,
    )


def build_ci_gates(settings: Settings) -> list[Gate]:
    """The gates a request files itself (`--on-approve`) or CodePipeline's notification
    files: each where its secret (or grant) is configured."""
    ci = settings.ci_gates
    gates: list[Gate] = []
    if ci.dispatch_secret_id:
        from signoff.gates.dispatch import GitHubDispatchGate, dispatch_token

        dispatch = JsonSecret(ci.dispatch_secret_id, settings.secret_max_age_seconds)
        gates.append(
            GitHubDispatchGate(
                lambda: dispatch_token(dispatch.secret_id, dispatch.value()), ci.github_api_url
            )
        )
    if ci.gitlab_secret_id:
        from signoff.gates.gitlab import GitLabPlayGate, gitlab_token

        gitlab = JsonSecret(ci.gitlab_secret_id, settings.secret_max_age_seconds)
        gates.append(
            GitLabPlayGate(
                lambda project: gitlab_token(gitlab.secret_id, gitlab.value(), project),
                ci.gitlab_api_url,
            )
        )
    if ci.codepipeline:
        from signoff.gates.codepipeline import CodePipelineGate

        gates.append(CodePipelineGate(lambda: _client("codepipeline", BACKGROUND.boto_config())))
    return gates


def build_github_door(settings: Settings) -> GitHubDoor | None:
    """POST /github/events: None when the deployment has no GitHub webhook secret."""
    github = settings.github
    if github is None or not github.webhook_secret_id:
        return None
    from signoff.gates.deliveries import DynamoDeliveries
    from signoff.gates.github import DELIVERY_RETENTION, GitHubDoor, Route, Routes
    from signoff.gates.start import LambdaStarter

    secret = JsonSecret(github.webhook_secret_id, settings.secret_max_age_seconds)

    def webhook_secret() -> str:
        value = secret.value().get("webhook_secret")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"secret {secret.secret_id} must be JSON with webhook_secret")
        return value

    if not github.workflow_function_arn:
        raise ConfigError("the GitHub gate needs SIGNOFF_WORKFLOW_FUNCTION_ARN to start workflows")
    # An asynchronous Invoke answers in tens of milliseconds; WEBHOOK says the worst case.
    config = Config(connect_timeout=0.5, read_timeout=2, retries={"total_max_attempts": 2})
    starter = LambdaStarter(cache(lambda: _client("lambda", config)), github.workflow_function_arn)
    policies = build_policies(settings, WEBHOOK)
    fallback = (
        (Route(repository="*", environment="*", approvers=github.default_approvers),)
        if github.default_approvers
        else ()
    )

    def routes() -> Routes:
        found = policies.load().github
        if found.routes or not fallback:
            return found
        return Routes(
            routes=fallback, users=found.users, default_requester=github.default_requester
        )

    return GitHubDoor(
        secret=webhook_secret,
        deliveries=DynamoDeliveries(
            _client("dynamodb", WEBHOOK.boto_config()),
            settings.table,
            DELIVERY_RETENTION,
            system_clock,
        ),
        starter=starter,
        routes=routes,
        api_url=github.api_url,
    )


def _telemetry() -> Telemetry:
    from signoff.observability import telemetry

    return telemetry()


@cache
def workflow_deps_from_env() -> WorkflowDeps:
    return build_workflow_deps(settings_from_env(), _telemetry())


@cache
def _notifiers_from_env() -> Notifiers:
    return Notifiers(settings_from_env(), _telemetry())


def notifier_from_env() -> Notifier:
    return _notifiers_from_env().current()


@cache
def slack_app_from_env() -> SlackApp:
    return build_slack_app(settings_from_env(), _telemetry())


@cache
def codepipeline_intake_from_env() -> CodePipelineIntake | None:
    return build_codepipeline_intake(settings_from_env())


def build_codepipeline_intake(settings: Settings) -> CodePipelineIntake | None:
    """The notifier's intake of CodePipeline approval notifications: None unless the
    deployment names the pipelines' topic."""
    ci = settings.ci_gates
    if not ci.codepipeline_topic_arn:
        return None
    from signoff.gates.codepipeline import CodePipelineIntake, CodePipelineRoute
    from signoff.gates.start import LambdaStarter

    if not (ci.codepipeline_policy or ci.codepipeline_approvers):
        raise ConfigError(
            "SIGNOFF_CODEPIPELINE_TOPIC_ARN needs SIGNOFF_CODEPIPELINE_POLICY or "
            "SIGNOFF_CODEPIPELINE_APPROVERS: who approves a pipeline's requests"
        )
    if not ci.workflow_function_arn:
        raise ConfigError("the CodePipeline intake needs SIGNOFF_WORKFLOW_FUNCTION_ARN")
    starter = LambdaStarter(
        cache(lambda: _client("lambda", BACKGROUND.boto_config())), ci.workflow_function_arn
    )
    route = CodePipelineRoute(policy=ci.codepipeline_policy, approvers=ci.codepipeline_approvers)
    return CodePipelineIntake(ci.codepipeline_topic_arn, route, starter, system_clock)


@cache
def github_door_from_env() -> GitHubDoor | None:
    return build_github_door(settings_from_env())


def reset() -> None:
    """Forget the per-process graphs (after the environment changed: tests, restarts)."""
    workflow_deps_from_env.cache_clear()
    _notifiers_from_env.cache_clear()
    slack_app_from_env.cache_clear()
    github_door_from_env.cache_clear()
