"""A server on its own thread stops when asked, without waiting out its poll."""

from __future__ import annotations

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from signoff.local import serving


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_polling_once_an_hour_stops_at_once_and_closes_its_socket() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    # An hour between looks at the stop request: only the wake-up can end it in this test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600})
    thread.daemon = True
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"ok"

    serving.stop(server)

    thread.join(timeout=30)
    assert not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
