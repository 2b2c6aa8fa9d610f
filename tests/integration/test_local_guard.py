"""The loopback guard in front of the local servers, on a real server on loopback.

A request for a foreign Host (DNS rebinding), from another site's page (Origin), or with
a body over the limit is refused before anything reads it (signoff/local/guard.py).
moto answers only requests signed with the stack's credentials (signoff/local/aws.py).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from signoff.local import aws, guard, serving
from signoff.local.slack_standin.routes import blueprint
from signoff.local.slack_standin.standin import SlackStandIn
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

pytestmark = pytest.mark.integration


class Guarded:
    """The stand-in's blueprint and a body-reading endpoint, behind the guard."""

    def __init__(self, tmp: Path):
        from flask import Flask, request
        from werkzeug.serving import make_server

        app = Flask("guarded")
        self.bodies: list[int] = []

        @app.post("/echo")
        def echo() -> dict[str, int]:
            self.bodies.append(len(request.get_data()))
            return {"read": self.bodies[-1]}

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = int(self.server.server_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.standin = SlackStandIn(
            tmp / "slack.jsonl",
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            events_url=f"{self.url}/slack/events",
            base_url=self.url,
        )
        app.register_blueprint(blueprint(self.standin))
        app.wsgi_app = guard.LoopbackOnly(app.wsgi_app, lambda: self.port)  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Guarded]:
    server = Guarded(tmp_path)
    yield server
    serving.stop(server.server)


def request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    sent = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def test_a_foreign_host_is_refused_and_loopback_names_are_served(guarded: Guarded) -> None:
    for host in ("evil.example", f"evil.example:{guarded.port}", "127.0.0.1", "localhost:1"):
        status, _ = request(f"{guarded.url}/local/messages", headers={"Host": host})
        assert status == 421, host
    for host in (f"127.0.0.1:{guarded.port}", f"localhost:{guarded.port}", f"[::1]:{guarded.port}"):
        status, body = request(f"{guarded.url}/local/messages", headers={"Host": host})
        assert status == 200, host
        assert "messages" in json.loads(body)


def test_a_page_of_another_site_is_refused(guarded: Guarded) -> None:
    status, _ = request(
        f"{guarded.url}/local/channels/approvals/leave",
        data=b"",
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403
    assert guarded.standin.api("conversations.info", BOT_TOKEN, {"channel": "approvals"})[
        "channel"
    ]["is_member"]
    status, _ = request(
        f"{guarded.url}/local/channels/approvals/leave",
        data=b"",
        headers={"Origin": f"http://localhost:{guarded.port}"},  # the local page itself
    )
    assert status == 200


def test_a_10_mb_body_gets_413_at_once_without_being_read(guarded: Guarded) -> None:
    """Only the headers are sent: the answer comes without the server waiting for the body."""
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as conn:
        began = time.monotonic()
        conn.sendall(
            (
                "POST /echo HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{guarded.port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        answer = conn.recv(4096).decode()
        waited = time.monotonic() - began
    assert answer.startswith("HTTP/1.1 413"), answer
    assert waited < 5, waited  # not the client's 10 s timeout: nothing waited for a body
    assert guarded.bodies == []
    status, body = request(f"{guarded.url}/echo", data=b"x" * guard.MAX_BODY)
    assert (status, json.loads(body)) == (200, {"read": guard.MAX_BODY})


def test_a_chunked_body_without_a_length_is_refused(guarded: Guarded) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as conn:
        conn.sendall(
            (
                "POST /echo HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{guarded.port}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        assert conn.recv(4096).decode().startswith("HTTP/1.1 411")
    assert guarded.bodies == []


@pytest.mark.parametrize(
    "values",
    ["reason", ["reason"], {"reason": "text"}, {"reason": {"input": 3}}, None],
    ids=["string", "list", "flat", "number", "null"],
)
def test_a_view_submission_of_the_wrong_shape_is_a_400(guarded: Guarded, values: Any) -> None:
    view = guarded.standin.api(
        "views.open",
        BOT_TOKEN,
        {"trigger_id": guarded.standin.trigger("U0APPROVER"), "view": {"type": "modal"}},
    )["view"]
    status, body = request(
        f"{guarded.url}/local/views/{view['id']}/submit",
        data=json.dumps({"user": "U0APPROVER", "values": values}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 400, body
    assert "bad submission" in json.loads(body)["error"]


@pytest.fixture
def locked_moto() -> Iterator[tuple[aws.LocalAws, aws.Credentials]]:
    """moto behind the signature check, with a topic, a queue and a secret of its own (moto's
    backends are shared by every moto server in this process: the names are this test's)."""
    credentials = aws.Credentials.generate()
    server, endpoint = aws.start_moto(credentials)
    suffix = secrets.token_hex(4)
    topic = aws.client(endpoint, "sns", credentials).create_topic(Name=f"guard-{suffix}")
    queue = aws.client(endpoint, "sqs", credentials).create_queue(QueueName=f"guard-{suffix}")
    secret = aws.client(endpoint, "secretsmanager", credentials).create_secret(
        Name=f"guard/{suffix}",
        SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}),
    )
    yield aws.LocalAws(endpoint, topic["TopicArn"], queue["QueueUrl"], secret["ARN"]), credentials
    server.stop()


def test_moto_serves_the_secret_only_to_the_stacks_credentials(
    locked_moto: tuple[aws.LocalAws, aws.Credentials],
) -> None:
    local, credentials = locked_moto
    signed = aws.client(local.endpoint, "secretsmanager", credentials)
    assert BOT_TOKEN in signed.get_secret_value(SecretId=local.secret_id)["SecretString"]
    anyone = aws.Credentials("local", "local")
    for stranger in (anyone, aws.Credentials(credentials.access_key_id, "guessed")):
        for service, call in (
            ("secretsmanager", lambda c: c.get_secret_value(SecretId=local.secret_id)),
            ("sns", lambda c: c.publish(TopicArn=local.topic_arn, Message="forged")),
            ("sqs", lambda c: c.receive_message(QueueUrl=local.queue_url)),
        ):
            with pytest.raises(ClientError) as refused:
                call(aws.client(local.endpoint, service, stranger))
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Unsigned, and moto's own pages (they dump every backend's state).
    for path in ("/", "/moto-api/data.json", "/moto-api/reset-auth"):
        status, body = request(local.endpoint + path)
        assert status == 403, path
        assert BOT_TOKEN not in body
    status, _ = request(local.endpoint + "/", headers={"Host": "evil.example"})
    assert status == 421


def test_port_80_is_also_asked_for_without_its_number() -> None:
    assert "localhost" in guard.loopback_hosts(80)
    assert "localhost" not in guard.loopback_hosts(3000)
    assert guard.loopback_hosts(3000) == {"127.0.0.1:3000", "localhost:3000", "[::1]:3000"}
