"""The local stack's GitHub: a REST API stand-in under /github-api/ and a webhook sender.

It answers what the GitHub gate calls — an installation token for a valid App JWT
(`POST /github-api/app/installations/{id}/access_tokens`) and a run's protection-rule
review (`POST /github-api/repos/{o}/{r}/actions/runs/{id}/deployment_protection_rule`) —
and records every call, each in its journal (`.signoff/github.jsonl`) before it is
answered. `GET /local/github` returns the calls and the runs as JSON. `POST
/local/github/webhook` sends a signed `deployment_protection_rule` webhook to the stack's
`/github/events`, as GitHub would; `POST /local/github/faults {"fail_callbacks": N}`
answers the next N reviews 502.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from signoff.gates.github import signature

APP_ID = "424242"
INSTALLATION_ID = "4242"


def local_app_keys(home: Path) -> dict[str, str]:
    """This checkout's GitHub App key pair and webhook secret, made once (owner only).
    SIGNOFF_GITHUB_WEBHOOK_SECRET, when set, is the webhook secret."""
    import os

    path = home / "local-github.json"
    values: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict) and all(
                isinstance(loaded.get(k), str)
                for k in ("webhook_secret", "private_key", "public_key")
            ):
                values = loaded
        except ValueError:
            values = {}
    if not values:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        values = {
            "webhook_secret": secrets.token_hex(20),
            "private_key": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "public_key": key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
        }
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
        path.chmod(0o600)
    if os.environ.get("SIGNOFF_GITHUB_WEBHOOK_SECRET"):
        values["webhook_secret"] = os.environ["SIGNOFF_GITHUB_WEBHOOK_SECRET"]
    return values


def deployment_event(
    *,
    api_url: str,
    repository: str = "octo-org/api",
    environment: str = "production",
    sha: str = "0123456789abcdef0123456789abcdef01234567",
    ref: str = "main",
    creator: str = "octocat",
    run_id: int = 1,
    installation_id: str = INSTALLATION_ID,
) -> dict[str, Any]:
    """A `deployment_protection_rule` event with action `requested`, shaped as GitHub's
    webhook reference documents it (the fields signoff reads, and a few around them)."""
    owner = repository.split("/", 1)[0]
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "ref": ref,
        "sha": sha,
        "deployment_callback_url": (
            f"{api_url}/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule"
        ),
        "deployment": {
            "id": run_id * 10,
            "sha": sha,
            "ref": ref,
            "task": "deploy",
            "environment": environment,
            "creator": {"login": creator, "id": 1, "type": "User"},
            "url": f"{api_url}/repos/{repository}/deployments/{run_id * 10}",
        },
        "pull_requests": [],
        "repository": {
            "id": 1296269,
            "full_name": repository,
            "name": repository.split("/", 1)[-1],
            "owner": {"login": owner},
            "html_url": f"https://github.com/{repository}",
        },
        "installation": {"id": int(installation_id), "node_id": "MDIz"},
        "sender": {"login": creator, "id": 1, "type": "User"},
    }


def post_webhook(
    url: str,
    secret: str,
    body: bytes,
    *,
    event: str = "deployment_protection_rule",
    delivery: str | None = None,
    sign: bool = True,
) -> tuple[int, dict[str, Any]]:
    """POST a webhook as GitHub does (X-Hub-Signature-256 over the raw body)."""
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "User-Agent": "GitHub-Hookshot/local",
    }
    if sign:
        headers["X-Hub-Signature-256"] = signature(secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")[:500]}
    return value if isinstance(value, dict) else {"value": value}


class GitHubStandIn:
    def __init__(self, journal_file: Path, *, api_url: str, events_url: str, keys: dict[str, str]):
        self._file = journal_file
        self.api_url = api_url.rstrip("/")
        self._events_url = events_url
        self._keys = keys
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._fail_callbacks = 0
        self._calls: list[dict[str, Any]] = []
        self._runs: dict[str, dict[str, Any]] = {}
        if journal_file.exists():
            for line in journal_file.read_text().splitlines():
                try:
                    self._apply(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # a line a kill cut short
        self._journal = journal_file.open("a")

    def close(self) -> None:
        with self._lock:
            self._journal.close()

    def _record(self, entry: dict[str, Any]) -> None:
        self._journal.write(json.dumps(entry) + "\n")
        self._journal.flush()
        self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        if entry["op"] == "call":
            self._calls.append(entry["call"])
        elif entry["op"] == "run":
            self._runs[entry["key"]] = {**self._runs.get(entry["key"], {}), **entry["run"]}

    def recorded(self) -> dict[str, Any]:
        with self._lock:
            copied: dict[str, Any] = json.loads(
                json.dumps({"calls": self._calls, "runs": list(self._runs.values())})
            )
        return copied

    def fail_callbacks(self, count: int) -> None:
        with self._lock:
            self._fail_callbacks = count

    # -- the REST API -----------------------------------------------------------------

    def access_token(self, installation_id: str, authorization: str) -> tuple[int, dict[str, Any]]:
        import jwt

        call: dict[str, Any] = {
            "at": time.time(),
            "method": "POST",
            "path": f"/app/installations/{installation_id}/access_tokens",
        }
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(
                token,
                self._keys["public_key"],
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
            valid = str(claims["iss"]) == APP_ID and claims["exp"] - claims["iat"] <= 600
        except jwt.PyJWTError as exc:
            valid, call["error"] = False, str(exc)
        with self._lock:
            if not valid or installation_id != INSTALLATION_ID:
                call["status"] = 401
                self._record({"op": "call", "call": call})
                return 401, {"message": "A JSON web token could not be decoded"}
            issued = "ghs_local" + secrets.token_hex(16)
            self._tokens.add(issued)
            call["status"] = 201
            self._record({"op": "call", "call": call})
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return 201, {
            "token": issued,
            "expires_at": expires,
            "permissions": {"deployments": "write"},
        }

    def review(
        self, repository: str, run_id: str, authorization: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        path = f"/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule"
        call: dict[str, Any] = {"at": time.time(), "method": "POST", "path": path, "body": body}
        token = authorization.removeprefix("token ").removeprefix("Bearer ").strip()
        with self._lock:
            if token not in self._tokens:
                call["status"] = 401
                self._record({"op": "call", "call": call})
                return 401, {"message": "Bad credentials"}
            if self._fail_callbacks > 0:
                self._fail_callbacks -= 1
                call["status"] = 502
                self._record({"op": "call", "call": call})
                return 502, {"message": "Server Error (a fault the local stack was asked for)"}
            ok = (
                isinstance(body, dict)
                and isinstance(body.get("environment_name"), str)
                and body.get("state") in ("approved", "rejected")
                and isinstance(body.get("comment", ""), str)
            )
            call["status"] = 204 if ok else 422
            self._record({"op": "call", "call": call})
            if not ok:
                return 422, {"message": "environment_name and state (approved|rejected) needed"}
            key = f"{repository}#{run_id}#{body['environment_name']}"
            self._record(
                {
                    "op": "run",
                    "key": key,
                    "run": {"state": body["state"], "comment": body.get("comment", "")},
                }
            )
        return 204, {}

    # -- GitHub's side of a deployment: the webhook ------------------------------------

    def send_webhook(self, **given: Any) -> tuple[int, dict[str, Any]]:
        event = deployment_event(api_url=self.api_url, **given)
        repository, run_id = event["repository"]["full_name"], event["deployment"]["id"] // 10
        key = f"{repository}#{run_id}#{event['environment']}"
        with self._lock:
            self._record(
                {
                    "op": "run",
                    "key": key,
                    "run": {
                        "repository": repository,
                        "run_id": run_id,
                        "environment": event["environment"],
                        "sha": event["deployment"]["sha"],
                        "ref": event["deployment"]["ref"],
                        "state": "waiting",
                        "comment": "",
                        "url": f"https://github.com/{repository}/actions/runs/{run_id}",
                    },
                }
            )
        body = json.dumps(event).encode()
        return post_webhook(self._events_url, self._keys["webhook_secret"], body)


_WEBHOOK_KEYS = {"repository", "environment", "sha", "ref", "creator", "run_id"}


def blueprint(standin: GitHubStandIn) -> Any:
    from flask import Blueprint, jsonify, request

    bp = Blueprint("github_standin", __name__)

    def answer(result: tuple[int, dict[str, Any]]) -> Any:
        status, body = result
        return (jsonify(body), status) if status != 204 else ("", 204)

    @bp.post("/github-api/app/installations/<installation_id>/access_tokens")
    def access_token(installation_id: str) -> Any:
        return answer(
            standin.access_token(installation_id, request.headers.get("Authorization", ""))
        )

    @bp.post("/github-api/repos/<owner>/<repo>/actions/runs/<run_id>/deployment_protection_rule")
    def review(owner: str, repo: str, run_id: str) -> Any:
        body = request.get_json(silent=True)
        auth = request.headers.get("Authorization", "")
        return answer(standin.review(f"{owner}/{repo}", run_id, auth, body))

    @bp.get("/local/github")
    def recorded() -> Any:
        return jsonify(standin.recorded())

    @bp.post("/local/github/faults")
    def faults() -> Any:
        data = request.get_json(silent=True) or {}
        count = data.get("fail_callbacks") if isinstance(data, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100:
            return jsonify({"error": 'expected {"fail_callbacks": 0..100}'}), 400
        standin.fail_callbacks(count)
        return jsonify({"fail_callbacks": count})

    @bp.post("/local/github/webhook")
    def webhook() -> Any:
        data = request.get_json(silent=True) or {}
        if not isinstance(data, dict) or set(data) - _WEBHOOK_KEYS:
            return jsonify({"error": f"expected a JSON object with {sorted(_WEBHOOK_KEYS)}"}), 400
        if "run_id" in data and (not isinstance(data["run_id"], int) or data["run_id"] < 1):
            return jsonify({"error": "run_id must be a positive whole number"}), 400
        if not all(isinstance(v, str) for k, v in data.items() if k != "run_id"):
            return jsonify({"error": "repository, environment, sha, ref and creator are text"}), 400
        status, said = standin.send_webhook(**data)
        return jsonify({"status": status, "answer": said}), 200

    return bp
