"""The GitHub Action's dispatch mode: on approval, a `repository_dispatch` to the repository
the request names, so a follow-up workflow runs the deploy and no runner waits.

Event type `signoff-approved`; `client_payload` (GitHub allows at most 10 top-level keys):
`approval_id`, `sha` (the bound commit, or null), `bindings` ({kind: value}), `approvers`
(who approved), `policy` (or null), `title`, `reused_from` (or null). A request that is not
approved dispatches nothing: the deploy never runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from signoff.binding import BindingKind
from signoff.errors import ConfigError
from signoff.gates.port import GateFailedError, GateRef
from signoff.gates.rest import call
from signoff.model import Approval, Status
from signoff.verify import ReleaseRefusedError, bound, check_release

KIND = "github-dispatch"
EVENT_TYPE = "signoff-approved"
API_VERSION = "2022-11-28"
# owner/repo as GitHub allows them: letters, digits, - _ . (an owner never starts with -).
_REPOSITORY_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}\Z", re.ASCII)


def repository_problem(value: str) -> str | None:
    if _REPOSITORY_RE.match(value) and not value.endswith(("/.", "/..")):
        return None
    return f"{value[:80]!r} is not a GitHub repository (OWNER/REPO)"


def dispatch_token(secret_id: str, value: Any) -> str:
    """The token from its secret: JSON {"token": "..."} (contents: write on the repository)."""
    if not isinstance(value, dict) or not isinstance(value.get("token"), str) or not value["token"]:
        raise ConfigError(f"secret {secret_id} must be JSON with a token")
    return str(value["token"])


def client_payload(approval: Approval) -> dict[str, Any]:
    return {
        "approval_id": approval.id,
        "sha": bound(approval, BindingKind.SHA),
        "bindings": {b.kind.value: b.value for b in approval.bindings},
        "approvers": list(approval.approved_by or (approval.decided_by,)),
        "policy": approval.policy.name or None,
        "title": approval.title,
        "reused_from": approval.reused_from or None,
    }


class GitHubDispatchGate:
    """Sends `signoff-approved` to a repository when its request is approved."""

    kind = KIND

    def __init__(self, token: Callable[[], str], api_url: str = "https://api.github.com"):
        self._token = token
        self._api_url = api_url.rstrip("/")

    def release(self, approval: Approval, ref: GateRef) -> str:
        repository = ref.target.get("repository", "")
        problem = repository_problem(repository)
        if problem:
            raise GateFailedError(problem)
        if approval.status is not Status.APPROVED:
            return f"{approval.status.value}: nothing dispatched"
        try:
            check_release(approval, bound(approval, BindingKind.SHA))
        except ReleaseRefusedError as exc:
            raise GateFailedError(str(exc)) from exc
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "Authorization": f"Bearer {self._token()}",
        }
        body = {"event_type": EVENT_TYPE, "client_payload": client_payload(approval)}
        url = f"{self._api_url}/repos/{repository}/dispatches"
        status, _ = call("POST", url, headers, body, service="GitHub")
        return f"{status}: {EVENT_TYPE} sent to {repository}"
