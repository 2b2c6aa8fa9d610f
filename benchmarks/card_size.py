"""How big the decision card gets: blocks, the text Slack counts, and render time.

For a typical request (a 2-of-3, a few short fields), the same after two votes, and the
largest requests kickoff accepts now that the card has a whole-message budget
(`signoff/cardtext.py`): one approval with the text filling the budget (title at its
limit, then the description, then ten fields), in the fullest state it reaches; the
largest quorum the budget allows (25 named approvers and 500 group members), one vote
short with every approval carrying the longest reason, and then approved; the same made of
`&`. Prints the number of blocks, the characters of text across all blocks (what the
budget counts; Slack refuses a message past about 12,000: `msg_blocks_too_long`,
undocumented), the largest single text, the payload's JSON size, and how long
`blocks.approval_message` takes (median of --runs).

Run: .venv/bin/python -m benchmarks.card_size [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from signoff import blocks, cardtext, model
from signoff.errors import ValidationError
from signoff.model import Approval, Decision, StartRequest

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def typical() -> Approval:
    request = StartRequest(
        id="apr-typical",
        title="Deploy api v2.3.1 to prod",
        description="Rolls out the new rate limiter; rollback is `make rollback`.",
        requester="U0REQUESTER",
        approvers=("U0ALICE", "U0BOB", "U0CAROL"),
        min_approvals=2,
        channel="approvals",
        timeout=timedelta(hours=1),
        fields=(("env", "prod"), ("version", "2.3.1"), ("change", "CHG-4412")),
    )
    return Approval.open(request, T0)[0]


def _room(request: StartRequest) -> int:
    return cardtext.CARD_TEXT_BUDGET - cardtext.fullest_card(
        request, model.MAX_REASON, model.person_width
    )


def largest(char: str = "x", quorum: int = 1) -> StartRequest:
    """The request that fills the card's budget at `quorum`: the title at its limit, then
    the description, then ten fields, as far as the room goes."""

    def text(limit: int) -> str:
        width = len(char.replace("&", "&amp;"))
        return (char * (limit // width) + "x" * (limit % width))[:limit]

    request = StartRequest(
        id="apr-" + "z" * 60,
        title=text(model.MAX_TITLE),
        requester="R" * 64,
        approvers=tuple(f"W{n:02d}" + "A" * 61 for n in range(model.MAX_APPROVERS)),
        approver_groups=tuple(f"S{n:02d}" + "G" * 18 for n in range(model.MAX_GROUPS)),
        members=tuple(f"W{n:03d}" + "M" * 60 for n in range(model.MAX_MEMBERS)),
        min_approvals=quorum,
        channel="c" * 80,
        timeout=timedelta(days=7),
    )
    request = replace(request, description=text(min(_room(request), model.MAX_DESCRIPTION)))
    fields: list[tuple[str, str]] = []
    for n in range(model.MAX_FIELDS):
        left = _room(request) - model.MAX_FIELD_KEY - 1
        if left <= 0:
            break
        fields.append(
            (text(model.MAX_FIELD_KEY - 2) + f"{n:02d}", text(model.MAX_FIELD_VALUE)[:left])
        )
        request = replace(request, fields=tuple(fields))
    return request


def largest_quorum() -> int:
    quorum = model.MAX_APPROVERS
    while quorum > 1:
        try:
            largest(quorum=quorum)
        except ValidationError:
            quorum -= 1
        else:
            break
    return quorum


def voted(request: StartRequest, votes: int, char: str = "x") -> Approval:
    approval = Approval.open(request, T0)[0]
    for n, voter in enumerate(approval.policy.approvers[:votes]):
        at = T0 + timedelta(minutes=n)
        approval = approval.vote(voter, Decision.APPROVE, at, char * model.MAX_REASON)[0]
    return approval


def measure(name: str, approval: Approval, runs: int) -> None:
    rendered = blocks.approval_message(approval)
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        blocks.approval_message(approval)
        took.append(time.perf_counter() - start)
    total = cardtext.text_length(rendered)
    largest_text = max(cardtext.text_length(b) for b in rendered)
    print(
        f"{name:<30} {len(rendered):>6} {total:>11,} {largest_text:>12,} "
        f"{len(json.dumps(rendered, ensure_ascii=False)):>11,} "
        f"{statistics.median(took) * 1000:>9.2f}  {total / cardtext.CARD_TEXT_BUDGET:>6.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"{platform.machine()}, Python {platform.python_version()}, {args.runs} runs")
    print(
        f"{'card':<30} {'blocks':>6} {'text chars':>11} {'largest block':>12} "
        f"{'JSON bytes':>11} {'render ms':>9}  of {cardtext.CARD_TEXT_BUDGET:,}"
    )
    one = typical()
    two = one.vote("U0ALICE", Decision.APPROVE, T0 + timedelta(minutes=3))[0]
    two = two.vote("U0BOB", Decision.APPROVE, T0 + timedelta(minutes=5))[0]
    quorum = largest_quorum()
    text = largest()
    many = voted(largest(quorum=quorum), quorum - 1)
    last = many.policy.approvers[quorum - 1]
    measure("typical, pending", one, args.runs)
    measure("typical, approved", two, args.runs)
    measure("largest text, pending", voted(text, 0), args.runs)
    measure(
        "largest text, cancelled",
        voted(text, 0).cancel(text.requester, T0, "x" * 500)[0],
        args.runs,
    )
    measure(f"largest quorum ({quorum}), pending", many, args.runs)
    measure(
        f"largest quorum ({quorum}), approved",
        many.vote(last, Decision.APPROVE, T0 + timedelta(hours=1), "x" * 500)[0],
        args.runs,
    )
    amp = largest("&", quorum)
    measure("the same of &, pending", voted(amp, quorum - 1, "&"), args.runs)


if __name__ == "__main__":
    main()
