"""GitHub's custom deployment protection rule, as a signoff gate (a GitHub App).

In: GitHub POSTs a `deployment_protection_rule` webhook to `/github/events` when a job
targets an environment the App protects. `GitHubDoor` checks `X-Hub-Signature-256` on
the raw body before anything is parsed, ignores a redelivery of the same
`X-GitHub-Delivery` (one conditional write per delivery), maps the repository and the
environment to a policy (the policy document's `github:` section) and starts the
approval asynchronously, answering GitHub at once.

Out: when the outcome is committed, `GitHubGate.release` signs the App's JWT (RS256),
mints an installation token (`POST /app/installations/{id}/access_tokens`) and POSTs the
event's `deployment_callback_url` with `environment_name`, `state` and a `comment`
naming who decided and why. Shapes: docs/gates/github.md, with GitHub's pages cited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from signoff.binding import Binding, BindingKind
from signoff.errors import ConfigError, SignoffError, ValidationError
from signoff.gates.port import GateFailedError, GateRef, GateRetryError, Link, verdict
from signoff.model import Approval, StartRequest, person_problem
from signoff.verify import ReleaseRefusedError, check_release

log = logging.getLogger(__name__)

KIND = "github"
EVENTS_PATH = "/github/events"
API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
# GitHub caps a webhook payload at 25 MB; a deployment_protection_rule event is a few KB
# (with its pull requests, tens). A larger body is refused unread.
MAX_BODY = 512 * 1024
DEFAULT_TIMEOUT = timedelta(hours=24)
HTTP_TIMEOUT = 10.0  # seconds, per GitHub API call (the notifier has 30 s)
# GitHub retries nothing itself, but a person may press "Redeliver": the same delivery id.
DELIVERY_RETENTION = timedelta(days=30)
_PERMANENT = {400, 401, 403, 404, 410, 422}


class WebhookRefusedError(SignoffError):
    """A webhook the door refuses: the HTTP status and a sentence for GitHub's delivery log."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# -- what the deployment holds: which policy guards which repository and environment ---


@dataclass(frozen=True, kw_only=True)
class Route:
    """Requests from `repository` (owner/name, or owner/*, or *) deploying to
    `environment` (a name, or *) go to `policy` (or, locally, ad-hoc `approvers`)."""

    repository: str
    environment: str
    policy: str = ""
    approvers: tuple[str, ...] = ()
    timeout: timedelta = DEFAULT_TIMEOUT

    def matches(self, repository: str, environment: str) -> bool:
        owner = repository.split("/", 1)[0]
        repo_ok = self.repository in ("*", repository.lower(), f"{owner.lower()}/*")
        return repo_ok and self.environment in ("*", environment.lower())


@dataclass(frozen=True, kw_only=True)
class Routes:
    """The policy document's `github:` section: routes (first match wins) and the GitHub
    logins known as Slack users (`users`), so a deployment's creator is its requester."""

    routes: tuple[Route, ...] = ()
    users: Mapping[str, str] = field(default_factory=dict)
    default_requester: str = ""

    def route(self, repository: str, environment: str) -> Route | None:
        return next((r for r in self.routes if r.matches(repository, environment)), None)

    def requester(self, login: str) -> str:
        """The Slack user a GitHub login is; else the login itself, a plain name."""
        mapped = self.users.get(login.lower())
        if mapped:
            return mapped
        if self.default_requester:
            return self.default_requester
        return login if person_problem("requester", login) is None else "github"

    @classmethod
    def parse(cls, data: Any, problems: list[str]) -> Routes:
        """The `github:` section; problems are appended as sentences."""
        from signoff.model import MAX_TIMEOUT, MIN_TIMEOUT, parse_duration

        if data is None:
            return cls()
        if not isinstance(data, dict) or set(data) - {"routes", "users"}:
            problems.append("github must be a mapping with `routes` (and `users`)")
            return cls()
        routes: list[Route] = []
        raw_routes = data.get("routes", [])
        if not isinstance(raw_routes, list):
            problems.append("github.routes must be a list")
            raw_routes = []
        for index, raw in enumerate(raw_routes):
            where = f"github.routes[{index}]"
            if not isinstance(raw, dict) or set(raw) - {
                "repository",
                "environment",
                "policy",
                "timeout",
            }:
                problems.append(f"{where} must hold repository, environment, policy (timeout)")
                continue
            values = {k: raw.get(k, "*" if k != "policy" else "") for k in raw}
            if not all(isinstance(v, str) for v in values.values()) or not values.get("policy"):
                problems.append(f"{where}: repository, environment and policy are text")
                continue
            try:
                timeout = parse_duration(values.get("timeout") or "24h")
            except ValidationError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
                problems.append(f"{where}: the timeout must be between 1s and 7d")
                continue
            routes.append(
                Route(
                    repository=values.get("repository", "*").lower(),
                    environment=values.get("environment", "*").lower(),
                    policy=values["policy"],
                    timeout=timeout,
                )
            )
        users = data.get("users", {})
        if not isinstance(users, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in users.items()
        ):
            problems.append("github.users must map GitHub logins to Slack user ids")
            users = {}
        problems += [p for v in users.values() if (p := person_problem("github.users", v))]
        return cls(routes=tuple(routes), users={k.lower(): v for k, v in users.items()})


# -- in: the webhook --------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """GitHub's `X-Hub-Signature-256` of a body: `sha256=` + HMAC-SHA256 hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Deliveries(Protocol):
    """Which webhook deliveries were handled: `first` is True once per delivery id."""

    def first(self, delivery_id: str) -> bool: ...
    def forget(self, delivery_id: str) -> None: ...


class Starter(Protocol):
    def start(self, request: StartRequest) -> object: ...


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """What a deployment_protection_rule event says, as far as signoff uses it."""

    repository: str
    environment: str
    ref: str
    sha: str
    creator: str
    callback_url: str
    installation_id: str
    run_url: str

    @classmethod
    def parse(cls, event: Any, api_url: str) -> Deployment:
        def text(source: Any, *path: str) -> str:
            value = source
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value or len(value) > 1000:
                raise WebhookRefusedError(400, f"malformed event: {'.'.join(path)} is missing")
            return value

        deployment = event.get("deployment") if isinstance(event, dict) else None
        callback = text(event, "deployment_callback_url")
        parts = urlsplit(callback)
        prefix = urlsplit(api_url)
        segments = parts.path.split("/")
        # .../repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule
        if (
            (parts.scheme, parts.netloc) != (prefix.scheme, prefix.netloc)
            or not parts.path.startswith(prefix.path.rstrip("/") + "/repos/")
            or segments[-1] != "deployment_protection_rule"
            or segments[-3] != "runs"
            or not segments[-2].isdigit()
        ):
            raise WebhookRefusedError(
                400, "malformed event: deployment_callback_url is not a run's on the GitHub API"
            )
        repository = text(event, "repository", "full_name")
        html = event["repository"].get("html_url")
        base = html if isinstance(html, str) and html.startswith("https://") else ""
        return cls(
            repository=repository,
            environment=text(event, "environment"),
            ref=text(deployment, "ref"),
            sha=text(deployment, "sha"),
            creator=text(deployment, "creator", "login"),
            callback_url=callback,
            installation_id=text(event, "installation", "id"),
            run_url=f"{base or 'https://github.com/' + repository}/actions/runs/{segments[-2]}",
        )

    def approval_id(self) -> str:
        """One approval per run and environment, whatever the delivery."""
        digest = hashlib.sha256(f"{self.callback_url}\n{self.environment}".encode()).hexdigest()
        return f"gh-{digest[:20]}"


class GitHubDoor:
    """`POST /github/events`: checked, deduplicated, and started without waiting."""

    def __init__(
        self,
        *,
        secret: Callable[[], str],
        deliveries: Deliveries,
        starter: Starter,
        routes: Callable[[], Routes],
        api_url: str = API_URL,
    ):
        self._secret = secret
        self._deliveries = deliveries
        self._starter = starter
        self._routes = routes
        self._api_url = api_url.rstrip("/")

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """The HTTP status and a JSON answer; never raises for what a sender controls."""
        try:
            return self._handle({k.lower(): v for k, v in headers.items()}, body)
        except WebhookRefusedError as exc:
            log.warning("refused a GitHub webhook (%d): %s", exc.status, exc)
            return exc.status, {"error": str(exc)}

    def _handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if len(body) > MAX_BODY:
            raise WebhookRefusedError(413, f"the body is over {MAX_BODY} bytes")
        given = headers.get("x-hub-signature-256", "")
        if not given.isascii() or not hmac.compare_digest(
            given.encode(), signature(self._secret(), body).encode()
        ):
            raise WebhookRefusedError(401, "the X-Hub-Signature-256 signature does not match")
        delivery = headers.get("x-github-delivery", "")
        if not (1 <= len(delivery) <= 100 and delivery.isascii() and delivery.isprintable()):
            raise WebhookRefusedError(400, "X-GitHub-Delivery is missing or malformed")
        kind = headers.get("x-github-event", "")
        if kind == "ping":
            return 200, {"ok": True, "said": "pong"}
        if kind != "deployment_protection_rule":
            return 202, {"ignored": f"{kind[:50] or 'an unnamed'} event"}
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookRefusedError(400, "the body is not JSON") from exc
        if not isinstance(event, dict):
            raise WebhookRefusedError(400, "the body is not a JSON object")
        if event.get("action") != "requested":
            return 202, {"ignored": f"action {str(event.get('action'))[:50]}"}
        deployment = Deployment.parse(event, self._api_url)
        request = self._request(deployment)
        if not self._deliveries.first(delivery):
            return 200, {"duplicate": delivery, "id": request.id}
        try:
            self._starter.start(request)
        except Exception:
            self._deliveries.forget(delivery)  # a redelivery may start it
            raise
        log.info("%s: started for %s %s", request.id, deployment.repository, deployment.environment)
        return 202, {"id": request.id, "status": "pending"}

    def _request(self, deployment: Deployment) -> StartRequest:
        routes = self._routes()
        route = routes.route(deployment.repository, deployment.environment)
        if route is None:
            raise WebhookRefusedError(
                422,
                f"no github route in the policy document matches {deployment.repository} "
                f"environment {deployment.environment}: add one, then re-run the job",
            )
        try:
            return StartRequest(
                id=deployment.approval_id(),
                title=f"Deploy {deployment.repository} to {deployment.environment}",
                requester=routes.requester(deployment.creator),
                approvers=route.approvers,
                policy=route.policy,
                channel="",
                timeout=route.timeout,
                fields=(
                    ("repository", deployment.repository),
                    ("environment", deployment.environment),
                    ("ref", deployment.ref),
                    ("commit", deployment.sha),
                    ("deployed by", deployment.creator),
                ),
                links=(Link(name="Workflow run", url=deployment.run_url),),
                # What is approved is this commit: `signoff verify` and the release check it.
                bindings=(Binding(kind=BindingKind.SHA, value=deployment.sha.lower()),),
                gate=GateRef(
                    kind=KIND,
                    target={
                        "callback_url": deployment.callback_url,
                        "installation_id": deployment.installation_id,
                        "environment": deployment.environment,
                        "repository": deployment.repository,
                        "sha": deployment.sha,
                    },
                ),
            )
        except ValidationError as exc:
            raise WebhookRefusedError(422, f"the deployment cannot be a request: {exc}") from exc


# -- out: the release ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AppCredentials:
    app_id: str
    private_key: str


def check_app_credentials(secret_id: str, value: Any) -> AppCredentials:
    if not isinstance(value, dict) or not value.get("app_id") or not value.get("private_key"):
        raise ConfigError(f"secret {secret_id} must be JSON with app_id and private_key")
    return AppCredentials(app_id=str(value["app_id"]), private_key=str(value["private_key"]))


class GitHubGate:
    """Approves or rejects a run's deployment protection rule, as the GitHub App."""

    kind = KIND

    def __init__(
        self,
        credentials: Callable[[], AppCredentials],
        api_url: str = API_URL,
        clock: Callable[[], float] = time.time,
    ):
        self._credentials = credentials
        self._api_url = api_url.rstrip("/")
        self._clock = clock

    def release(self, approval: Approval, ref: GateRef) -> str:
        callback = ref.target.get("callback_url", "")
        if not callback.startswith(self._api_url + "/repos/"):
            # Never send the App's token anywhere but the GitHub API it belongs to.
            raise GateFailedError(f"the callback URL is not on {self._api_url}")
        said = verdict(approval)
        state, comment = ("approved" if said.approved else "rejected"), said.summary
        if said.approved:
            try:  # never approve a run whose commit is not the one approved
                check_release(approval, ref.target.get("sha"))
            except ReleaseRefusedError as exc:
                state, comment = "rejected", f"signoff refused the release: {exc}"
        token = self._installation_token(ref.target.get("installation_id", ""))
        body = {"environment_name": ref.target["environment"], "state": state}
        body["comment"] = comment
        status, answer = self._call("POST", callback, f"token {token}", body)
        return f"{status} {state}: {answer[:200]}".strip()

    def _installation_token(self, installation_id: str) -> str:
        if not installation_id.isdigit():
            raise GateFailedError(f"installation id {installation_id[:30]!r} is not a number")
        url = f"{self._api_url}/app/installations/{installation_id}/access_tokens"
        _, answer = self._call("POST", url, f"Bearer {self.app_jwt()}", None)
        try:
            token = json.loads(answer)["token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise GateRetryError("GitHub's access token answer had no token") from exc
        return str(token)

    def app_jwt(self) -> str:
        """The App's JWT: issued a minute back (clock drift), valid 9 minutes (GitHub: 10 at
        most), signed RS256 with the App's private key."""
        import jwt

        credentials = self._credentials()
        now = int(self._clock())
        claims = {"iat": now - 60, "exp": now + 540, "iss": credentials.app_id}
        try:
            return jwt.encode(claims, credentials.private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise GateFailedError(f"the App's private key cannot sign: {exc}") from exc

    def _call(self, method: str, url: str, auth: str, body: Any) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("Authorization", auth)
        request.add_header("User-Agent", "signoff")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                return response.status, response.read(4096).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            said = exc.read(500).decode("utf-8", "replace")
            where = urlsplit(url).path
            if exc.code in _PERMANENT:
                raise GateFailedError(f"GitHub answered {exc.code} to {where}: {said}") from exc
            raise GateRetryError(f"GitHub answered {exc.code} to {where}: {said}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise GateRetryError(f"GitHub did not answer {urlsplit(url).path}: {exc}") from exc
