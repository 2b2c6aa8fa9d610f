"""One JSON-over-HTTPS call for the gates that speak REST (GitHub dispatch, GitLab), with
the HTTP answer mapped to the port's errors: what a retry may fix, and what it cannot."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from signoff.gates.port import GateFailedError, GateRetryError

HTTP_TIMEOUT = 10.0  # seconds per call (the notifier has 30 s for a delivery)
# Answers no retry changes: bad request, bad or missing credentials, no such thing, gone,
# refused as unprocessable. 408, 429 and 5xx are worth another try.
PERMANENT = frozenset({400, 401, 403, 404, 405, 410, 422})
MAX_SAID = 300


def call(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Any = None,
    *,
    service: str,
) -> tuple[int, str]:
    """`method url` with a JSON body; (status, the first 4 KB of the answer). Raises
    GateFailedError for a permanent refusal, GateRetryError for anything a retry may fix.
    The URL's path, never its query or the headers (they hold the token), is quoted."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in headers.items():
        request.add_header(name, value)
    request.add_header("User-Agent", "signoff")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    where = urlsplit(url).path
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        said = exc.read(MAX_SAID).decode("utf-8", "replace")
        error = f"{service} answered {exc.code} to {method} {where}: {said}"
        if exc.code in PERMANENT:
            raise GateFailedError(error) from exc
        raise GateRetryError(error) from exc
    except (OSError, urllib.error.URLError) as exc:
        raise GateRetryError(f"{service} did not answer {method} {where}: {exc}") from exc


def checked_base_url(url: str, setting: str) -> str:
    """An API base URL: https, or plain http on the loopback only (the local stack)."""
    url = url.rstrip("/")
    if not url.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
        from signoff.errors import ConfigError

        raise ConfigError(f"{setting} must be an https:// URL")
    return url
