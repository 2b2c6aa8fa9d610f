"""The CLI's local target hears what the local stack says when its policies are broken."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from signoff.errors import ConfigError
from signoff.local import serving
from signoff.targets import LocalTarget

BROKEN = "policies.yaml, line 3, column 7: a key given twice: 'prod-db'"


class _Stack(BaseHTTPRequestHandler):
    """Just enough of `signoff dev`: its config, and a broken policy document."""

    def do_GET(self) -> None:
        if self.path == "/local/config":
            body, status = (
                {"dynamodb_endpoint": "http://127.0.0.1:9", "region": "us-east-1", "table": "t"},
                200,
            )
        elif self.path == "/local/policies":
            body, status = {"error": BROKEN}, 500
        else:
            body, status = {"error": "not found"}, 404
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stack_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stack)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    serving.stop(server)
    thread.join()


def test_a_broken_local_document_is_a_config_error_naming_its_file_and_line(
    stack_url: str,
) -> None:
    with pytest.raises(ConfigError) as refused:
        LocalTarget(stack_url).policies()
    assert BROKEN in str(refused.value)
