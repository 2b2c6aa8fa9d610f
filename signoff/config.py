"""Settings, parsed once from an environment mapping into a frozen object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import timedelta

from signoff.errors import ConfigError
from signoff.frozen import frozen
from signoff.gates.settings import CiGateSettings

SLACK_API_DEFAULT = "https://slack.com/api/"


@frozen
class Settings:
    table: str
    topic_arn: str
    slack_secret_id: str
    default_channel: str = "approvals"
    slack_api_url: str = SLACK_API_DEFAULT
    # The workflow's safety poll (see signoff/workflow.py): with the doorbell on, a
    # decision wakes it at once and these only bound how late a lost ring is noticed.
    doorbell: bool = True
    poll_initial_seconds: int = 60
    poll_max_seconds: int = 4 * 3600
    poll_backoff: float = 2.0
    retention: timedelta = timedelta(days=90)
    post_claim_lease_seconds: int = 60
    # The deployment's policy document: an SSM parameter (AWS) or a file (the local stack).
    policies_parameter: str = ""
    policies_file: str = ""
    # The Slack secret is read again after this long, so a rotation needs no redeploy;
    # and at once after a failed signature, at most once per refresh interval.
    secret_max_age_seconds: int = 300
    secret_refresh_seconds: int = 30
    # Seconds between two publishes of one person's Home tab (signoff/homes.py); 0: one per
    # event. Only a process that keeps running between events (the local stack) coalesces:
    # a Lambda container is frozen once its handler returns.
    home_window_seconds: float = 0.0
    # The GitHub gate (signoff/gates/github.py): its secrets, its API, and how the Slack
    # function starts a workflow (the workflow function's alias ARN).
    github: GitHubSettings | None = None
    ci_gates: CiGateSettings = field(default_factory=CiGateSettings)  # dispatch, GitLab, ...

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        required = {
            "SIGNOFF_TABLE": "the DynamoDB table name",
            "SIGNOFF_TOPIC_ARN": "the SNS topic ARN",
            "SIGNOFF_SLACK_SECRET_ID": "the Secrets Manager secret holding the Slack tokens",
        }
        missing = [f"{name} ({what})" for name, what in required.items() if not env.get(name)]
        if missing:
            raise ConfigError("missing settings: " + ", ".join(missing))
        try:
            poll_initial = int(
                env.get("SIGNOFF_POLL_INITIAL_SECONDS", str(cls.poll_initial_seconds))
            )
            poll_max = int(env.get("SIGNOFF_POLL_MAX_SECONDS", str(cls.poll_max_seconds)))
            backoff = float(env.get("SIGNOFF_POLL_BACKOFF", str(cls.poll_backoff)))
            retention_days = int(env.get("SIGNOFF_RETENTION_DAYS", "90"))
            lease = int(env.get("SIGNOFF_POST_CLAIM_LEASE_SECONDS", "60"))
            secret_max_age = int(env.get("SIGNOFF_SECRET_MAX_AGE_SECONDS", "300"))
            secret_refresh = int(env.get("SIGNOFF_SECRET_REFRESH_SECONDS", "30"))
            home_window = float(env.get("SIGNOFF_HOME_WINDOW_SECONDS", "0"))
        except ValueError as exc:
            raise ConfigError(f"a numeric setting is not a number: {exc}") from exc
        if not 1 <= poll_initial <= poll_max:
            raise ConfigError("need 1 <= SIGNOFF_POLL_INITIAL_SECONDS <= SIGNOFF_POLL_MAX_SECONDS")
        if not 1.0 <= backoff <= 10.0:
            raise ConfigError("SIGNOFF_POLL_BACKOFF must be between 1 and 10")
        doorbell = env.get("SIGNOFF_DOORBELL", "on").strip().lower()
        if doorbell not in ("on", "off"):
            raise ConfigError("SIGNOFF_DOORBELL must be on or off")
        if lease < 1:
            raise ConfigError("SIGNOFF_POST_CLAIM_LEASE_SECONDS must be at least 1")
        if secret_max_age < 1 or secret_refresh < 0:
            raise ConfigError(
                "need SIGNOFF_SECRET_MAX_AGE_SECONDS >= 1 and SIGNOFF_SECRET_REFRESH_SECONDS >= 0"
            )
        if not 0 <= home_window <= 60:
            raise ConfigError("SIGNOFF_HOME_WINDOW_SECONDS must be between 0 and 60")
        if env.get("AWS_LAMBDA_FUNCTION_NAME"):  # on Lambda: AWS's durable limits apply
            _check_poll_budget(poll_initial, poll_max, backoff)
        api_url = env.get("SIGNOFF_SLACK_API_URL") or SLACK_API_DEFAULT
        return cls(
            table=env["SIGNOFF_TABLE"],
            topic_arn=env["SIGNOFF_TOPIC_ARN"],
            slack_secret_id=env["SIGNOFF_SLACK_SECRET_ID"],
            default_channel=env.get("SIGNOFF_DEFAULT_CHANNEL") or "approvals",
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            doorbell=doorbell == "on",
            poll_initial_seconds=poll_initial,
            poll_max_seconds=poll_max,
            poll_backoff=backoff,
            retention=timedelta(days=retention_days),
            post_claim_lease_seconds=lease,
            policies_parameter=env.get("SIGNOFF_POLICIES_PARAMETER", ""),
            policies_file=env.get("SIGNOFF_POLICIES_FILE", ""),
            secret_max_age_seconds=secret_max_age,
            secret_refresh_seconds=secret_refresh,
            home_window_seconds=home_window,
            github=GitHubSettings.from_env(env),
            ci_gates=CiGateSettings.from_env(env),
        )


@frozen(kw_only=True)
class GitHubSettings:
    webhook_secret_id: str = ""  # Secrets Manager: {"webhook_secret": ...} (Slack function)
    app_secret_id: str = ""  # Secrets Manager: {"app_id", "private_key"} (notifier)
    api_url: str = "https://api.github.com"
    workflow_function_arn: str = ""
    # Local stack only: who approves a webhook no `github:` route matches, and who asks.
    default_approvers: tuple[str, ...] = ()
    default_requester: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHubSettings | None:
        webhook = env.get("SIGNOFF_GITHUB_WEBHOOK_SECRET_ID", "")
        app = env.get("SIGNOFF_GITHUB_APP_SECRET_ID", "")
        if not (webhook or app):
            return None
        api_url = (env.get("SIGNOFF_GITHUB_API_URL") or cls.api_url).rstrip("/")
        if not api_url.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
            raise ConfigError("SIGNOFF_GITHUB_API_URL must be an https:// URL")
        approvers = env.get("SIGNOFF_GITHUB_DEFAULT_APPROVERS", "")
        return cls(
            webhook_secret_id=webhook,
            app_secret_id=app,
            api_url=api_url,
            workflow_function_arn=env.get("SIGNOFF_WORKFLOW_FUNCTION_ARN", ""),
            default_approvers=tuple(a for a in approvers.split(",") if a),
            default_requester=env.get("SIGNOFF_GITHUB_DEFAULT_REQUESTER", ""),
        )


def _check_poll_budget(initial: int, maximum: int, backoff: float) -> None:
    """On Lambda, the safety poll alone must keep the longest request within the durable
    operations AWS allows an execution (signoff/limits.py): a 60 s maximum poll would take
    some 30,000 operations over 7 days. The local stack polls faster on purpose; its
    emulator enforces no limits, and Lambda's runtime variables are not set there."""
    from signoff.limits import MAX_OPERATIONS, OPERATIONS_BUDGET, operations
    from signoff.model import MAX_TIMEOUT

    spent = operations(MAX_TIMEOUT, poll_initial=initial, poll_max=maximum, poll_backoff=backoff)
    if spent > OPERATIONS_BUDGET:
        raise ConfigError(
            f"SIGNOFF_POLL_INITIAL_SECONDS={initial}, SIGNOFF_POLL_MAX_SECONDS={maximum} and "
            f"SIGNOFF_POLL_BACKOFF={backoff:g} would take {spent:,} durable operations over a "
            f"7-day request; AWS allows {MAX_OPERATIONS:,} per execution and signoff plans for "
            f"at most {OPERATIONS_BUDGET:,}: raise SIGNOFF_POLL_MAX_SECONDS (the default is "
            "14400)"
        )
