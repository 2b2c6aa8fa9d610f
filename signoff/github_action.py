"""The GitHub Action's step (action.yml runs `python -m signoff.github_action`): the
action's inputs become one `signoff start`, its exit code the step's outcome, and the
approval's id and status the step's outputs.

Inputs arrive as environment variables (`SIGNOFF_INPUT_<NAME>`), never pasted into a
script: a title holding `$(...)` or quotes is data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from signoff.gates.dispatch import KIND as DISPATCH

MODES = ("wait", "dispatch")
# `signoff start`'s exit codes, as the step says them.
OUTCOMES = {0: "approved", 3: "rejected", 4: "expired", 5: "cancelled"}
# Inputs that become one option each (empty: left out); lists take one value per line.
SINGLE = {
    "title": "--title",
    "description": "--description",
    "policy": "--policy",
    "requester": "--requester",
    "channel": "--channel",
    "timeout": "--timeout",
    "min-approvals": "--min-approvals",
    "id": "--id",
}
MULTI = {
    "approvers": "--approver",
    "approver-groups": "--approver-group",
    "fields": "--field",
    "links": "--link",
}
BINDS = {"bind-sha": "sha", "bind-digest": "digest", "bind-plan": "plan"}
GLOBAL = {"stack": "--stack", "region": "--region", "local-url": "--local-url"}
INPUTS = (
    "mode",
    *SINGLE,
    *MULTI,
    *BINDS,
    *GLOBAL,
    "dispatch-repository",
)


class ActionInputError(Exception):
    """An input the action cannot use."""


@dataclass(frozen=True)
class StepResult:
    code: int  # the step's exit code: 0 approved (or filed, in dispatch mode)
    outputs: dict[str, str]
    message: str


def inputs_from_env(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env.get(f"SIGNOFF_INPUT_{name.upper().replace('-', '_')}", "") for name in INPUTS}


def _lines(value: str) -> list[str]:
    """One value per line (commas too, for approvers and groups); blanks dropped."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def start_args(inputs: Mapping[str, str]) -> list[str]:
    """The `signoff` command line for these inputs."""
    mode = inputs.get("mode", "").strip() or "wait"
    if mode not in MODES:
        raise ActionInputError(f"mode must be wait or dispatch, not {mode[:40]!r}")
    args: list[str] = []
    for name, option in GLOBAL.items():
        if inputs.get(name, "").strip():
            args += [option, inputs[name].strip()]
    args += ["start", "--json"]
    for name, option in SINGLE.items():
        if inputs.get(name, "").strip():
            args += [option, inputs[name].strip()]
    for name, option in MULTI.items():
        raw = inputs.get(name, "")
        values = _lines(raw.replace(",", "\n")) if name.startswith("approver") else _lines(raw)
        for value in values:
            args += [option, value]
    for name, kind in BINDS.items():
        if inputs.get(name, "").strip():
            args += ["--bind", f"{kind}={inputs[name].strip()}"]
    if mode == "wait":
        args.append("--wait")
    else:
        repository = inputs.get("dispatch-repository", "").strip()
        if not repository:
            raise ActionInputError("mode: dispatch needs dispatch-repository (OWNER/REPO)")
        args += ["--on-approve", f"{DISPATCH}:{repository}"]
    return args


def json_objects(text: str) -> list[dict[str, object]]:
    """The JSON objects `signoff start --json` printed, one after another."""
    decoder = json.JSONDecoder()
    found: list[dict[str, object]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return found
        value, at = decoder.raw_decode(text, at)
        if isinstance(value, dict):
            found.append(value)


Invoke = Callable[[list[str]], "tuple[int, str, str]"]


def run_step(inputs: Mapping[str, str], invoke: Invoke) -> StepResult:
    """Run the step: file the request (and wait, in wait mode); what the step reports."""
    try:
        args = start_args(inputs)
    except ActionInputError as exc:
        return StepResult(2, {}, str(exc))
    code, stdout, stderr = invoke(args)
    try:
        printed = json_objects(stdout)
    except ValueError:
        printed = []
    approval_id = str(printed[0].get("id", "")) if printed else ""
    status = str(printed[-1].get("status", "")) if printed else ""
    outputs = {"approval-id": approval_id, "status": status} if approval_id else {}
    said = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if "--wait" not in args:
        if code == 0:
            return StepResult(
                0, outputs, f"{approval_id} filed; a repository_dispatch follows its approval"
            )
        return StepResult(code or 1, outputs, said or f"signoff start failed (exit {code})")
    if code == 0:
        return StepResult(0, outputs, f"{approval_id} approved")
    if code in OUTCOMES:
        outcome = printed[-1] if printed else {}
        who = f" by {outcome['decided_by']}" if outcome.get("decided_by") else ""
        why = f": {outcome['reason']}" if outcome.get("reason") else ""
        return StepResult(code, outputs, f"{approval_id} {OUTCOMES[code]}{who}{why}")
    return StepResult(code or 1, outputs, said or f"signoff start failed (exit {code})")


def _subprocess(args: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(["signoff", *args], capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)  # the wait's progress and any error, in the step's log
    return done.returncode, done.stdout, done.stderr


def main() -> None:
    result = run_step(inputs_from_env(os.environ), _subprocess)
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as file:
            for name, value in result.outputs.items():
                file.write(f"{name}={value}\n")
    # One workflow command line; what follows `::` is escaped as GitHub asks.
    kind = "notice" if result.code == 0 else "error"
    escaped = result.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::{kind} title=signoff::{escaped}")
    sys.exit(result.code)


if __name__ == "__main__":
    main()
