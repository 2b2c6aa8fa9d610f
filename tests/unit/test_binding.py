"""Bindings: checked at the door, kept through payload and record, compared by verify and
by every gate's release; a policy's reuse window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signoff.binding import Binding, BindingKind, checked_bindings, parse_binding
from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import ConfigError, ValidationError
from signoff.model import Approval, Decision, StartRequest, Status
from signoff.policy import PolicyBook
from signoff.reuse import reusable, reuse
from signoff.verify import ReleaseRefusedError, VerifyCode, check_release, verdict
from tests.factories import start_request

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"sha={SHA}", Binding(BindingKind.SHA, SHA)),
        ("sha=ABCDEF1", Binding(BindingKind.SHA, "abcdef1")),  # kept lowercase
        ("sha=" + "a" * 64, Binding(BindingKind.SHA, "a" * 64)),  # a SHA-256 object name
        (f"digest={DIGEST}", Binding(BindingKind.DIGEST, DIGEST)),
        (f"plan={DIGEST}", Binding(BindingKind.PLAN, DIGEST)),
    ],
)
def test_a_binding_is_read_from_kind_equals_value(text: str, expected: Binding) -> None:
    assert parse_binding(text) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("sha", "must look like sha=<commit>"),
        ("sha=abc123", "is not 7 to 64 hexadecimal digits"),  # 6: too short
        ("sha=" + "a" * 65, "is not 7 to 64 hexadecimal digits"),
        ("sha=abcdefg", "is not 7 to 64 hexadecimal digits"),
        ("sha=abc\u202e1234", "\\u202e"),  # shown escaped
        ("digest=" + "ab" * 32, "is not sha256: followed by 64 hexadecimal digits"),
        ("plan=sha256:" + "a" * 63, "is not sha256: followed by 64 hexadecimal digits"),
        ("tag=v1.2", "is not a binding kind (known: sha, digest, plan)"),
    ],
)
def test_a_bad_binding_is_refused_saying_what_it_should_be(text: str, said: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_binding(text)
    assert said in str(caught.value)


def test_one_value_of_each_kind_in_a_fixed_order() -> None:
    digest, sha = parse_binding(f"digest={DIGEST}"), parse_binding(f"sha={SHA}")
    assert checked_bindings([digest, sha]) == (sha, digest)
    with pytest.raises(ValidationError, match="bound more than once: sha"):
        checked_bindings([sha, parse_binding(f"sha={OTHER}")])


def _bound() -> StartRequest:
    return start_request(bindings=(Binding(BindingKind.SHA, SHA),))


def test_bindings_survive_the_payload_and_are_fixed_on_the_record() -> None:
    request = _bound()
    again = request_from_payload(request_to_payload(request))
    assert again == request
    approval, _ = Approval.open(again, T0)
    assert approval.bindings == (Binding(BindingKind.SHA, SHA),)
    # A request without bindings keeps the payload it always had.
    assert "bindings" not in request_to_payload(start_request())


def test_a_payload_with_a_bad_binding_is_refused() -> None:
    payload = {**request_to_payload(_bound()), "bindings": [["sha", "not-hex"]]}
    with pytest.raises(ValidationError, match="not 7 to 64 hexadecimal digits"):
        request_from_payload(payload)
    with pytest.raises(ValidationError, match="list of \\[kind, value\\]"):
        request_from_payload({**payload, "bindings": "sha=abc"})


def test_the_same_id_with_other_bindings_is_a_different_request() -> None:
    approval, _ = Approval.open(_bound(), T0)
    assert approval.differences(_bound()) == []
    other = start_request(bindings=(Binding(BindingKind.SHA, OTHER),))
    assert approval.differences(other) == [f"bindings was 'sha={SHA}', now 'sha={OTHER}'"]
    assert approval.differences(start_request()) == [f"bindings was 'sha={SHA}', now 'none'"]


def _closed(status: Status, request: StartRequest | None = None) -> Approval:
    approval, _ = Approval.open(request or _bound(), T0)
    if status is Status.APPROVED:
        return approval.vote("U0A", Decision.APPROVE, T0)[0]
    if status is Status.REJECTED:
        return approval.vote("U0A", Decision.REJECT, T0, "no")[0]
    if status is Status.EXPIRED:
        return approval.expire(T0 + timedelta(hours=1))[0]
    if status is Status.CANCELLED:
        return approval.cancel("U0REQ", T0)[0]
    return approval


SHA_GIVEN = (Binding(BindingKind.SHA, SHA),)


@pytest.mark.parametrize(
    ("status", "given", "code"),
    [
        (Status.APPROVED, SHA_GIVEN, VerifyCode.APPROVED),
        (Status.APPROVED, (Binding(BindingKind.SHA, OTHER),), VerifyCode.MISMATCH),
        # A value of a kind that was never bound: nothing approved it.
        (Status.APPROVED, (*SHA_GIVEN, Binding(BindingKind.DIGEST, DIGEST)), VerifyCode.MISMATCH),
        (Status.REJECTED, SHA_GIVEN, VerifyCode.REJECTED),
        (Status.EXPIRED, SHA_GIVEN, VerifyCode.EXPIRED),
        (Status.CANCELLED, SHA_GIVEN, VerifyCode.CANCELLED),
        (Status.PENDING, SHA_GIVEN, VerifyCode.PENDING),
        # Bindings never change: a pending approval of another commit never covers this one.
        (Status.PENDING, (Binding(BindingKind.SHA, OTHER),), VerifyCode.MISMATCH),
    ],
)
def test_verify_answers_with_one_code(
    status: Status, given: tuple[Binding, ...], code: VerifyCode
) -> None:
    assert verdict(_closed(status), given).code is code


def test_verify_codes_are_the_documented_numbers() -> None:
    assert {c.name: int(c) for c in VerifyCode} == {
        "APPROVED": 0,
        "UNKNOWN": 1,
        "REJECTED": 3,
        "EXPIRED": 4,
        "CANCELLED": 5,
        "MISMATCH": 6,
        "PENDING": 7,
    }


def test_a_mismatch_says_what_was_approved_and_what_was_given() -> None:
    found = verdict(_closed(Status.APPROVED), (Binding(BindingKind.SHA, OTHER),))
    assert (
        found.sentence == f"apr-test does not cover this: sha {SHA} was approved, {OTHER} was given"
    )


def test_a_gate_releases_only_the_approved_commit() -> None:
    approved = _closed(Status.APPROVED)
    check_release(approved, SHA)
    check_release(approved, SHA.upper())
    with pytest.raises(ReleaseRefusedError, match="a different commit needs its own approval"):
        check_release(approved, OTHER)
    with pytest.raises(ReleaseRefusedError, match="the release names no commit"):
        check_release(approved, None)
    with pytest.raises(ReleaseRefusedError, match="is rejected, not approved"):
        check_release(_closed(Status.REJECTED), SHA)
    # Nothing bound: the approval is all there is to check.
    check_release(_closed(Status.APPROVED, start_request()), OTHER)


# -- the policy's reuse window --------------------------------------------------------------

DOC = """
policies:
  prod-deploy:
    approvers: [U0A, U0B]
    reuse_for: {value}
"""


def test_reuse_for_is_a_policy_key_and_round_trips() -> None:
    book = PolicyBook.parse(DOC.format(value="1h"), source="p.yaml")
    assert book.rule("prod-deploy").reuse_for == timedelta(hours=1)
    assert book.rule("prod-deploy").to_json()["reuse_for"] == "1h"
    assert PolicyBook.from_data(book.to_json(), source="again") == book


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("8d", "reuse_for must be at most 7d"),
        ("30s", "reuse_for must be at least 1m"),
        ("soon", "reuse_for 'soon' is not a duration"),
    ],
)
def test_a_bad_reuse_window_is_refused_naming_the_file_and_policy(value: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PolicyBook.parse(DOC.format(value=value), source="p.yaml")
    assert str(caught.value).startswith("p.yaml: policy 'prod-deploy': ")
    assert said in str(caught.value)


def _policy_request(approval_id: str, sha: str = SHA, **overrides: object) -> StartRequest:
    values: dict[str, object] = {
        "approvers": ("U0A",),
        "policy": "prod-deploy",
        "reuse_for": timedelta(hours=1),
        "bindings": (Binding(BindingKind.SHA, sha),),
    }
    values.update(overrides)
    return start_request(approval_id, **values)


def _approved_at(request: StartRequest, at: datetime) -> Approval:
    approval, _ = Approval.open(request, at)
    return approval.vote("U0A", Decision.APPROVE, at)[0]


def test_a_rerun_of_the_same_commit_within_the_window_reuses_the_approval() -> None:
    source = _approved_at(_policy_request("apr-first"), T0)
    rerun = _policy_request("apr-rerun")
    assert reusable(source, rerun, T0 + timedelta(minutes=59))
    assert not reusable(source, rerun, T0 + timedelta(minutes=61))
    # A new commit is always a new request; so is another policy, or nothing bound.
    assert not reusable(source, _policy_request("apr-new", OTHER), T0)
    assert not reusable(source, _policy_request("apr-p", policy="other-policy"), T0)
    assert not reusable(source, _policy_request("apr-n", bindings=()), T0)
    assert not reusable(source, _policy_request("apr-w", reuse_for=None), T0)
    # Only approved ones; a rejection is never reused.
    rejected, _ = Approval.open(_policy_request("apr-first"), T0)
    rejected = rejected.vote("U0A", Decision.REJECT, T0, "no")[0]
    assert not reusable(rejected, rerun, T0)


def test_a_reused_approval_is_approved_at_once_and_cannot_stretch_the_window() -> None:
    source = _approved_at(_policy_request("apr-first"), T0)
    opened, _ = Approval.open(_policy_request("apr-rerun"), T0 + timedelta(minutes=50))
    changed = reuse(opened, source, T0 + timedelta(minutes=50))
    assert changed is not None
    after, events = changed
    assert (after.status, after.reused_from, after.decided_by) == (
        Status.APPROVED,
        "apr-first",
        "U0A",
    )
    assert [e.kind.value for e in events] == ["reused"]
    assert events[0].detail["reused"] == "apr-first"
    assert reuse(after, source, T0) is None  # decided already: nothing to write
    # A reuse is not reused in turn: the window counts from the people's approval.
    assert not reusable(after, _policy_request("apr-third"), T0 + timedelta(minutes=51))


def test_the_slack_message_says_what_is_approved_and_what_was_reused() -> None:
    from dataclasses import replace

    from slack_sdk.models.blocks import Block

    from signoff.blocks import approval_message

    approval, _ = Approval.open(
        start_request(
            bindings=(Binding(BindingKind.SHA, SHA), Binding(BindingKind.DIGEST, DIGEST))
        ),
        T0,
    )
    rendered = approval_message(approval)

    def origin(blocks: list[dict[str, Any]]) -> str:
        (block,) = [b for b in blocks if b.get("block_id") == "signoff.origin"]
        return "".join(
            str(e.get("text", "")) for part in block["elements"] for e in part["elements"]
        )

    assert origin(rendered).startswith(f"Approves only sha {SHA}, digest {DIGEST}")
    reused = replace(approval, reused_from="apr-first")
    assert "Reused approval apr-first" in origin(approval_message(reused))
    for block in rendered:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    # Nothing bound: no such line.
    plain, _ = Approval.open(start_request(), T0)
    assert "Approves only" not in str(approval_message(plain))
