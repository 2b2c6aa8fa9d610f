"""The Slack handler's cold path: what a fresh interpreter imports to answer its first
signed request (the probe `benchmarks.cold_start` times, against moto's Secrets Manager).

Whatever a click does not need stays off that path: it would be paid by every cold start.
The probes also run here, so the benchmark cannot rot unnoticed.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from benchmarks.cold_start import FLOOR, ROOT, SLACK, cold_stack

pytestmark = pytest.mark.integration

# Needed for a click only elsewhere, or never on Lambda's Slack function.
NOT_ON_THE_CLICK_PATH = (
    "signoff.policy",  # the policy document: read for a cancel's admins, not for a click
    "yaml",
    "signoff.workflow",
    "aws_durable_execution_sdk_python",
    "signoff.cli",
    "typer",
    "rich",
    "signoff.local",
    "moto",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.typing",  # an annotation only
    "aws_lambda_powertools.utilities.data_classes",
)
# What the handler may import beyond the floor (boto3, a client, a Bolt app): our code,
# Powertools, boto3's DynamoDB types, and the standard library.
OWN_PACKAGES = {"signoff", "slack_handler", "aws_lambda_powertools", "boto3", "typing_extensions"}


def imported(listing: Path) -> dict[str, str]:
    """Module name -> file, from a probe's BENCH_MODULES_OUT listing."""
    names = {}
    stdlib = sysconfig.get_paths()["stdlib"]
    for line in listing.read_text(encoding="utf-8").splitlines():
        path = Path(line)
        if not line.endswith((".py", ".so")):
            continue
        if line.startswith(stdlib) and "site-packages" not in line:
            names[line] = "<stdlib>"
            continue
        root = next((p for p in path.parents if p.name == "site-packages"), ROOT)
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[line] = module.split(".cpython")[0]
    return names


def test_a_cold_start_answers_and_imports_nothing_a_click_does_not_need(tmp_path: Path) -> None:
    with cold_stack() as stack:
        ours, floor = tmp_path / "ours.txt", tmp_path / "floor.txt"
        # Each answers its signed request with 200 (run() fails the test otherwise).
        stack.run(SLACK, {"BENCH_MODULES_OUT": str(ours)})
        stack.run(FLOOR, {"BENCH_MODULES_OUT": str(floor)})
    modules = imported(ours)
    names = set(modules.values())
    assert "slack_handler.app" in names and "signoff.store" in names  # the listing is real
    loaded = sorted(
        n for n in names for unwanted in NOT_ON_THE_CLICK_PATH if n.startswith(unwanted)
    )
    assert loaded == [], f"imported on the cold path: {loaded}"
    beyond_floor = set(modules) - set(imported(floor))
    unexpected = sorted(
        modules[f]
        for f in beyond_floor
        if modules[f] != "<stdlib>" and modules[f].split(".")[0] not in OWN_PACKAGES
    )
    assert unexpected == [], f"new third-party imports on the cold path: {unexpected}"
