"""Evaluate IAM requests with @cloud-copilot/iam-simulate (tests/iam/simulate.mjs, on Node).

A well-kept simulator rather than a matcher of our own: it checks each policy, the action
against AWS's published actions, the resource ARN against the action's resource types
(a durable-execution action on a function ARN is an error, as on AWS), and decides as IAM
does, with conditions. One Node process evaluates a whole batch.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.iam.stack import ACCOUNT

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "simulate.mjs"
PACKAGE = HERE.parents[1] / "node_modules" / "@cloud-copilot" / "iam-simulate"


class SimulatorMissingError(Exception):
    """Node or the simulator package is not installed."""


@dataclass(frozen=True)
class Request:
    principal: str  # a key of the principals passed to simulate()
    action: str
    resource: str


@dataclass(frozen=True)
class Verdict:
    request: Request
    result: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, error
    errors: Any
    allowed_by: tuple[tuple[str, str, str, str], ...]  # (policy, Sid, action, resource)

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


def simulate(
    principals: Mapping[str, Sequence[dict[str, Any]]], requests: Sequence[Request]
) -> list[Verdict]:
    """Each request decided against its principal's named identity policies."""
    node = shutil.which("node")
    if node is None or not PACKAGE.exists():
        raise SimulatorMissingError(
            "the IAM test needs Node.js and @cloud-copilot/iam-simulate: run `make setup` "
            "(npm ci installs it from package.json)"
        )
    payload = {
        "account": ACCOUNT,
        "principals": {
            key: {
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{re.sub(r'[^A-Za-z0-9+=,.@_-]', '-', key)}",
                "policies": list(policies),
            }
            for key, policies in principals.items()
        },
        "requests": [
            {"principal": r.principal, "action": r.action, "resource": r.resource} for r in requests
        ],
    }
    proc = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the IAM simulator failed:\n{proc.stderr}")
    answers = json.loads(proc.stdout)
    return [
        Verdict(
            request,
            answer["result"],
            answer.get("errors"),
            tuple(
                (s["policy"], s["sid"], action, resource)
                for s in answer.get("allowedBy", [])
                for action in s["actions"]
                for resource in s["resources"]
            ),
        )
        for request, answer in zip(requests, answers, strict=True)
    ]
