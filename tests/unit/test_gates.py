"""The gate port: what a gate files on the record, and what it tells its CI system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signoff import blocks
from signoff.errors import ValidationError
from signoff.gates import GateRef, Link, parse_links, verdict
from signoff.model import Approval, Decision, StartRequest
from tests.factories import start_request

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
GATE = GateRef(kind="github", target={"callback_url": "https://api.github.com/x", "env": "prod"})


def test_a_gate_and_links_survive_the_start_payload_and_the_record() -> None:
    request = start_request(
        "apr-g1", gate=GATE, links=(Link("Run", "https://github.com/o/r/actions/runs/1"),)
    )
    again = StartRequest.from_payload(request.to_payload())
    assert again.gate == GATE and again.links == request.links
    approval, _ = Approval.open(again, NOW)
    assert approval.gate == GATE and approval.links == request.links
    assert approval.differences(request) == []
    # The same id filed again without the gate is a different request.
    (difference,) = approval.differences(start_request("apr-g1", links=request.links))
    assert difference.startswith("gate was")


def test_a_payload_without_a_gate_or_links_reads_as_before() -> None:
    payload = start_request("apr-g2").to_payload()
    assert "gate" not in payload and "links" not in payload
    request = StartRequest.from_payload(payload)
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
    payload = start_request("apr-g3").to_payload()
    payload["links"] = [["run", "file:///etc/passwd"]]
    with pytest.raises(ValidationError, match="https://"):
        StartRequest.from_payload(payload)


def test_links_are_buttons_on_the_message_before_and_after_the_outcome() -> None:
    link = Link("CI run <!channel>", "https://github.com/o/r/actions/runs/7")
    approval, _ = Approval.open(start_request("apr-g4", links=(link,)), NOW)
    for shown in (approval, approval.vote("U0A", Decision.APPROVE, NOW)[0]):
        (buttons,) = [
            b for b in blocks.approval_message(shown) if b.get("block_id") == "signoff.links"
        ]
        (button,) = buttons["elements"]
        assert button["url"] == link.url
        assert button["text"] == {"type": "plain_text", "text": "CI run <!channel>"}


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
