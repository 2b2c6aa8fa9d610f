"""What every HTTP server of the local stack refuses before it reads a request.

The servers listen on 127.0.0.1 only, which keeps the network out but not a web page in
the developer's own browser: a page of any site may send requests to 127.0.0.1, and one
served from a name that its DNS later points at 127.0.0.1 ("DNS rebinding") may also read
the answers — the Slack conversation, the table — and click as anyone. So a request is
refused, before anything reads its body, when

- its `Host` is not 127.0.0.1, localhost or [::1] at the server's port: 421;
- it carries an `Origin` other than those (a page of another site): 403;
- its body is larger than MAX_BODY (Slack's payloads are a few KB; a Lambda Function URL
  takes 6 MB at most): 413, unread; or has no declared length (chunked): 411.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

MAX_BODY = 1024 * 1024  # bytes

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def loopback_hosts(port: int) -> frozenset[str]:
    """The `Host` values a request to a local server on `port` may carry (a client leaves
    out port 80, HTTP's own)."""
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    return frozenset(hosts | set(LOOPBACK_NAMES) if port == 80 else hosts)


def refuse(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body]


def refusal(environ: dict[str, Any], port: int, max_body: int = MAX_BODY) -> tuple[str, str] | None:
    """Why a request to a local server on `port` is refused (status, text), or None."""
    hosts = loopback_hosts(port)
    host = str(environ.get("HTTP_HOST", "")).lower()
    if host not in hosts:
        return "421 Misdirected Request", (
            f"this local server answers requests for {', '.join(sorted(hosts))} only"
        )
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and str(origin).lower() not in {f"http://{h}" for h in hosts}:
        return "403 Forbidden", "requests from pages of other sites are refused"
    if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        return "411 Length Required", "a body must declare its length (Content-Length)"
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", "Content-Length is not a number"
    if length > max_body:
        return "413 Content Too Large", (
            f"a body of {length} bytes is over this server's limit of {max_body}: refused unread"
        )
    return None


class LoopbackOnly:
    """WSGI middleware: `refusal` first, then the app. `port` is read per request (a
    server bound to port 0 learns its port after it is made)."""

    def __init__(self, app: WsgiApp, port: Callable[[], int], max_body: int = MAX_BODY):
        self.app = app
        self._port = port
        self._max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refused = refusal(environ, self._port(), self._max_body)
        if refused is not None:
            return refuse(start_response, *refused)
        return self.app(environ, start_response)
