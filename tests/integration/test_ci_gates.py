"""The GitHub dispatch and GitLab gates against a local HTTP stand-in (a real server on
loopback that records every call), released through the notifier's once-only path on
DynamoDB Local."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from signoff.binding import Binding, BindingKind
from signoff.gates.dispatch import EVENT_TYPE, GitHubDispatchGate
from signoff.gates.gitlab import GitLabPlayGate
from signoff.gates.on_approve import parse_on_approve
from signoff.gates.port import GateFailedError, GateRetryError, Gates
from signoff.gates.release import release_gate
from signoff.model import Decision, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

pytestmark = pytest.mark.integration

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"
LEASE = timedelta(seconds=30)


def _claims(approvals: Approvals) -> DynamoApprovalStore:
    """The store the notifier claims releases on (it implements the Claims port)."""
    assert isinstance(approvals.store, DynamoApprovalStore)
    return approvals.store


@dataclass
class StandIn:
    """Answers from a script (path → list of (status, body)), records every call."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    script: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        queued = self.script.get(f"{method} {path}", [])
        return queued.pop(0) if len(queued) > 1 else (queued[0] if queued else (404, {}))


@pytest.fixture
def standin() -> Iterator[StandIn]:
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size else b""
            state.calls.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(body) if body else None,
                }
            )
            status, answer = state.answer(self.command, self.path)
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _open(approvals: Approvals, approval_id: str, on_approve: str, sha: str = SHA) -> None:
    approvals.open(
        start_request(
            approval_id,
            approvers=("U0A", "U0B"),
            min_approvals=2,
            bindings=(Binding(BindingKind.SHA, sha),),
            gate=parse_on_approve(on_approve),
        )
    )


def _approve(approvals: Approvals, approval_id: str) -> None:
    approvals.decide(approval_id, "U0A", Decision.APPROVE)
    approvals.decide(approval_id, "U0B", Decision.APPROVE)


def _release(approvals: Approvals, gates: Gates, approval_id: str, tries: int = 3) -> None:
    """What the notifier does for one delivery of the outcome."""
    release_gate(
        _claims(approvals),
        gates,
        approvals.get(approval_id),
        clock=approvals.clock,
        lease=LEASE,
        tries=tries,
    )


def _kinds(approvals: Approvals, approval_id: str) -> list[str]:
    return [e.kind.value for e in approvals.audit(approval_id)]


# -- GitHub repository_dispatch -------------------------------------------------------------


def test_an_approval_sends_one_dispatch_naming_the_approvers_and_the_sha(
    approvals: Approvals, standin: StandIn
) -> None:
    standin.script["POST /repos/o/r/dispatches"] = [(204, None)]
    gates = Gates(GitHubDispatchGate(lambda: "ghp-secret", standin.url))
    _open(approvals, "apr-d1", "github-dispatch:o/r")
    _approve(approvals, "apr-d1")
    approval = approvals.get("apr-d1")
    for _ in range(3):  # SNS delivering the outcome three times
        release_gate(
            _claims(approvals), gates, approval, clock=approvals.clock, lease=LEASE, tries=3
        )
    assert len(standin.calls) == 1
    call = standin.calls[0]
    assert (call["method"], call["path"]) == ("POST", "/repos/o/r/dispatches")
    assert call["headers"]["authorization"] == "Bearer ghp-secret"
    assert call["body"] == {
        "event_type": EVENT_TYPE,
        "client_payload": {
            "approval_id": "apr-d1",
            "sha": SHA,
            "bindings": {"sha": SHA},
            "approvers": ["U0A", "U0B"],
            "policy": None,
            "title": "Deploy api",
            "reused_from": None,
        },
    }
    assert len(call["body"]["client_payload"]) <= 10  # GitHub's limit on top-level keys
    assert _kinds(approvals, "apr-d1").count("gate_released") == 1


def test_a_rejection_dispatches_nothing(approvals: Approvals, standin: StandIn) -> None:
    gates = Gates(GitHubDispatchGate(lambda: "t", standin.url))
    _open(approvals, "apr-d2", "github-dispatch:o/r")
    approvals.decide("apr-d2", "U0A", Decision.REJECT, "not today")
    _release(approvals, gates, "apr-d2")
    assert standin.calls == []
    released = [e for e in approvals.audit("apr-d2") if e.kind.value == "gate_released"]
    assert released[0].detail["answer"] == "rejected: nothing dispatched"


def test_a_dispatch_failing_twice_is_retried_and_lands_once(
    approvals: Approvals, standin: StandIn
) -> None:
    standin.script["POST /repos/o/r/dispatches"] = [(502, {}), (503, {}), (204, None)]
    gates = Gates(GitHubDispatchGate(lambda: "t", standin.url))
    _open(approvals, "apr-d3", "github-dispatch:o/r")
    _approve(approvals, "apr-d3")
    approval = approvals.get("apr-d3")
    for _ in range(2):
        with pytest.raises(GateRetryError, match="GitHub answered 50"):
            release_gate(
                _claims(approvals), gates, approval, clock=approvals.clock, lease=LEASE, tries=5
            )
    release_gate(_claims(approvals), gates, approval, clock=approvals.clock, lease=LEASE, tries=5)
    release_gate(_claims(approvals), gates, approval, clock=approvals.clock, lease=LEASE, tries=5)
    assert len(standin.calls) == 3
    assert _kinds(approvals, "apr-d3").count("gate_released") == 1


def test_a_refused_token_fails_for_good_and_is_audited(
    approvals: Approvals, standin: StandIn
) -> None:
    standin.script["POST /repos/o/r/dispatches"] = [(401, {"message": "Bad credentials"})]
    gates = Gates(GitHubDispatchGate(lambda: "t", standin.url))
    _open(approvals, "apr-d4", "github-dispatch:o/r")
    _approve(approvals, "apr-d4")
    _release(approvals, gates, "apr-d4")
    _release(approvals, gates, "apr-d4")
    assert len(standin.calls) == 1
    failed = [e for e in approvals.audit("apr-d4") if e.kind.value == "gate_failed"]
    assert "Bad credentials" in failed[0].detail["error"]


# -- GitLab: play a manual job ----------------------------------------------------------------

JOB = "/api/v4/projects/group%2Fapp/jobs/42"


def _gitlab(standin: StandIn) -> Gates:
    return Gates(GitLabPlayGate(lambda project: f"glpat-{project}", f"{standin.url}/api/v4"))


def test_an_approval_plays_the_manual_job_once(approvals: Approvals, standin: StandIn) -> None:
    standin.script[f"GET {JOB}"] = [(200, {"status": "manual", "commit": {"id": SHA}})]
    standin.script[f"POST {JOB}/play"] = [
        (200, {"status": "pending", "web_url": "https://gl/j/42"})
    ]
    _open(approvals, "apr-g1", "gitlab-play:group/app:42")
    _approve(approvals, "apr-g1")
    for _ in range(3):
        _release(approvals, _gitlab(standin), "apr-g1")
    assert [(c["method"], c["path"]) for c in standin.calls] == [
        ("GET", JOB),
        ("POST", f"{JOB}/play"),
    ]
    assert all(c["headers"]["private-token"] == "glpat-group/app" for c in standin.calls)
    released = [e for e in approvals.audit("apr-g1") if e.kind.value == "gate_released"]
    assert len(released) == 1 and "job 42 played (pending)" in released[0].detail["answer"]


def test_a_job_on_another_commit_is_never_played(approvals: Approvals, standin: StandIn) -> None:
    standin.script[f"GET {JOB}"] = [(200, {"status": "manual", "commit": {"id": OTHER}})]
    _open(approvals, "apr-g2", "gitlab-play:group/app:42")
    _approve(approvals, "apr-g2")
    _release(approvals, _gitlab(standin), "apr-g2")
    assert [c["method"] for c in standin.calls] == ["GET"]
    failed = [e for e in approvals.audit("apr-g2") if e.kind.value == "gate_failed"]
    assert "a different commit needs its own approval" in failed[0].detail["error"]


def test_a_rejection_leaves_the_job_unplayed(approvals: Approvals, standin: StandIn) -> None:
    _open(approvals, "apr-g3", "gitlab-play:group/app:42")
    approvals.decide("apr-g3", "U0A", Decision.REJECT, "tests are red")
    _release(approvals, _gitlab(standin), "apr-g3")
    assert standin.calls == []
    assert approvals.get("apr-g3").status is Status.REJECTED


def test_a_job_played_already_is_not_played_again(approvals: Approvals, standin: StandIn) -> None:
    standin.script[f"GET {JOB}"] = [(200, {"status": "running", "commit": {"id": SHA}})]
    _open(approvals, "apr-g4", "gitlab-play:group/app:42")
    _approve(approvals, "apr-g4")
    _release(approvals, _gitlab(standin), "apr-g4")
    assert [c["method"] for c in standin.calls] == ["GET"]


def test_gitlab_gate_maps_answers_to_retry_or_failure(standin: StandIn) -> None:
    from signoff.model import Approval

    approval, _ = Approval.open(
        start_request(
            bindings=(Binding(BindingKind.SHA, SHA),), gate=parse_on_approve("gitlab-play:7:42")
        ),
        approvals_clock(),
    )
    approved = approval.vote("U0A", Decision.APPROVE, approvals_clock())[0]
    gate = GitLabPlayGate(lambda project: "t", f"{standin.url}/api/v4")
    assert approved.gate is not None
    standin.script["GET /api/v4/projects/7/jobs/42"] = [(500, {})]
    with pytest.raises(GateRetryError):
        gate.release(approved, approved.gate)
    standin.script["GET /api/v4/projects/7/jobs/42"] = [(403, {"message": "403 Forbidden"})]
    with pytest.raises(GateFailedError, match="403"):
        gate.release(approved, approved.gate)
    standin.script["GET /api/v4/projects/7/jobs/42"] = [
        (200, {"status": "failed", "commit": {"id": SHA}})
    ]
    with pytest.raises(GateFailedError, match="not manual"):
        gate.release(approved, approved.gate)


def approvals_clock() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
