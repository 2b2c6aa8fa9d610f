"""`signoff dev`: the whole system on loopback, running the real Lambda handlers.

- the table: DynamoDB Local (data under .signoff/dynamodb)
- SNS/SQS/Secrets Manager: moto's server in this process; SNS reaches the notifier
  handler through an SQS queue as an SNS Lambda event (at least once)
- the workflow: the durable emulator (state in .signoff/durable.sqlite)
- Slack: Bolt at POST /slack/events (signed requests only) and the stand-in under
  /api/ and /local/, with a page at /
- policies: the document at `--policies FILE` or .signoff/policies.yaml (none: ad-hoc
  approvers only); its `groups` section defines the user groups the stand-in serves

A restart after a crash re-drives what the last run left unfinished: the workflows
(`LocalDurable.recover`) and the notices its in-memory queue lost (`_redrive_notices`).
`SIGNOFF_DEV_CRASH_AT` (signoff/local/faults.py) makes a run die at a chosen point.
Before anything starts, each state file is checked (a damaged one stops the start, named);
once it runs, the table and the workflow store are compared (`check`, signoff/local/state.py).

Every server listens on 127.0.0.1 and refuses foreign Hosts, other sites' pages and large
bodies before reading them (signoff/local/guard.py); moto serves only this run's
credentials (signoff/local/aws.py); DynamoDB Local is bound by a launcher
(signoff/local/dynamodb.py).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request, send_from_directory
from werkzeug.serving import make_server

from signoff.errors import ConfigError
from signoff.homes import HOME_WINDOW
from signoff.local import aws, github_standin, guard, state
from signoff.local.dynamodb import DynamoDBLocal, local_client
from signoff.local.faults import CrashPoint
from signoff.local.github_standin import APP_ID, GitHubStandIn, local_app_keys
from signoff.local.slack_standin.routes import blueprint, page_blueprint
from signoff.local.slack_standin.standin import SlackStandIn
from signoff.local.socket_mode import SocketModeSettings
from signoff.schema import INBOX_INDEX, add_missing_indexes, create_table

log = logging.getLogger(__name__)

TABLE = "signoff-local"
WORKFLOW_ALIAS_ARN = "arn:aws:lambda:us-east-1:000000000000:function:signoff-workflow:live"
STATIC = Path(__file__).parent / "static"
DEMO_REQUESTER = "U0REQUESTER"
DEMO_APPROVER = "U0APPROVER"
# Closed approvals whose outcome may not have reached Slack are looked for among the
# workflows that finished last: the table has no index of closed approvals, and what a
# crash can lose was in flight when it came, so it finished last.
RECENTLY_FINISHED = 50
# Threads completing doorbell rings behind their answers (each waits for one lane).
RING_WORKERS = 4
# This run's credentials for the local SNS, SQS and Secrets Manager, for its owner only.
AWS_CREDENTIALS_FILE = "local-aws.json"


@dataclass
class LambdaContext:
    """What the Lambda runtime passes a handler, as far as our handlers read it."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}:live"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _local_secrets(home: Path) -> dict[str, str]:
    """Per-checkout dev secrets, made once; SLACK_SIGNING_SECRET wins when set."""
    path = home / "local-secrets.json"
    values: dict[str, str]
    if path.exists():
        values = state.check_json_object(
            path,
            "the local Slack bot token and signing secret",
            "a new pair is made at the next start (nothing else depends on them)",
        )
        if not all(isinstance(values.get(k), str) for k in ("bot_token", "signing_secret")):
            raise state.StateFileError(
                f"{path} lacks bot_token or signing_secret: move it aside "
                f"(mv {path} {path}.damaged); a new pair is made at the next start"
            )
    else:
        values = {
            "bot_token": "xoxb-local-" + secrets.token_hex(12),
            "signing_secret": secrets.token_hex(16),
        }
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
        path.chmod(0o600)
    if os.environ.get("SLACK_SIGNING_SECRET"):
        values["signing_secret"] = os.environ["SLACK_SIGNING_SECRET"]
    return values


def function_url_event(
    path: str, method: str, headers: dict[str, str], body: str
) -> dict[str, Any]:
    """A Lambda Function URL event (payload format 2.0)."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
            "requestId": str(uuid.uuid4()),
        },
        "body": body,
        "isBase64Encoded": False,
    }


class LocalStack:
    def __init__(
        self,
        home: Path,
        port: int = 3000,
        host: str = "127.0.0.1",
        policies: Path | None = None,
        socket_mode: SocketModeSettings | None = None,
    ):
        """With `socket_mode`, Slack is a real workspace over Socket Mode, not the stand-in."""
        self.home = home
        self.policies_path = policies or home / "policies.yaml"
        self.host = host
        self.port = port
        self.socket_mode = socket_mode
        self.base_url = f"http://{host}:{port}"
        self._stopped = threading.Event()
        self._stops: list[Any] = []  # how to stop each part started so far, in order

    def _check_port(self) -> None:
        """Refuse a port something listens on; not one a killed run left in TIME_WAIT.

        The probe binds as the server will (werkzeug sets SO_REUSEADDR): without it a
        restart right after a kill -9 with a client connected is refused for a minute.
        """
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise ConfigError(
                    f"port {self.port} on {self.host} is in use: stop what uses it, "
                    "or pick another port with --port"
                ) from exc

    def start(self) -> None:
        self._check_port()
        crash = CrashPoint.from_env(os.environ)
        if crash is not None:
            crash.arm_botocore()  # before any client is made
        self.home.mkdir(parents=True, exist_ok=True)
        from signoff.policy import FilePolicies

        # A bad document stops the start with its problems listed, before anything runs.
        self._policies = FilePolicies(self.policies_path)
        book = self._policies.load()
        keys = _local_secrets(self.home)
        # So does a damaged state file, named with what to do (signoff/local/state.py).
        state.check_durable_store(self.home / "durable.sqlite")
        state.check_sqlite(
            self.home / "dynamodb" / "shared-local-instance.db",
            "DynamoDB Local's data: the approvals and their audit trails",
            "dm",  # DynamoDB Local's own table of tables
            "the approvals recorded in it are lost with it; their workflows are then listed "
            "by `signoff doctor`, with what to do",
        )
        self.ddb = DynamoDBLocal(self.home / "dynamodb")
        self.ddb.start()
        self._stops.append(self.ddb.stop)
        ddb_client = local_client(self.ddb.endpoint)
        if TABLE not in ddb_client.list_tables()["TableNames"]:
            create_table(ddb_client, TABLE)
        elif INBOX_INDEX in add_missing_indexes(ddb_client, TABLE):
            # A home made by an earlier version: its pending requests get their inbox items.
            from signoff.store import DynamoApprovalStore

            DynamoApprovalStore(ddb_client, TABLE).fill_inboxes()

        # moto serves only requests signed with this run's credentials (signoff/local/aws.py).
        self.credentials = aws.Credentials.generate()
        self.credentials.save(self.home / AWS_CREDENTIALS_FILE)
        self.moto, moto_url = aws.start_moto(self.credentials)
        self._stops.append(self.moto.stop)
        bot_token = self.socket_mode.bot_token if self.socket_mode else keys["bot_token"]
        self.aws = aws.provision(
            moto_url,
            bot_token=bot_token,
            signing_secret=keys["signing_secret"],
            credentials=self.credentials,
        )
        self._configure_handlers(moto_url)
        self._github_keys = self._configure_github(moto_url)

        # Imported only now: the handlers read the environment set just above.
        from signoff import wiring
        from signoff.handlers import notifier, slack, workflow

        wiring.reset()
        self._slack_handler = slack.handler
        self.standin = SlackStandIn(
            self.home / "slack.jsonl",
            bot_token=keys["bot_token"],
            signing_secret=keys["signing_secret"],
            events_url=f"{self.base_url}/slack/events",
            base_url=self.base_url,
            on_answer=_slack_crash(crash),
        )
        for group_id, members in book.groups.items():
            self.standin.define_group(group_id, members)
        self.github = GitHubStandIn(
            self.home / "github.jsonl",
            api_url=f"{self.base_url}/github-api",
            events_url=f"{self.base_url}/github/events",
            keys=self._github_keys,
        )
        self._stops.append(self.github.close)
        # Each change is in its journal before the call is answered; closed last.
        self._stops.append(self.standin.close)
        # Listening from here on: what recovery sets going may call the stand-in at once.
        self.server = make_server(self.host, self.port, self._flask(), threaded=True)
        self._stops.append(self.server.server_close)
        from signoff.local.durable import LocalDurable
        from signoff.local.sns_bridge import SnsBridge

        self.durable = LocalDurable(workflow.handler, self.home / "durable.sqlite")
        self._stops.append(self.durable.close)
        self._rings = ThreadPoolExecutor(max_workers=RING_WORKERS, thread_name_prefix="ring")
        self._stops.append(lambda: self._rings.shutdown(wait=False, cancel_futures=True))
        self.bridge = SnsBridge(
            aws.client(moto_url, "sqs"),
            self.aws.queue_url,
            self.aws.topic_arn,
            notifier.handler,
            LambdaContext("signoff-notifier"),
        )
        self.bridge.start()
        self._stops.append(self.bridge.stop)
        if self.socket_mode is not None:
            self._connect_socket_mode(self.socket_mode)
        self.recovered = self.durable.recover()
        self.reposted = self._redrive_notices()
        self.mismatches = self.check()
        self._stops.append(self.server.shutdown)

    def _connect_socket_mode(self, settings: SocketModeSettings) -> None:
        """The Bolt app that serves /slack/events, reached over Slack's socket as well."""
        from signoff import wiring
        from signoff.local import socket_mode

        handler = socket_mode.connect(wiring.slack_app_from_env(), settings)
        self._stops.append(handler.close)

    def _configure_handlers(self, moto_url: str) -> None:
        os.environ.update(
            {
                # DynamoDB Local takes any; moto only these (signoff/local/aws.py).
                "AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key,
                "AWS_DEFAULT_REGION": aws.REGION,
                "AWS_ENDPOINT_URL_DYNAMODB": self.ddb.endpoint,
                "AWS_ENDPOINT_URL_SNS": moto_url,
                "AWS_ENDPOINT_URL_SQS": moto_url,
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
                "SIGNOFF_TABLE": TABLE,
                "SIGNOFF_TOPIC_ARN": self.aws.topic_arn,
                "SIGNOFF_SLACK_SECRET_ID": self.aws.secret_id,
                "SIGNOFF_SLACK_API_URL": (
                    self.socket_mode.api_url if self.socket_mode else f"{self.base_url}/api/"
                ),
                # The stack serves the Lambda callback API the doorbell rings (below).
                "AWS_ENDPOINT_URL_LAMBDA": self.base_url,
                # A real workspace names its own channel (SIGNOFF_DEFAULT_CHANNEL).
                "SIGNOFF_DEFAULT_CHANNEL": (
                    os.environ.get("SIGNOFF_DEFAULT_CHANNEL", "approvals")
                    if self.socket_mode
                    else "approvals"
                ),
                # A post claim left by a notifier killed mid-post is taken over soon.
                "SIGNOFF_POST_CLAIM_LEASE_SECONDS": "5",
                # The safety poll behind the doorbell: 1 s doubling up to a minute. Here a
                # ring is accepted at once and completed behind (the callback endpoint
                # below), and one lost to a kill is rung again by recovery, so the poll
                # is a backstop; every poll replays the workflow, and a few seconds'
                # poll across a thousand waiting workflows is hundreds of replays a
                # second. The caller's environment wins (to compare designs:
                # SIGNOFF_DOORBELL=off, ...).
                "SIGNOFF_POLL_INITIAL_SECONDS": os.environ.get("SIGNOFF_POLL_INITIAL_SECONDS", "1"),
                "SIGNOFF_POLL_MAX_SECONDS": os.environ.get("SIGNOFF_POLL_MAX_SECONDS", "60"),
                # A long-running process: a burst redraws each Home tab when it begins and
                # when it ends (signoff/homes.py), not once per event.
                "SIGNOFF_HOME_WINDOW_SECONDS": os.environ.get(
                    "SIGNOFF_HOME_WINDOW_SECONDS", str(HOME_WINDOW)
                ),
                "POWERTOOLS_SERVICE_NAME": "signoff",
                "SIGNOFF_POLICIES_FILE": str(self.policies_path),
            }
        )
        import boto3

        if boto3.DEFAULT_SESSION is not None:
            # The handlers' clients come from boto3's default session, which keeps the
            # credentials it found first: one made before this start (a test process, the
            # crash points' hooks) signs with this run's from now on.
            boto3.DEFAULT_SESSION._session.set_credentials(
                self.credentials.access_key_id, self.credentials.secret_access_key
            )

    def _configure_github(self, moto_url: str) -> dict[str, str]:
        """The GitHub gate against the stand-in: its secrets in the local Secrets Manager,
        webhooks for any repository and environment to the example approver."""
        keys = local_app_keys(self.home)
        manager = aws.client(moto_url, "secretsmanager", self.credentials)
        webhook = manager.create_secret(
            Name="signoff/github-webhook",
            SecretString=json.dumps({"webhook_secret": keys["webhook_secret"]}),
        )
        app = manager.create_secret(
            Name="signoff/github-app",
            SecretString=json.dumps({"app_id": APP_ID, "private_key": keys["private_key"]}),
        )
        os.environ.update(
            {
                "SIGNOFF_GITHUB_WEBHOOK_SECRET_ID": webhook["ARN"],
                "SIGNOFF_GITHUB_APP_SECRET_ID": app["ARN"],
                "SIGNOFF_GITHUB_API_URL": f"{self.base_url}/github-api",
                # Started as on AWS: an asynchronous Invoke named after the approval, which
                # this stack serves (below) with the durable emulator.
                "SIGNOFF_WORKFLOW_FUNCTION_ARN": WORKFLOW_ALIAS_ARN,
                "SIGNOFF_GITHUB_DEFAULT_APPROVERS": DEMO_APPROVER,
                "SIGNOFF_GITHUB_DEFAULT_REQUESTER": DEMO_REQUESTER,
            }
        )
        self.github_secret_ids = (webhook["ARN"], app["ARN"])
        return keys

    @property
    def github_webhook_secret(self) -> str:
        return self._github_keys["webhook_secret"]

    def _complete_callback(self, callback_id: str, result: bytes) -> None:
        try:
            self.durable.runner.send_callback_success(callback_id, result)
        except Exception as exc:  # the emulator's own not-found, for a late ring
            log.info("a doorbell rang too late for %s: %s", callback_id, str(exc)[:300])

    def _redrive_notices(self) -> int:
        """Publish again what the last run's in-memory queue may have lost; returns how many.

        Looked at: every pending approval (the pending index), every running workflow,
        and the RECENTLY_FINISHED workflows that finished last. For each, the record, its
        audit trail and its finished once-keys say which side effects should exist and
        are not done (the post, each reply and DM, the render: `notify.unfinished`), and
        the topic that finishes them is published. Every delivery is safe to repeat: what
        is done already is skipped.
        """
        from signoff.events import SnsPublisher
        from signoff.notify import redrive
        from signoff.store import DynamoApprovalStore

        store = DynamoApprovalStore(local_client(self.ddb.endpoint), TABLE)
        publisher = SnsPublisher(aws.client(self.aws.endpoint, "sns"), self.aws.topic_arn)
        pending = store.list_pending(limit=1000)
        ids = dict.fromkeys(
            [a.id for a in pending]
            + self.durable.running()
            + self.durable.recently_finished(RECENTLY_FINISHED)
        )
        return redrive(store, publisher, list(ids))

    def check(self) -> list[state.Mismatch]:
        """Where the table, the workflow store and the Slack stand-in disagree."""
        from signoff.store import DynamoApprovalStore

        store = DynamoApprovalStore(local_client(self.ddb.endpoint), TABLE)
        standin = None if self.socket_mode else self.standin
        return state.compare(
            state.Sources(
                get=store.get,
                pending=lambda: _all_pending(store),
                workflows=self.durable.statuses,
                created=self.durable.created,
                has_message=standin.has_message if standin else None,
                home=self.home,
            )
        )

    def config(self) -> dict[str, Any]:
        return {
            "dynamodb_endpoint": self.ddb.endpoint,
            "table": TABLE,
            "region": aws.REGION,
            "topic_arn": self.aws.topic_arn,
            "slack_events_url": f"{self.base_url}/slack/events",
            "users": {"requester": DEMO_REQUESTER, "approver": DEMO_APPROVER},
            # What `signoff doctor` checks: SNS/SQS/Secrets Manager, the secret, Slack.
            "aws_endpoint": self.aws.endpoint,
            # What its SNS, SQS and Secrets Manager need a request signed with (owner only).
            "aws_credentials_file": str(self.home / AWS_CREDENTIALS_FILE),
            "secret_id": self.aws.secret_id,
            "slack_api_url": f"{self.base_url}/api/",
            "default_channel": os.environ.get("SIGNOFF_DEFAULT_CHANNEL", "approvals"),
            "slack": "socket" if self.socket_mode else "standin",
            "github_events_url": f"{self.base_url}/github/events",
            "github_api_url": f"{self.base_url}/github-api",
        }

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for step in reversed(self._stops):
            try:
                step()
            except Exception:
                log.warning("error while stopping", exc_info=True)

    # -- HTTP ----------------------------------------------------------------------

    def _flask(self) -> Flask:
        app = Flask("signoff-local")
        app.logger.disabled = True
        # Host, Origin and body size are checked before anything reads the request.
        app.wsgi_app = guard.LoopbackOnly(app.wsgi_app, lambda: self.port)  # type: ignore[method-assign]
        app.config["MAX_CONTENT_LENGTH"] = guard.MAX_BODY

        def function_url() -> Response:
            """The Slack function's URL: Slack's requests and (routed by path inside the
            handler) the GitHub App's webhook."""
            event = function_url_event(
                request.path, "POST", dict(request.headers), request.get_data(as_text=True)
            )
            result = self._slack_handler(event, LambdaContext("signoff-slack"))
            return Response(
                result.get("body", ""),
                status=int(result.get("statusCode", 200)),
                headers=result.get("headers") or {},
            )

        for path in ("/slack/events", "/github/events"):
            app.add_url_rule(path, path, function_url, methods=["POST"])
        app.register_blueprint(github_standin.blueprint(self.github))
        app.register_blueprint(blueprint(self.standin))
        app.register_blueprint(page_blueprint(self.standin))
        self._lambda_api(app)

        self._local_api(app)

        @app.get("/")
        def page() -> Response:
            return send_from_directory(STATIC, "index.html")

        @app.get("/assets/<name>")
        def asset(name: str) -> Response:
            # The page's own script and style sheet; send_from_directory refuses paths
            # that leave the folder.
            return send_from_directory(STATIC, name)

        return app

    def _local_api(self, app: Flask) -> None:
        """The stack's own routes under /local/ (what the CLI, doctor and the page read)."""

        @app.get("/local/config")
        def config() -> Response:
            return jsonify(self.config())

        @app.get("/archives/<channel>/<message>")
        def permalink(channel: str, message: str) -> Any:
            """A permalink as the stand-in's chat.getPermalink gives it: the page, at it."""
            digits = message.removeprefix("p")
            if not (message.startswith("p") and digits.isdigit() and len(digits) > 6):
                return jsonify({"error": "not a message permalink: /archives/CHANNEL/pDIGITS"}), 404
            query = urlencode({"channel": channel, "ts": f"{digits[:-6]}.{digits[-6:]}"})
            return redirect(f"/?{query}")

        @app.get("/local/policies")
        def policies() -> Response | tuple[Response, int]:
            """The deployment's policy document as JSON (what `signoff policies` prints)."""
            from signoff.errors import ConfigError

            try:
                return jsonify(self._policies.load().to_json())
            except ConfigError as exc:
                return jsonify({"error": str(exc)}), 500

        @app.get("/local/check")
        def check() -> Response:
            """Where the table and the workflow store disagree (what `signoff doctor` reads)."""
            return jsonify({"mismatches": [m.to_json() for m in self.check()]})

        @app.get("/local/health")
        def health() -> Response:
            return jsonify(
                {
                    "ok": True,
                    "recovered_executions": self.recovered,
                    "reposted": self.reposted,
                    "mismatches_at_start": len(self.mismatches),
                    "sns_delivered": self.bridge.delivered,
                    "sns_failed": self.bridge.failed,
                }
            )

        @app.post("/local/workflows")
        def start_workflow() -> Response | tuple[Response, int]:
            payload = request.get_json(silent=True)
            if not isinstance(payload, dict) or not payload.get("id"):
                return jsonify({"error": "expected a JSON start payload with an id"}), 400
            arn, started = self.durable.start(str(payload["id"]), payload)
            return jsonify({"id": payload["id"], "execution_arn": arn, "started": started})

        @app.get("/local/workflows")
        def running_workflows() -> Response:
            return jsonify({"running": self.durable.running()})

        @app.get("/local/workflows/<name>")
        def describe_workflow(name: str) -> Response:
            return jsonify(self.durable.describe(name))

    def _lambda_api(self, app: Flask) -> None:
        """What boto3's Lambda client calls: a durable callback's success, and Invoke."""

        @app.post("/2025-12-01/durable-execution-callbacks/<path:callback_id>/succeed")
        def callback_succeeded(callback_id: str) -> Response | tuple[Response, int]:
            """Lambda's SendDurableExecutionCallbackSuccess, as boto3 calls it.

            Answered at once and completed behind: completing waits for the emulator's
            lane of that execution, behind its replays, and the caller is a click with
            a budget. A ring that comes too late (the callback timed out: the workflow
            is awake anyway) is logged instead of answered 404; one lost to a kill is
            rung again by recovery, which wakes every waiting workflow.
            """
            if not self.durable.is_callback_id(callback_id):
                body = {"__type": "ResourceNotFoundException", "message": "no such callback"}
                return jsonify(body), 404
            self._rings.submit(self._complete_callback, callback_id, request.get_data())
            return jsonify({})

        @app.post("/2015-03-31/functions/<path:function>/invocations")
        def invoke(function: str) -> Response | tuple[Response, int]:
            """Lambda's Invoke of the workflow function, asynchronous and named (what the
            GitHub door calls): the durable emulator starts it, once per name."""
            name = request.headers.get("X-Amz-Durable-Execution-Name", "")
            try:  # botocore sends the payload as bytes, not as application/json
                payload = json.loads(request.get_data())
            except ValueError:
                payload = None
            if function != WORKFLOW_ALIAS_ARN or not name or not isinstance(payload, dict):
                body = {"__type": "ResourceNotFoundException", "message": "no such function"}
                return jsonify(body), 404
            arn, _ = self.durable.start(name, payload)
            return Response(status=202, headers={"X-Amz-Durable-Execution-Arn": arn})


def _all_pending(store: Any) -> list[Any]:
    """Every pending approval, page by page (the pending index)."""
    from signoff.schema import pending_cursor

    found: list[Any] = []
    after = ""
    while True:
        page = store.list_pending(limit=1000, after=after)
        found.extend(page)
        if len(page) < 1000:
            return found
        after = pending_cursor(page[-1])


def _slack_crash(crash: CrashPoint | None) -> Any:
    """The stand-in's hook for a `slack.<method>` crash point: die before answering."""
    if crash is None or crash.slack_method is None:
        return None
    method = crash.slack_method

    def on_answer(called: str, args: dict[str, Any]) -> None:
        if called == method and crash.concerns(args):
            crash.passed()

    return on_answer
