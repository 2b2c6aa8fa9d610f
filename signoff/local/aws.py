"""SNS, SQS and Secrets Manager for the local stack: moto's server, in this process.

DynamoDB is NOT served by moto: its conditional writes are not safe under concurrency
(see docs/architecture.md); DynamoDB Local serves the table.

moto answers anyone: it checks no signature, and its `/moto-api/` pages dump every
backend's state (the Slack secret included) and can reset it. So its server here sits
behind two checks, before moto sees a request: the loopback guard (signoff/local/guard.py:
Host, Origin, body size) and, when the server is started with `Credentials`, a SigV4
signature made with those credentials (botocore's own signer recomputes it), with
`/moto-api/` refused. `signoff dev` makes new credentials at each start and keeps them
in `.signoff/local-aws.json` (readable by its owner only): the stack's handlers and
`signoff doctor` sign with them, and nobody else is served the Slack secret.
"""

from __future__ import annotations

import hmac
import io
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from signoff.errors import ConfigError
from signoff.local import guard, serving

REGION = "us-east-1"
# What moto accepts when it is started without credentials (tests that start their own).
ANYONE = ("local", "local")
MAX_AWS_BODY = 2 * 1024 * 1024  # an SNS or SQS message is at most 256 KB


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls("AKIALOCAL" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30))

    def save(self, path: Path) -> None:
        """Write them to `path`, readable by its owner only (then renamed into place)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(path.name + ".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(
                {
                    "aws_access_key_id": self.access_key_id,
                    "aws_secret_access_key": self.secret_access_key,
                },
                out,
            )
        fresh.replace(path)

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            saved = json.loads(path.read_text())
            return cls(str(saved["aws_access_key_id"]), str(saved["aws_secret_access_key"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the local stack's AWS credentials from {path} ({exc}): "
                "they are written at each start of `signoff dev` by the user who runs it"
            ) from exc


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    topic_arn: str
    queue_url: str
    secret_id: str


# The credentials each moto server this process started requires, by endpoint: a client
# made here for that endpoint signs with them unless told otherwise.
_required: dict[str, Credentials] = {}


def client(endpoint: str, service: str, credentials: Credentials | None = None) -> Any:
    credentials = credentials or _required.get(endpoint)
    key, secret = (
        (credentials.access_key_id, credentials.secret_access_key) if credentials else ANYONE
    )
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


class SignedOnly:
    """WSGI middleware: only requests signed (SigV4) with `credentials` reach moto."""

    def __init__(self, app: guard.WsgiApp, credentials: Credentials):
        self.app = app
        self._credentials = credentials

    def __call__(self, environ: dict[str, Any], start_response: guard.StartResponse) -> Any:
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            return guard.refuse(start_response, "403 Forbidden", "moto's own API is not served")
        length = int(environ.get("CONTENT_LENGTH") or 0)  # checked by the guard in front
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        problem = signature_problem(environ, body, self._credentials)
        if problem is not None:
            return _aws_error(environ, start_response, problem)
        return self.app(environ, start_response)


def signature_problem(environ: dict[str, Any], body: bytes, credentials: Credentials) -> str | None:
    """Why this request is not signed by `credentials` (None: it is)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, rest = authorization.partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        return "the request is not signed (AWS Signature Version 4)"
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or not hmac.compare_digest(scope[0], credentials.access_key_id):
        return "the request is not signed with the local stack's credentials"
    names = [n for n in fields.get("SignedHeaders", "").split(";") if n]
    headers = {name: _header(environ, name) for name in names}
    if "host" not in headers or headers.get("x-amz-date") is None:
        return "the signature does not cover host and x-amz-date"
    path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"])
    request = AWSRequest(
        method=environ["REQUEST_METHOD"],
        url=path,
        data=body,
        headers={name: value for name, value in headers.items() if value is not None},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(
        BotoCredentials(credentials.access_key_id, credentials.secret_access_key),
        scope[3],
        scope[2],
    )
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return "the signature does not match the local stack's credentials"
    return None


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    value = environ.get(key)
    return None if value is None else str(value)


def _aws_error(environ: dict[str, Any], start_response: guard.StartResponse, problem: str) -> Any:
    """A 403 each protocol's client reads as an error with this message."""
    if environ.get("HTTP_X_AMZ_TARGET"):  # the JSON protocols (SQS, Secrets Manager)
        body = json.dumps({"__type": "UnrecognizedClientException", "message": problem})
        content_type = "application/x-amz-json-1.1"
    else:  # the query protocol (SNS)
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
            f"<Message>{problem}</Message></Error></ErrorResponse>"
        )
        content_type = "text/xml"
    data = body.encode()
    start_response(
        "403 Forbidden", [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    )
    return [data]


class MotoServer:
    """moto's server on 127.0.0.1, behind the checks above, in a thread of this process."""

    def __init__(self, credentials: Credentials | None = None):
        import logging
        import threading

        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call
        app: guard.WsgiApp = DomainDispatcherApplication(create_backend_app)
        if credentials is not None:
            app = SignedOnly(app, credentials)
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._server.app = guard.LoopbackOnly(app, lambda: self.port, MAX_AWS_BODY)
        self.port = int(self._server.server_port)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        if credentials is not None:
            _required[self.endpoint] = credentials
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        _required.pop(self.endpoint, None)
        serving.stop(self._server)
        self._thread.join(timeout=10)


def start_moto(credentials: Credentials | None = None) -> tuple[MotoServer, str]:
    """moto on a free loopback port; with `credentials`, it serves only requests they sign."""
    server = MotoServer(credentials)
    return server, server.endpoint


def provision(
    endpoint: str,
    *,
    bot_token: str,
    signing_secret: str,
    credentials: Credentials | None = None,
) -> LocalAws:
    """The topic, its SQS subscription (the notifier's local delivery) and the secret."""
    from signoff.wiring import quiet_wire_logs

    quiet_wire_logs()  # the secret's value is in CreateSecret's request body
    sns = client(endpoint, "sns", credentials)
    sqs = client(endpoint, "sqs", credentials)
    topic_arn = sns.create_topic(Name="signoff-approvals")["TopicArn"]
    queue_url = sqs.create_queue(
        QueueName="signoff-notifier", Attributes={"VisibilityTimeout": "5"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    secrets_manager = client(endpoint, "secretsmanager", credentials)
    secret = secrets_manager.create_secret(
        Name="signoff/slack",
        SecretString=json.dumps({"bot_token": bot_token, "signing_secret": signing_secret}),
    )
    return LocalAws(endpoint, topic_arn, queue_url, secret["ARN"])


def stack_client(config: dict[str, Any], service: str) -> Any:
    """A client of the local stack's SNS, SQS or Secrets Manager, from its /local/config,
    signed with the credentials it keeps for its owner (`aws_credentials_file`)."""
    path = config.get("aws_credentials_file")
    credentials = Credentials.load(Path(str(path))) if path else None
    return client(str(config["aws_endpoint"]), service, credentials)
