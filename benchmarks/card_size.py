"""How big the decision card gets: blocks, the text Slack counts, and render time.

For a typical request (a 2-of-3, a few short fields), the same after two votes, and the
largest request kickoff accepts (every text at its limit in plain letters, 25 named
approvers and 500 group members, a quorum of 25 with 24 approvals each carrying the
longest reason; the same without votes; and made of `&`, longest once escaped), prints
the number of blocks, the characters of text across all blocks (Slack refuses a message
past about 12,000: `msg_blocks_too_long`, undocumented), the largest single text, the
payload's JSON size, and how long `blocks.approval_message` takes (median of --runs).

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
from typing import Any

from signoff import blocks, model
from signoff.model import Approval, Decision, StartRequest

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SLACK_TOTAL_TEXT = 12_000  # the cumulative limit Slack's maintainers have described


def _texts(node: Any) -> list[str]:
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if isinstance(node.get("text"), str) else []
    return found + [t for k, v in node.items() if k != "text" for t in _texts(v)]


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


def largest(char: str = "x") -> Approval:
    """With `x`, the most characters kickoff accepts; with `&`, the longest once escaped."""

    def text(limit: int) -> str:
        width = len(char.replace("&", "&amp;"))
        return char * (limit // width) + "x" * (limit % width)

    request = StartRequest(
        id="apr-" + "z" * 60,
        title=text(model.MAX_TITLE),
        description=text(model.MAX_DESCRIPTION),
        requester="R" * 64,
        approvers=tuple(f"W{n:02d}" + "A" * 61 for n in range(model.MAX_APPROVERS)),
        approver_groups=tuple(f"S{n:02d}" + "G" * 18 for n in range(model.MAX_GROUPS)),
        members=tuple(f"W{n:03d}" + "M" * 60 for n in range(model.MAX_MEMBERS)),
        min_approvals=model.MAX_APPROVERS,
        channel="c" * 80,
        timeout=timedelta(days=7),
        fields=tuple(
            (text(model.MAX_FIELD_KEY - 2) + f"{n:02d}", text(model.MAX_FIELD_VALUE))
            for n in range(model.MAX_FIELDS)
        ),
    )
    approval = Approval.open(request, T0)[0]
    for n, voter in enumerate(approval.policy.approvers[:24]):
        at = T0 + timedelta(minutes=n)
        approval = approval.vote(voter, Decision.APPROVE, at, char * model.MAX_REASON)[0]
    return approval


def measure(name: str, approval: Approval, runs: int) -> None:
    rendered = blocks.approval_message(approval)
    texts = _texts(rendered)
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        blocks.approval_message(approval)
        took.append(time.perf_counter() - start)
    total = sum(map(len, texts))
    print(
        f"{name:<22} {len(rendered):>6} {total:>11,} {max(map(len, texts)):>12,} "
        f"{len(json.dumps(rendered, ensure_ascii=False)):>11,} "
        f"{statistics.median(took) * 1000:>9.2f}  {'over' if total > SLACK_TOTAL_TEXT else 'within'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"{platform.machine()}, Python {platform.python_version()}, {args.runs} runs")
    print(
        f"{'card':<22} {'blocks':>6} {'text chars':>11} {'largest text':>12} "
        f"{'JSON bytes':>11} {'render ms':>9}  vs ~{SLACK_TOTAL_TEXT:,}"
    )
    one = typical()
    two = one.vote("U0ALICE", Decision.APPROVE, T0 + timedelta(minutes=3))[0]
    two = two.vote("U0BOB", Decision.APPROVE, T0 + timedelta(minutes=5))[0]
    big = largest()
    measure("typical, pending", one, args.runs)
    measure("typical, approved", two, args.runs)
    measure("largest, 24 reasons", big, args.runs)
    measure("largest, no votes", replace(big, votes=()), args.runs)
    measure("largest of &, escaped", largest("&"), args.runs)


if __name__ == "__main__":
    main()
