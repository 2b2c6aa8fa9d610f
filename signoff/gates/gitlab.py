"""GitLab: on approval, play a `when: manual` job (`POST /projects/:id/jobs/:job_id/play`).

A request names its job with `--on-approve gitlab-play:PROJECT:JOB` (PROJECT: the numeric
id or the path, `group/project`; JOB: the manual job's id, found as docs/gates/gitlab.md
shows). Before playing, the job is read: it must still be manual, and its commit must be
the one the approval bound (`check_release`).
Nothing is played for a request that is not approved; the job stays manual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from signoff.errors import ConfigError
from signoff.gates.port import GateFailedError, GateRef, GateRetryError
from signoff.gates.rest import call
from signoff.model import Approval, Status
from signoff.verify import ReleaseRefusedError, check_release

KIND = "gitlab-play"
# A project id, or a path of namespaces and a name (letters, digits, _ - .).
_PROJECT_RE = re.compile(
    r"\A(?:[0-9]{1,19}|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+)\Z"
)
_JOB_RE = re.compile(r"\A[0-9]{1,19}\Z", re.ASCII)
# A job GitLab has played already (by us on an earlier try whose answer was lost, or by
# someone in GitLab): the release has happened.
_PLAYED = frozenset({"pending", "running", "success", "created", "waiting_for_resource"})


def target_problems(project: str, job: str) -> list[str]:
    problems = []
    if len(project) > 255 or not _PROJECT_RE.match(project):
        problems.append(f"{project[:80]!r} is not a GitLab project id or path (group/project)")
    if not _JOB_RE.match(job):
        problems.append(f"{job[:40]!r} is not a GitLab job id (digits)")
    return problems


def gitlab_token(secret_id: str, value: Any, project: str) -> str:
    """The project access token: JSON {"projects": {PROJECT: token}} or {"token": ...} for
    every project (a group access token)."""
    if isinstance(value, Mapping):
        projects = value.get("projects", {})
        token = projects.get(project) if isinstance(projects, Mapping) else None
        token = token or value.get("token")
        if isinstance(token, str) and token:
            return token
    raise ConfigError(
        f"secret {secret_id} holds no token for GitLab project {project[:80]!r}: "
        'store {"projects": {"PROJECT": "glpat-..."}} or {"token": "glpat-..."}'
    )


class GitLabPlayGate:
    """Plays a manual job when its request is approved."""

    kind = KIND

    def __init__(self, token: Callable[[str], str], api_url: str = "https://gitlab.com/api/v4"):
        self._token = token
        self._api_url = api_url.rstrip("/")

    def release(self, approval: Approval, ref: GateRef) -> str:
        project, job = ref.target.get("project", ""), ref.target.get("job", "")
        problems = target_problems(project, job)
        if problems:
            raise GateFailedError("; ".join(problems))
        if approval.status is not Status.APPROVED:
            return f"{approval.status.value}: job {job} left unplayed"
        headers = {"PRIVATE-TOKEN": self._token(project)}
        url = f"{self._api_url}/projects/{quote(project, safe='')}/jobs/{job}"
        _, answer = call("GET", url, headers, service="GitLab")
        found = _job(answer)
        status = str(found.get("status", ""))
        commit = found.get("commit")
        sha = commit.get("id") if isinstance(commit, dict) else None
        try:
            check_release(approval, sha if isinstance(sha, str) else None)
        except ReleaseRefusedError as exc:
            raise GateFailedError(f"job {job} not played: {exc}") from exc
        if status in _PLAYED:
            return f"job {job} is {status} already"
        if status != "manual":
            raise GateFailedError(f"job {job} is {status or 'of unknown status'}, not manual")
        code, answer = call("POST", f"{url}/play", headers, service="GitLab")
        played = _job(answer)
        return f"{code}: job {job} played ({played.get('status', 'unknown')}) {played.get('web_url', '')}".strip()


def _job(answer: str) -> dict[str, Any]:
    try:
        found = json.loads(answer)
    except ValueError as exc:
        raise GateRetryError("GitLab's job answer was not JSON") from exc
    if not isinstance(found, dict):
        raise GateRetryError("GitLab's job answer was not an object")
    return found
