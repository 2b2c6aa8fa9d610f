"""`signoff start` refuses a request whose card Slack could refuse, before anything is
recorded, with exit 2 and a sentence saying by how much and what to shorten; a named
policy's quorum, known only once the request is resolved, is held to the same rule."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from signoff import cli, model
from signoff.cardtext import CARD_TEXT_BUDGET, fullest_card
from signoff.cli import context
from signoff.errors import NotFoundError
from signoff.memstore import InMemoryApprovalStore
from signoff.model import StartRequest, person_width
from signoff.policy import PolicyBook
from signoff.service import Approvals
from tests.functional.test_bind_cli import MemoryTarget

POLICIES = """
allow_ad_hoc: true
policies:
  many-eyes:
    approvers: [%s]
    min_approvals: 20
"""
APPROVERS = [f"U0A{n:02d}" for n in range(20)]
FIELD = "v" * 1800


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> MemoryTarget:
    book = PolicyBook.parse(POLICIES % ", ".join(APPROVERS), source="policies.yaml")
    found = MemoryTarget(Approvals(InMemoryApprovalStore()), book)
    monkeypatch.setattr(context, "target", lambda: found)
    return found


def start(*extra: str) -> Result:
    args = ["start", "--id", "apr-big", "--title", "Deploy api", "--requester", "U0R", *extra]
    return CliRunner().invoke(cli.app, args, env={"COLUMNS": "400"})


def within_budget(description_room: int) -> list[str]:
    """Arguments for a 2-of-3 whose fields fill the card and whose description is
    `description_room` characters short of the budget (negative: over it)."""
    args = ["--approver", "U0A", "--approver", "U0B", "--approver", "U0C", "--min-approvals", "2"]
    fields = [f"k{n}={FIELD}" for n in range(4)]
    base = StartRequest(
        id="apr-big",
        title="Deploy api",
        requester="U0R",
        approvers=("U0A", "U0B", "U0C"),
        min_approvals=2,
        channel="",
        timeout=model.MIN_TIMEOUT,
        fields=tuple((f"k{n}", FIELD) for n in range(4)),
    )
    room = CARD_TEXT_BUDGET - fullest_card(base, model.MAX_REASON, person_width)
    description = "d" * (room - description_room)
    return [*args, *(a for f in fields for a in ("--field", f)), "--description", description]


def test_one_character_under_the_budget_starts_one_over_is_refused(target: MemoryTarget) -> None:
    over = start(*within_budget(-1))
    assert over.exit_code == 2, over.output
    assert "the request is too long for one Slack message" in over.stderr
    assert "1 over the 10,000" in over.stderr
    assert "shorten the description or the fields by 1 characters" in over.stderr
    assert target.started == [] and "Traceback" not in over.output
    at = start(*within_budget(0))
    assert at.exit_code == 0, at.output
    assert target.started == ["apr-big"]


def test_a_policys_quorum_is_held_to_the_budget_when_the_request_is_resolved(
    target: MemoryTarget,
) -> None:
    # 20 approvals, each with a reason of up to 500 characters, cannot fit one message.
    refused = start("--policy", "many-eyes")
    assert refused.exit_code == 2, refused.output
    assert "(20 approvals, each with a reason of up to 500 characters)" in refused.stderr
    assert "ask for at most" in refused.stderr
    with pytest.raises(NotFoundError):
        target.approvals.get("apr-big")
