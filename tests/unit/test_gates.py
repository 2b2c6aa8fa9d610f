"""The gate port: what a gate files on the record, and what it tells its CI system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signoff import blocks
from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import ValidationError
from signoff.gates import GateRef, Link, parse_links, verdict
from signoff.model import Approval, Decision
from tests.factories import start_request

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
GATE = GateRef(kind="github", target={"callback_url": "https://api.github.com/x", "env": "prod"})


def test_a_gate_and_links_survive_the_start_payload_and_the_record() -> None:
    request = start_request(
        "apr-g1", gate=GATE, links=(Link(name="Run", url="https://github.com/o/r/actions/runs/1"),)
    )
    again = request_from_payload(request_to_payload(request))
    assert again.gate == GATE and again.links == request.links
    approval, _ = Approval.open(again, NOW)
    assert approval.gate == GATE and approval.links == request.links
    assert approval.differences(request) == []
    # The same id filed again without the gate is a different request.
    (difference,) = approval.differences(start_request("apr-g1", links=request.links))
    assert difference.startswith("gate was")


def test_a_payload_without_a_gate_or_links_reads_as_before() -> None:
    payload = request_to_payload(start_request("apr-g2"))
    assert "gate" not in payload and "links" not in payload
    request = request_from_payload(payload)
    assert request.gate is None and request.links == ()


def test_the_gate_target_cannot_be_changed_after_filing() -> None:
    target = {"callback_url": "https://a.example/x"}
    ref = GateRef(kind="github", target=target)
    target["callback_url"] = "https://evil.example/"
    assert ref.target["callback_url"] == "https://a.example/x"
    with pytest.raises(TypeError):
        ref.target["callback_url"] = "https://evil.example/"  # type: ignore[index]


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        (["run"], "must be NAME=URL"),
        (["run=javascript:alert(1)"], "https:// or http://"),
        (["run=ftp://x.example/"], "https:// or http://"),
        (["run=https://"], "https:// or http://"),
        (["=https://x.example/"], "name is empty"),
        (["run=https://x.example/a b"], "spaces"),
        (["run=https://x.example/a>b"], "< > |"),
        (["a\u202eb=https://x.example/"], "contains"),
        (["x" * 76 + "=https://x.example/"], "over 75"),
        (["a=https://x.example/", "a=https://y.example/"], "more than once"),
        ([f"l{i}=https://x.example/" for i in range(6)], "at most 5 links"),
    ],
)
def test_bad_links_are_refused_at_the_door(pairs: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        parse_links(pairs)


def test_a_start_payload_with_a_bad_link_is_refused() -> None:
    payload = request_to_payload(start_request("apr-g3"))
    payload["links"] = [["run", "file:///etc/passwd"]]
    with pytest.raises(ValidationError, match="https://"):
        request_from_payload(payload)


def test_links_are_buttons_on_the_message_before_and_after_the_outcome() -> None:
    link = Link(name="CI run <!channel>", url="https://github.com/o/r/actions/runs/7")
    approval, _ = Approval.open(start_request("apr-g4", links=(link,)), NOW)
    for shown in (approval, approval.vote("U0A", Decision.APPROVE, NOW)[0]):
        (buttons,) = [
            b for b in blocks.approval_message(shown) if b.get("block_id") == "signoff.links"
        ]
        (button,) = buttons["elements"]
        assert button["url"] == link.url
        assert button["text"] == {"type": "plain_text", "text": "CI run <!channel>", "emoji": False}


def _two_of_three() -> Approval:
    request = start_request("apr-g5", approvers=("U0A", "U0B", "U0C"), min_approvals=2, gate=GATE)
    approval, _ = Approval.open(request, NOW)
    return approval


def test_the_verdict_names_every_approver_and_their_reasons() -> None:
    approval = _two_of_three()
    approval = approval.vote("U0A", Decision.APPROVE, NOW)[0]
    approval = approval.vote("U0B", Decision.APPROVE, NOW, "checked the plan")[0]
    said = verdict(approval)
    assert said.approved
    assert "U0A" in said.summary and "U0B: checked the plan" in said.summary
    assert "apr-g5" in said.summary


def test_a_rejection_an_expiry_and_a_cancel_are_rejections_with_that_said() -> None:
    approval = _two_of_three()
    rejected = approval.vote("U0C", Decision.REJECT, NOW, "change freeze")[0]
    assert not verdict(rejected).approved
    assert "Rejected by U0C: change freeze" in verdict(rejected).summary
    halfway = approval.vote("U0A", Decision.APPROVE, NOW)[0]
    expired = halfway.expire(NOW + timedelta(hours=1))[0]
    assert not verdict(expired).approved
    assert "expired" in verdict(expired).summary and "U0A" in verdict(expired).summary
    cancelled = approval.cancel("U0REQ", NOW, "wrong ticket")[0]
    assert not verdict(cancelled).approved
    assert "cancelled by U0REQ: wrong ticket" in verdict(cancelled).summary


GITHUB_DOCUMENT = """
policies:
  prod-deploy:
    approvers: [U0A, U0B]
github:
  users: {OctoCat: U0OCTO}
  routes:
    - {repository: octo-org/api, environment: production, policy: prod-deploy, timeout: 4h}
    - {repository: "octo-org/*", environment: "*", policy: prod-deploy}
"""


def test_the_policy_document_routes_repositories_and_environments_to_policies() -> None:
    from signoff.policy import PolicyBook

    routes = PolicyBook.parse(GITHUB_DOCUMENT, source="t").github
    exact = routes.route("Octo-Org/API", "Production")
    assert exact is not None and exact.timeout == timedelta(hours=4)
    other = routes.route("octo-org/web", "staging")
    assert other is not None and other.timeout == timedelta(hours=24)
    assert routes.route("someone/else", "production") is None
    assert routes.requester("octocat") == "U0OCTO"
    assert routes.requester("dependabot[bot]") == "github"  # not a plain name
    assert routes.requester("hubot") == "hubot"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("github: {routes: [{repository: a/b, policy: nope}]}", "no policy named 'nope'"),
        ("github: {routes: [{repository: a/b, policy: p1, timeout: 30d}]}", "between 1s and 7d"),
        ("github: {routes: [{repository: a/b}]}", "are text"),
        ("github: {routes: [{repository: a/b, policy: p1, branch: main}]}", "must hold"),
        ("github: {users: {octocat: 'not a user!'}}", "github.users"),
        ("github: [1]", "github must be a mapping"),
    ],
)
def test_a_bad_github_section_is_refused_with_the_document(section: str, problem: str) -> None:
    from signoff.errors import ConfigError
    from signoff.policy import PolicyBook

    document = "policies:\n  p1:\n    approvers: [U0A]\n" + section + "\n"
    with pytest.raises(ConfigError, match=problem):
        PolicyBook.parse(document, source="t")


def test_the_app_jwt_is_rs256_with_githubs_claims() -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from signoff.gates.github import AppCredentials, GitHubGate

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    gate = GitHubGate(
        lambda: AppCredentials(app_id="123", private_key=pem), clock=lambda: 1_000_000.0
    )
    token = gate.app_jwt()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"iat": 1_000_000 - 60, "exp": 1_000_000 + 540, "iss": "123"}


def test_the_app_token_is_never_sent_off_the_github_api() -> None:
    from signoff.gates import GateFailedError
    from signoff.gates.github import AppCredentials, GitHubGate

    def no_key() -> AppCredentials:
        raise AssertionError("the key was read for a callback off the GitHub API")

    approval = _two_of_three().cancel("U0REQ", NOW)[0]
    ref = GateRef(
        kind="github",
        target={
            "callback_url": "https://api.github.com.evil.example/repos/o/r/actions/runs/1/x",
            "installation_id": "1",
            "environment": "prod",
        },
    )
    with pytest.raises(GateFailedError, match=r"not on https://api\.github\.com"):
        GitHubGate(no_key).release(approval, ref)


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("run=javascript:alert(1)", "the link 'run' must be an https:// or http:// URL"),
        ("no-equals-sign", "--link 'no-equals-sign' must be NAME=URL"),
    ],
)
def test_start_refuses_a_bad_link_before_asking_anything(link: str, says: str) -> None:
    from typer.testing import CliRunner

    from signoff import cli

    args = ["start", "--title", "t", "--approver", "U0A", "--requester", "U0R", "--link", link]
    result = CliRunner().invoke(cli.app, args, env={"SIGNOFF_LOCAL_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 2, result.output
    assert says in result.output


@pytest.mark.parametrize(("released", "state"), [("a" * 40, "approved"), ("b" * 40, "rejected")])
def test_a_run_on_another_commit_than_the_one_approved_is_rejected(
    released: str, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signoff.binding import Binding, BindingKind
    from signoff.gates.github import API_URL, AppCredentials, GitHubGate

    request = start_request(
        "apr-g6", gate=GATE, bindings=(Binding(kind=BindingKind.SHA, value="a" * 40),)
    )
    approval = Approval.open(request, NOW)[0].vote("U0A", Decision.APPROVE, NOW)[0]
    sent: list[tuple[str, str, str, dict[str, str]]] = []
    gate = GitHubGate(lambda: AppCredentials(app_id="1", private_key="k"))
    # GitHub's side answered in memory: the token, then the review.
    monkeypatch.setattr(gate, "_installation_token", lambda installation: "t")

    def answer(*call: Any) -> tuple[int, str]:
        sent.append(call)
        return 200, ""

    monkeypatch.setattr(gate, "_call", answer)
    callback = f"{API_URL}/repos/o/r/actions/runs/1/deployment_protection_rule"
    ref = GateRef(
        kind="github",
        target={
            "callback_url": callback,
            "installation_id": "1",
            "environment": "prod",
            "sha": released,
        },
    )
    gate.release(approval, ref)
    ((_, _, _, body),) = sent
    assert body["state"] == state
    if state == "rejected":
        assert "approved commit " + "a" * 40 in body["comment"]
