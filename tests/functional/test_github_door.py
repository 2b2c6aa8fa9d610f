"""POST /github/events: signed, deduplicated, never a 500 (in-memory deliveries, no Java)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signoff.errors import BackendError
from signoff.gates.deliveries import MemoryDeliveries
from signoff.gates.github import GitHubDoor, Route, Routes, signature
from signoff.gates.http import handle_github
from signoff.local.github_standin import deployment_event
from signoff.model import StartRequest

SECRET = "webhook-secret-for-tests"
API = "https://api.github.com"


class Starts:
    def __init__(self, fail: bool = False) -> None:
        self.started: list[StartRequest] = []
        self.fail = fail

    def start(self, request: StartRequest) -> object:
        if self.fail:
            raise BackendError("the workflow could not be started")
        self.started.append(request)
        return {}


ROUTES = Routes(
    routes=(
        Route(repository="octo-org/api", environment="production", policy="prod-deploy"),
        Route(repository="octo-org/*", environment="*", approvers=("U0A",)),
    ),
    users={"octocat": "U0OCTO"},
)


def door(starts: Starts, deliveries: MemoryDeliveries) -> GitHubDoor:
    return GitHubDoor(
        secret=lambda: SECRET,
        deliveries=deliveries,
        starter=starts,
        routes=lambda: ROUTES,
        api_url=API,
    )


def headers(
    body: bytes, delivery: str = "d-1", event: str = "deployment_protection_rule"
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature(SECRET, body),
        "Content-Type": "application/json",
    }


def event_body(**given: Any) -> bytes:
    return json.dumps(deployment_event(api_url=API, **given)).encode()


@pytest.fixture
def starts() -> Starts:
    return Starts()


@pytest.fixture
def deliveries() -> MemoryDeliveries:
    return MemoryDeliveries()


def test_a_signed_request_starts_one_approval_with_what_the_approvers_need(
    starts: Starts, deliveries: MemoryDeliveries
) -> None:
    body = event_body(sha="f" * 40, run_id=99)
    status, answer = door(starts, deliveries).handle(headers(body), body)
    assert status == 202 and answer["status"] == "pending"
    (request,) = starts.started
    assert request.id == answer["id"]
    assert request.policy == "prod-deploy" and request.requester == "U0OCTO"
    fields = dict(request.fields)
    assert fields["repository"] == "octo-org/api" and fields["commit"] == "f" * 40
    assert fields["environment"] == "production" and fields["ref"] == "main"
    assert [link.url for link in request.links] == [
        "https://github.com/octo-org/api/actions/runs/99"
    ]
    assert request.gate is not None and request.gate.kind == "github"
    assert request.gate.target["callback_url"].endswith("/runs/99/deployment_protection_rule")
    assert request.gate.target["installation_id"] == "4242"
    assert [str(b) for b in request.bindings] == ["sha=" + "f" * 40]  # what is approved


def test_a_redelivery_is_answered_and_starts_nothing(
    starts: Starts, deliveries: MemoryDeliveries
) -> None:
    body = event_body()
    gate = door(starts, deliveries)
    first = gate.handle(headers(body, "same"), body)
    again = gate.handle(headers(body, "same"), body)
    assert first[0] == 202 and again == (200, {"duplicate": "same", "id": first[1]["id"]})
    assert len(starts.started) == 1


def test_the_same_run_under_a_new_delivery_keeps_its_approval_id(
    starts: Starts, deliveries: MemoryDeliveries
) -> None:
    body = event_body(run_id=5)
    gate = door(starts, deliveries)
    gate.handle(headers(body, "one"), body)
    gate.handle(headers(body, "two"), body)
    # The workflow's start is idempotent on this id: one approval for the run.
    assert len({r.id for r in starts.started}) == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda h: {**h, "X-Hub-Signature-256": "sha256=" + "0" * 64},
        lambda h: {k: v for k, v in h.items() if k != "X-Hub-Signature-256"},
        lambda h: {**h, "X-Hub-Signature-256": signature("another-secret", b"{}")},
        lambda h: {**h, "X-Hub-Signature-256": "sha256=\u00e9"},
        lambda h: {**h, "X-Hub-Signature-256": h["X-Hub-Signature-256"].upper()},
    ],
)
def test_a_forgery_is_401_and_writes_nothing(
    starts: Starts, deliveries: MemoryDeliveries, forge: Any
) -> None:
    body = event_body()
    status, _ = door(starts, deliveries).handle(forge(headers(body)), body)
    assert status == 401
    assert starts.started == [] and deliveries.seen == frozenset()


def test_a_body_changed_after_signing_is_401(starts: Starts, deliveries: MemoryDeliveries) -> None:
    body = event_body()
    tampered = body.replace(b"production", b"staging")
    status, _ = door(starts, deliveries).handle(headers(body), tampered)
    assert status == 401 and starts.started == [] and deliveries.seen == frozenset()


def test_an_oversized_body_is_413_unread(starts: Starts, deliveries: MemoryDeliveries) -> None:
    body = b"{" + b" " * (512 * 1024) + b"}"
    status, _ = door(starts, deliveries).handle(headers(body), body)
    assert status == 413 and starts.started == [] and deliveries.seen == frozenset()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "not JSON"),
        (json.dumps({"action": "requested"}).encode(), "deployment_callback_url"),
        (
            json.dumps(
                {
                    **deployment_event(api_url=API),
                    "deployment_callback_url": "https://evil.example/repos/o/r/actions/runs/1/"
                    "deployment_protection_rule",
                }
            ).encode(),
            "not a run's on the GitHub API",
        ),
        (
            json.dumps({**deployment_event(api_url=API), "installation": {"id": True}}).encode(),
            "installation.id",
        ),
    ],
)
def test_a_signed_malformed_event_is_400_and_writes_nothing(
    starts: Starts, deliveries: MemoryDeliveries, body: bytes, problem: str
) -> None:
    status, answer = door(starts, deliveries).handle(headers(body), body)
    assert status == 400 and problem in answer["error"]
    assert starts.started == [] and deliveries.seen == frozenset()


def test_a_missing_delivery_id_is_400(starts: Starts, deliveries: MemoryDeliveries) -> None:
    body = event_body()
    given = {k: v for k, v in headers(body).items() if k != "X-GitHub-Delivery"}
    assert door(starts, deliveries).handle(given, body)[0] == 400
    assert starts.started == []


@pytest.mark.parametrize("kind", ["push", "ping", "deployment", "workflow_job", ""])
def test_other_events_are_answered_and_ignored(
    starts: Starts, deliveries: MemoryDeliveries, kind: str
) -> None:
    body = event_body()
    status, _ = door(starts, deliveries).handle(headers(body, event=kind), body)
    assert status in (200, 202)
    assert starts.started == [] and deliveries.seen == frozenset()


def test_an_action_other_than_requested_is_ignored(
    starts: Starts, deliveries: MemoryDeliveries
) -> None:
    body = json.dumps({**deployment_event(api_url=API), "action": "completed"}).encode()
    assert door(starts, deliveries).handle(headers(body), body)[0] == 202
    assert starts.started == []


def test_a_repository_no_route_matches_is_422_naming_it(
    starts: Starts, deliveries: MemoryDeliveries
) -> None:
    body = event_body(repository="someone/else")
    status, answer = door(starts, deliveries).handle(headers(body), body)
    assert status == 422 and "someone/else" in answer["error"]
    assert starts.started == [] and deliveries.seen == frozenset()


def test_a_failed_start_hands_the_delivery_back_for_a_redelivery(
    deliveries: MemoryDeliveries,
) -> None:
    body = event_body()
    event = {
        "rawPath": "/github/events",
        "requestContext": {"http": {"method": "POST"}},
        "headers": headers(body, "retry-me"),
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    failing = Starts(fail=True)
    assert handle_github(door(failing, deliveries), event)["statusCode"] == 503
    working = Starts()
    assert handle_github(door(working, deliveries), event)["statusCode"] == 202
    assert len(working.started) == 1


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda c: st.lists(c, max_size=4)
            | st.dictionaries(st.text(max_size=10), c, max_size=4),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
        st.builds(
            lambda key, value: json.dumps({**deployment_event(api_url=API), key: value}).encode(),
            st.sampled_from(["deployment", "repository", "installation", "environment", "action"]),
            st.none() | st.integers() | st.text(max_size=30) | st.just({}) | st.just([]),
        ),
    )
)
def test_any_signed_body_gets_a_4xx_or_2xx_never_an_exception(body: bytes) -> None:
    status, answer = door(Starts(), MemoryDeliveries()).handle(headers(body), body)
    assert status in (200, 202, 400, 422), (status, answer)
