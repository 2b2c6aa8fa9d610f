"""A reverse proxy on loopback that breaks chosen requests on the wire.

Point a client at `proxy.url` instead of the real server. Every request is forwarded
to the target, except those a queued fault matches: the next N matching requests get
a canned answer, a late answer (after the client's read timeout), or a dropped
connection. The client code under test is unchanged; only the wire misbehaves.

    proxy.fail(amz_target("TransactWriteItems"), times=2, status=400, body=throttling())
    proxy.fail(path_is("/api/chat.postMessage"), times=1, delay=2.0, forward=True)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from signoff.local import serving

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it, and what it did with it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    outcome: str  # "forwarded", "answered", "late", "dropped"


Predicate = Callable[[Seen], bool]


def amz_target(operation: str) -> Predicate:
    """Matches an AWS JSON-protocol call by its X-Amz-Target (e.g. TransactWriteItems)."""
    return lambda seen: seen.headers.get("x-amz-target", "").endswith("." + operation)


def path_is(path: str) -> Predicate:
    """Matches a request path such as /api/chat.postMessage."""
    return lambda seen: seen.path.split("?", 1)[0] == path


def throttling(code: str = "ThrottlingException") -> bytes:
    """The body DynamoDB sends with HTTP 400 when it throttles."""
    return json.dumps(
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"}
    ).encode()


@dataclass
class Fault:
    match: Predicate
    times: int
    status: int = 0  # answer with this status (0: pass the target's answer through)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # hold the answer this long (longer than the client's timeout)
    forward: bool = False  # let the request reach the target before misbehaving
    drop: bool = False  # close the connection without an answer


class FaultProxy:
    def __init__(self, target: str):
        parts = urlsplit(target)
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 80
        self.target_prefix = parts.path.rstrip("/")
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        serving.stop(self._server)
        self._thread.join()

    # -- telling it what to break ----------------------------------------------------

    def fail(self, match: Predicate, times: int = 1, **how: Any) -> Fault:
        fault = Fault(match, times, **how)
        if not (fault.status or fault.forward or fault.drop):
            raise ValueError("a fault needs a status, forward=True or drop=True")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, match: Predicate, outcome: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for s in self.seen if match(s) and (outcome is None or s.outcome == outcome)
            )

    # -- the wire ----------------------------------------------------------------------

    def _take(self, seen: Seen) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.match(seen):
                    fault.times -= 1
                    return fault
        return None

    def _record(self, seen: Seen, outcome: str) -> None:
        with self._lock:
            self.seen.append(Seen(seen.method, seen.path, seen.headers, seen.body, outcome))

    def _forward(self, seen: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.target_host, self.target_port, timeout=30)
        try:
            headers = {k: v for k, v in seen.headers.items() if k not in _HOP_BY_HOP}
            headers["content-length"] = str(len(seen.body))
            # Addressed to the upstream, as its own clients address it: the local servers
            # refuse a request for another host (signoff/local/guard.py).
            headers["host"] = f"{self.target_host}:{self.target_port}"
            conn.request(seen.method, self.target_prefix + seen.path, seen.body, headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        seen = Seen(
            handler.command,
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            "",
        )
        fault = self._take(seen)
        if fault is None:
            status, headers, answer = self._forward(seen)
            self._record(seen, "forwarded")
            self._answer(handler, status, headers, answer)
            return
        status, headers, answer = 0, [], b""
        if fault.forward:
            status, headers, answer = self._forward(seen)
        if fault.status:
            status, headers, answer = fault.status, list(fault.headers.items()), fault.body
            if "content-type" not in {k.lower() for k, _ in headers}:
                headers.append(("Content-Type", "application/json"))
        if fault.drop:
            self._record(seen, "dropped")
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.delay:
            self._record(seen, "late")
            time.sleep(fault.delay)
        else:
            self._record(seen, "answered")
        try:
            self._answer(handler, status, headers, answer)
        except OSError:
            handler.close_connection = True  # the client gave up waiting

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        handler.send_response(status)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
        handler.wfile.flush()
