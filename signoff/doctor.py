"""`signoff doctor`: check what a deployment needs, and say how to fix what is missing.

Each check is one or two read-only calls against the deployment (the local stack or a
stack deployed from template.yaml); a failure carries the fix a person can act on. The
only request that reaches a function is a signed `url_verification`, which changes nothing.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from signoff.schema import PENDING_INDEX, TABLE_SCHEMA

# One quick try per call: a doctor that hangs on a dead endpoint helps nobody.
QUICK = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1})
PLACEHOLDER_TOKEN = "xoxb-replace-me"  # what template.yaml's SlackSecret starts with
SLACK_SIGNING_SECRET = re.compile(r"[0-9a-f]{32}")
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")

# What the checks read from the deployment: stack outputs on AWS, /local/config locally.
AWS_OUTPUTS = (
    "TableName",
    "TopicArn",
    "WorkflowFunctionArn",
    "SlackEventsUrl",
    "SlackSecretArn",
    "AllowCliDecisions",
)
LOCAL_KEYS = (
    "dynamodb_endpoint",
    "region",
    "table",
    "topic_arn",
    "slack_events_url",
    "aws_endpoint",
    "secret_id",
    "slack_api_url",
    "default_channel",
)


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass
class Deployment:
    """Where each piece lives; `None` for what this kind of deployment does not have."""

    label: str
    local: bool
    client: Callable[[str], Any]  # a boto3 client for a service name
    missing: list[str] = field(default_factory=list)  # outputs or settings it lacks
    table: str = ""
    topic_arn: str = ""
    secret_id: str = ""
    slack_api_url: str = "https://slack.com/api/"
    events_url: str = ""
    default_channel: str = ""
    subscription_protocol: str = "lambda"
    dead_letter_queue_url: str | None = None
    workflow_alias_arn: str | None = None
    state_check_url: str | None = None  # locally: where the table and workflows are compared
    fixes: dict[str, str] = field(default_factory=dict)  # how to fix, per piece, here


@dataclass
class _Slack:
    bot_token: str = ""
    signing_secret: str = ""


def local_deployment(base_url: str, config: dict[str, Any]) -> Deployment:
    """The local stack, from what it serves at /local/config."""
    endpoints = {"dynamodb": str(config.get("dynamodb_endpoint", ""))}
    aws_endpoint = str(config.get("aws_endpoint", ""))
    # The local SNS, SQS and Secrets Manager serve requests signed with the credentials
    # `signoff dev` keeps for its owner; DynamoDB Local takes any.
    key = secret = "local"
    if isinstance(config.get("aws_credentials_file"), str):
        try:
            saved = json.loads(Path(config["aws_credentials_file"]).read_text())
            key, secret = str(saved["aws_access_key_id"]), str(saved["aws_secret_access_key"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # then the checks that need them fail, saying moto refused

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoints.get(service, aws_endpoint),
            region_name=str(config.get("region") or "us-east-1"),
            aws_access_key_id=key if service != "dynamodb" else "local",
            aws_secret_access_key=secret if service != "dynamodb" else "local",
            config=QUICK,
        )

    restart = "restart `signoff dev` (its state under .signoff/ is kept)"
    return Deployment(
        label=f"local stack at {base_url}",
        local=True,
        client=client,
        missing=[k for k in LOCAL_KEYS if not isinstance(config.get(k), str) or not config[k]],
        table=str(config.get("table", "")),
        topic_arn=str(config.get("topic_arn", "")),
        secret_id=str(config.get("secret_id", "")),
        slack_api_url=str(config.get("slack_api_url", "")),
        events_url=str(config.get("slack_events_url", "")),
        default_channel=str(config.get("default_channel", "")),
        subscription_protocol="sqs",
        state_check_url=f"{base_url.rstrip('/')}/local/check",
        fixes={
            "outputs": "upgrade signoff and restart `signoff dev`",
            "table": f"DynamoDB Local is not answering: {restart}",
            "topic": f"the local SNS/SQS server is not answering: {restart}",
            "secret": (
                "the local secret is kept in .signoff/local-secrets.json: delete that file "
                f"and {restart} to make a new one"
            ),
            "slack": f"the local Slack stand-in is not answering: {restart}",
            "channel": (
                f"POST {base_url}/local/channels/CHANNEL/join puts the bot back (the local "
                "stack's Slack stand-in took it out of the channel)"
            ),
        },
    )


def aws_deployment(stack_name: str, session: Any = None) -> Deployment:
    """A stack deployed from template.yaml: its outputs, parameters and resources.

    Without a session: the region and profile as the AWS CLI finds them (ConfigError
    saying how to set a region when none is).
    """
    from signoff.aws_session import aws_session

    session = session or aws_session()

    def client(service: str) -> Any:
        return session.client(service, config=QUICK)

    cloudformation = client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
    }
    resources = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    url = outputs.get("SlackEventsUrl", "")
    deploy = f"`sam build && sam deploy` the stack {stack_name} from this version's template.yaml"
    return Deployment(
        label=f"stack {stack_name}",
        local=False,
        client=client,
        missing=[k for k in AWS_OUTPUTS if k not in outputs],
        table=outputs.get("TableName", ""),
        topic_arn=outputs.get("TopicArn", ""),
        secret_id=outputs.get("SlackSecretArn", ""),
        events_url=(url if url.endswith("/") else url + "/") + "slack/events" if url else "",
        default_channel=parameters.get("DefaultChannel", ""),
        dead_letter_queue_url=resources.get("NotifierDeadLetterQueue", ""),
        workflow_alias_arn=outputs.get("WorkflowFunctionArn", ""),
        fixes={
            "outputs": deploy,
            "table": deploy,
            "topic": deploy,
            "secret": (
                'put {"bot_token": "xoxb-…", "signing_secret": "…"} into the secret '
                f"{outputs.get('SlackSecretArn', '(SlackSecretArn output)')} "
                "(docs/deploy.md, step 3)"
            ),
            "slack": "check the bot token in the secret (docs/deploy.md, step 3)",
            "channel": "in Slack, `/invite @signoff` in the channel (docs/deploy.md, step 4)",
            "redrive": f"signoff redrive --stack {stack_name}",
        },
    )


def run(deployment: Deployment) -> list[Check]:
    """Every check, in order; later checks that need a failed one are skipped, saying so."""
    return list(_checks(deployment))


def _checks(d: Deployment) -> Iterator[Check]:
    yield _outputs(d)
    yield _guard("table and index", lambda: _table(d), d.fixes["table"])
    yield _guard("topic and subscription", lambda: _topic(d), d.fixes["topic"])
    if d.dead_letter_queue_url is None:
        yield Check(
            "dead-letter queue empty",
            Outcome.SKIP,
            "the local stack has no dead-letter queue: a failed delivery stays on its queue",
        )
    else:
        yield _guard("dead-letter queue empty", lambda: _dead_letters(d), d.fixes["topic"])
    slack = _Slack()
    secret = _guard("secret", lambda: _secret(d, slack), d.fixes["secret"])
    yield secret
    if secret.outcome is not Outcome.PASS:
        for name in ("bot token (auth.test)", "bot in the default channel", "Slack request URL"):
            yield Check(name, Outcome.SKIP, "needs a well-formed secret (see above)")
    else:
        auth = _guard("bot token (auth.test)", lambda: _auth(d, slack), d.fixes["slack"])
        yield auth
        if auth.outcome is Outcome.PASS:
            yield _guard("bot in the default channel", lambda: _channel(d, slack), d.fixes["slack"])
        else:
            yield Check("bot in the default channel", Outcome.SKIP, "needs a working bot token")
        yield _guard("Slack request URL", lambda: _request_url(d, slack), _url_fix(d))
    if d.state_check_url is None:
        yield Check(
            "table and workflows agree",
            Outcome.SKIP,
            "compared on the local stack only (its workflow store is a file beside the table)",
        )
    else:
        yield _guard("table and workflows agree", lambda: _agree(d), "restart `signoff dev`")
    if d.workflow_alias_arn is None:
        yield Check(
            "workflow alias is durable",
            Outcome.SKIP,
            "the local stack runs the workflow in the durable emulator (no alias)",
        )
    else:
        yield _guard("workflow alias is durable", lambda: _durable_alias(d), d.fixes["outputs"])


class _Failed(Exception):
    def __init__(self, detail: str, fix: str = ""):
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


def _guard(name: str, check: Callable[[], str], fix: str) -> Check:
    """Run one check: its detail on success; a failure with a fix for any error."""
    try:
        return Check(name, Outcome.PASS, check())
    except _Failed as exc:
        return Check(name, Outcome.FAIL, exc.detail, exc.fix or fix)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
        return Check(name, Outcome.FAIL, detail, fix)
    except (BotoCoreError, OSError, ValueError) as exc:
        return Check(name, Outcome.FAIL, f"{type(exc).__name__}: {exc}", fix)


def _outputs(d: Deployment) -> Check:
    name = "stack outputs" if not d.local else "local stack settings"
    if d.missing:
        return Check(name, Outcome.FAIL, "missing: " + ", ".join(d.missing), d.fixes["outputs"])
    return Check(name, Outcome.PASS, "all present")


def _table(d: Deployment) -> str:
    table = d.client("dynamodb").describe_table(TableName=d.table)["Table"]
    if table.get("TableStatus") != "ACTIVE":
        raise _Failed(f"table {d.table} is {table.get('TableStatus')}, not ACTIVE")
    if table.get("KeySchema") != TABLE_SCHEMA["KeySchema"]:
        raise _Failed(f"table {d.table} has another key schema than template.yaml's")
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    for wanted in TABLE_SCHEMA["GlobalSecondaryIndexes"]:
        found = indexes.get(wanted["IndexName"])
        if found is None:
            raise _Failed(f"table {d.table} has no index {wanted['IndexName']}")
        if found.get("KeySchema") != wanted["KeySchema"]:
            raise _Failed(f"index {wanted['IndexName']} has another key schema")
        if found.get("IndexStatus", "ACTIVE") != "ACTIVE":
            raise _Failed(f"index {wanted['IndexName']} is {found.get('IndexStatus')}")
    return f"{d.table} is ACTIVE with its index {PENDING_INDEX}"


def _topic(d: Deployment) -> str:
    sns = d.client("sns")
    sns.get_topic_attributes(TopicArn=d.topic_arn)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=d.topic_arn)["Subscriptions"]
    confirmed = [
        s
        for s in subscriptions
        if s.get("Protocol") == d.subscription_protocol
        and s.get("SubscriptionArn", "").startswith("arn:")
    ]
    if not confirmed:
        raise _Failed(f"the topic has no confirmed {d.subscription_protocol} subscription")
    return f"the topic delivers to {confirmed[0].get('Endpoint', '?')}"


def _dead_letters(d: Deployment) -> str:
    attributes = d.client("sqs").get_queue_attributes(
        QueueUrl=d.dead_letter_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    waiting = sum(int(v) for v in attributes.values())
    redrive = d.fixes.get("redrive", "signoff redrive")
    if waiting:
        raise _Failed(
            f"{waiting} notifier event(s) failed after retries and wait in the queue",
            f"fix the cause (the notifier's logs; `{redrive} --dry-run` lists the events and "
            f"why each failed), then replay the queue ({d.dead_letter_queue_url}): "
            f"`{redrive}`; the approvals themselves are unaffected (docs/deploy.md)",
        )
    return "no failed notifier events"


def _secret(d: Deployment, slack: _Slack) -> str:
    raw = d.client("secretsmanager").get_secret_value(SecretId=d.secret_id).get("SecretString")
    try:
        value = json.loads(raw or "")
    except ValueError:
        raise _Failed("the secret is not JSON") from None
    if not isinstance(value, dict):
        raise _Failed("the secret is not a JSON object")
    token, signing = value.get("bot_token"), value.get("signing_secret")
    problems = []
    if not isinstance(token, str) or not token:
        problems.append("bot_token is missing")
    elif token == PLACEHOLDER_TOKEN:
        problems.append("bot_token is still the placeholder")
    elif not token.startswith("xoxb-"):
        problems.append("bot_token is not a bot token (xoxb-…)")
    if not isinstance(signing, str) or not signing:
        problems.append("signing_secret is missing")
    elif not SLACK_SIGNING_SECRET.fullmatch(signing):
        problems.append("signing_secret is not a Slack signing secret (32 hex characters)")
    if problems:
        raise _Failed("; ".join(problems))
    slack.bot_token, slack.signing_secret = str(token), str(signing)
    return "JSON with bot_token (xoxb-…) and signing_secret"


def _slack_call(d: Deployment, token: str, method: str, **args: str) -> dict[str, Any]:
    """One Slack Web API call; the answer, whether ok or not."""
    request = urllib.request.Request(
        d.slack_api_url.rstrip("/") + "/" + method,
        data=urllib.parse.urlencode(args).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
        except ValueError:
            raise _Failed(f"Slack answered {method} with HTTP {exc.code}") from None
    if not isinstance(answer, dict):
        raise _Failed(f"Slack answered {method} with something that is not a JSON object")
    return answer


def _auth(d: Deployment, slack: _Slack) -> str:
    answer = _slack_call(d, slack.bot_token, "auth.test")
    if not answer.get("ok"):
        error = answer.get("error", "unknown")
        raise _Failed(
            f"auth.test failed: {error}",
            "put the app's Bot User OAuth Token into the secret (OAuth & Permissions)"
            if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked")
            else "",
        )
    return f"the token is the bot {answer.get('user_id', '?')} in team {answer.get('team_id', '?')}"


def _channel(d: Deployment, slack: _Slack) -> str:
    wanted = d.default_channel.lstrip("#")
    info = _slack_call(d, slack.bot_token, "conversations.info", channel=wanted)
    if (
        not info.get("ok")
        and info.get("error") == "channel_not_found"
        and not CHANNEL_ID.fullmatch(wanted)
    ):
        # A channel name (DefaultChannel may be one): find its id.
        found = _channel_named(d, slack, wanted)
        if found:
            info = _slack_call(d, slack.bot_token, "conversations.info", channel=found)
    if not info.get("ok"):
        error = info.get("error", "unknown")
        fixes = {
            "channel_not_found": (
                f"check that the channel {wanted} exists (DefaultChannel), and invite the bot"
            ),
            "missing_scope": (
                "give the app the channels:read and groups:read scopes (manifest.yaml) and "
                "reinstall it"
            ),
        }
        raise _Failed(f"conversations.info for {wanted} failed: {error}", fixes.get(error, ""))
    channel = info.get("channel") or {}
    if not channel.get("is_member"):
        raise _Failed(
            f"the bot is not a member of {wanted}: requests cannot be posted there",
            d.fixes["channel"].replace("CHANNEL", wanted),
        )
    return f"the bot is a member of {wanted}"


def _channel_named(d: Deployment, slack: _Slack, name: str) -> str | None:
    cursor = ""
    for _ in range(20):  # 20 pages of 1,000 channels
        page = _slack_call(
            d,
            slack.bot_token,
            "conversations.list",
            types="public_channel,private_channel",
            exclude_archived="true",
            limit="1000",
            cursor=cursor,
        )
        for channel in page.get("channels") or []:
            if channel.get("name") == name:
                return str(channel.get("id"))
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not page.get("ok") or not cursor:
            return None
    return None


def _url_fix(d: Deployment) -> str:
    if d.local:
        return "restart `signoff dev`"
    return (
        "check that the Slack app's interactivity and /signoff URLs are the SlackEventsUrl "
        "output followed by slack/events, and that the secret's signing_secret is the app's "
        "(docs/deploy.md, steps 2 and 3)"
    )


def _request_url(d: Deployment, slack: _Slack) -> str:
    """POST a signed url_verification, as Slack does when a request URL is set."""
    from signoff.local.slack_standin.acts import signed_headers

    challenge = secrets.token_urlsafe(16)
    body = json.dumps({"type": "url_verification", "token": "doctor", "challenge": challenge})
    headers = {**signed_headers(slack.signing_secret, body), "Content-Type": "application/json"}
    request = urllib.request.Request(d.events_url, data=body.encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read()
    if status == 401:
        raise _Failed(
            f"{d.events_url} refused a request signed with the secret's signing_secret (401)"
        )
    if status != 200:
        raise _Failed(f"{d.events_url} answered a signed url_verification with HTTP {status}")
    try:
        echoed = json.loads(answer).get("challenge")
    except (ValueError, AttributeError):
        echoed = None
    if echoed != challenge:
        raise _Failed(f"{d.events_url} did not answer with the challenge")
    return f"{d.events_url} answers signed requests"


def _agree(d: Deployment) -> str:
    """Every pending approval has a running workflow, every running workflow its record."""
    assert d.state_check_url is not None
    with urllib.request.urlopen(d.state_check_url, timeout=30) as response:
        answer = json.loads(response.read())
    mismatches = answer.get("mismatches") if isinstance(answer, dict) else None
    if not isinstance(mismatches, list):
        raise _Failed(f"{d.state_check_url} answered something unexpected")
    if mismatches:
        raise _Failed(
            "; ".join(f"{m.get('id')}: {m.get('problem')}" for m in mismatches),
            " | ".join(f"{m.get('id')}: {m.get('fix')}" for m in mismatches),
        )
    return "every pending approval has a running workflow, and every workflow its record"


def _durable_alias(d: Deployment) -> str:
    configuration = d.client("lambda").get_function(FunctionName=d.workflow_alias_arn)[
        "Configuration"
    ]
    durable = configuration.get("DurableConfig")
    if not durable:
        raise _Failed(f"{d.workflow_alias_arn} has no DurableConfig: executions cannot start")
    return (
        f"{d.workflow_alias_arn}: executions time out after "
        f"{durable.get('ExecutionTimeout', '?')} s"
    )
