"""The `sam` command lines in the README and docs/, run through SAM CLI's own parser.

Each line is expanded by bash as a reader's shell would expand it (`$(cat policies.yaml)`
included, with `sam` a shell function that prints its arguments), then parsed by the SAM
CLI that `make setup` installs in `.venv-sam` (its own venv, so a subprocess), in a
directory holding template.yaml and the samconfig.toml that `sam deploy --guided` leaves.
A line passes when SAM accepts it and reads every `--parameter-overrides` value exactly
as the shell passed it, for a parameter template.yaml has, within CloudFormation's 4,096
bytes, and saved with `--save-params` (otherwise the next plain `sam deploy` passes the
value `--guided` saved in samconfig.toml and undoes it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_PARAMETER_VALUE = 4096  # bytes: CloudFormation's limit on one parameter value

# A fenced block's lines (continuations joined) and inline code spans; a `sam` command
# starts the text or follows &&, ; or |.
_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"`([^`\n]+)`")
_SAM = re.compile(r"(?:^|&&|;|\|)\s*sam\s")

# Parses argument lists the way `sam` does, down to the command's own options.
_PARSE = """
import json, sys
from samcli.cli.main import cli
from samcli.cli.types import CfnParameterOverridesType
from samcli.commands.deploy.deploy_context import DeployContext
from samcli.yamlhelper import yaml_parse

asked = json.load(sys.stdin)
parsed = []
for argv in asked["argvs"]:
    try:
        ctx = cli.make_context("sam", list(argv))
        name, command, rest = cli.resolve_command(ctx, ctx.protected_args + ctx.args)
        params = command.make_context(name, rest, parent=ctx).params
        parsed.append({
            "command": name,
            "overrides": params.get("parameter_overrides"),
            "save_params": bool(params.get("save_params")),
            "error": None,
        })
    except (Exception, SystemExit) as exc:
        parsed.append({"command": "", "error": f"{type(exc).__name__}: {exc}"})
# What `sam deploy` sends CloudFormation for samconfig.toml's saved overrides.
saved = CfnParameterOverridesType().convert((asked["saved"],), None, None)
template = yaml_parse(open("template.yaml").read())
merged = DeployContext.merge_parameters(template, saved)
print(json.dumps({"parsed": parsed, "merged": merged}))
"""
# A samconfig.toml saved by `sam deploy --guided` when the document was a stack parameter.
STALE_SAVED = 'Policies="allow_ad_hoc: false" AllowCliDecisions="true"'
# The README's old policy update, kept to show the check bites: SAM splits the document at
# its first space. And a good line, and one SAM refuses.
OLD_POLICY_LINE = 'sam deploy --parameter-overrides Policies="$(cat policies.yaml)"'
SAVED_LINE = "sam deploy --parameter-overrides AllowCliDecisions=true --save-params"
BOGUS_LINE = "sam deploy --bogus"


Group = tuple[str, ...]  # the `sam` lines of one fenced block (or one inline span), in order


def sam_groups(markdown: str) -> list[Group]:
    """Every `sam ...` command line in the text, by fenced block (inline code: one each)."""
    found: list[Group] = []
    for block in _FENCE.findall(markdown):
        lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
        if group := tuple(line for line in lines if _SAM.search(line)):
            found.append(group)
    prose = _FENCE.sub("", markdown)
    found += [(code.strip(),) for code in _INLINE.findall(prose) if _SAM.search(code)]
    return found


def sam_lines(markdown: str) -> list[str]:
    return [line for group in sam_groups(markdown) for line in group]


def template() -> dict[str, Any]:
    parsed, problems = decode_str((ROOT / "template.yaml").read_text())
    assert not problems and parsed is not None
    return dict(parsed)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout after `sam deploy --guided`: the template, samconfig.toml with the answers
    guided saves (every template parameter among them), and the README's policies.yaml."""
    if not SAM_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("SAM CLI is missing from .venv-sam: run `make setup`")
        pytest.skip("SAM CLI is not installed in .venv-sam: run `make setup`")
    where = tmp_path_factory.mktemp("checkout")
    (where / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    answers = " ".join(
        f'{name}="{spec.get("Default", "")}"' for name, spec in template()["Parameters"].items()
    )
    guided = (
        "\n[default.deploy.parameters]\n"
        'stack_name = "signoff"\nresolve_s3 = true\ns3_prefix = "signoff"\n'
        'region = "us-east-1"\nconfirm_changeset = true\ncapabilities = "CAPABILITY_IAM"\n'
        f"parameter_overrides = {json.dumps(answers)}\n"
    )
    (where / "samconfig.toml").write_text((ROOT / "samconfig.toml").read_text() + guided)
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```yaml\n(allow_ad_hoc: false.*?)```", readme, re.DOTALL)
    assert example, "the README's policy document example moved"
    (where / "policies.yaml").write_text(example.group(1))
    return where


def shell_words(command: str, cwd: Path) -> list[list[str]]:
    """The argument lists bash gives `sam` for the line (one per `sam` it runs)."""
    dump = f'sam() {{ "{sys.executable}" -c "import json, sys; print(json.dumps(sys.argv[1:]))" "$@"; }}\n'
    done = subprocess.run(
        ["bash", "-c", dump + command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd)},
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]


def sam(argvs: list[list[str]], cwd: Path) -> dict[str, Any]:
    """SAM CLI's reading of each argument list, and of STALE_SAVED (one SAM process)."""
    done = subprocess.run(
        [str(SAM_PYTHON), "-c", _PARSE],
        input=json.dumps({"argvs": argvs, "saved": STALE_SAVED}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def checked(workdir: Path) -> tuple[dict[str, list[str]], dict[str, list[str]], list[Any]]:
    """What is wrong with each documented line, with each self-test line, and what SAM
    sends for a stale samconfig.toml."""
    documented = list(dict.fromkeys(g for doc in DOCS for g in sam_groups(doc.read_text())))
    examples: list[Group] = [(OLD_POLICY_LINE,), (SAVED_LINE,), (BOGUS_LINE,)]
    found, merged = problems(documented + examples, workdir)
    lines = {line for group in documented for line in group}
    return (
        {c: p for c, p in found.items() if c in lines},
        {g[0]: found[g[0]] for g in examples},
        merged,
    )


def problems(groups: list[Group], cwd: Path) -> tuple[dict[str, list[str]], list[Any]]:
    """What is wrong with each command line, as SAM reads it (an empty list: nothing)."""
    parameters = template()["Parameters"]
    runs = [(g, c, argv) for g in groups for c in dict.fromkeys(g) for argv in shell_words(c, cwd)]
    answer = sam([argv for _, _, argv in runs], cwd)
    found: dict[str, list[str]] = {c: [] for g in groups for c in g}

    def wrong(command: str, problem: str) -> None:
        if problem not in found[command]:
            found[command].append(problem)

    # Per block: what its deploys leave each parameter at, and whether it was saved.
    left: dict[Group, dict[str, tuple[str, bool, str]]] = {g: {} for g in groups}
    for (group, command, argv), parsed in zip(runs, answer["parsed"], strict=True):
        if parsed["error"]:
            wrong(command, f"SAM refuses it: {parsed['error']}")
            continue
        if "--parameter-overrides" not in argv:
            continue
        given = argv[argv.index("--parameter-overrides") + 1 :]
        given = given[: next((i for i, a in enumerate(given) if a.startswith("--")), len(given))]
        overrides: dict[str, str] = parsed["overrides"] or {}
        meant = _plain(" ".join(given))
        understood = _plain(" ".join(f"{k}={v}" for k, v in overrides.items()))
        if understood != meant:
            wrong(
                command, f"SAM read {overrides!r} from {' '.join(given)[:80]!r}…: the rest is lost"
            )
        for key, value in overrides.items():
            left[group][key] = (value, parsed["save_params"], command)
            spec = parameters.get(key)
            if spec is None:
                wrong(command, f"{key} is not a parameter of template.yaml")
                continue
            if "AllowedValues" in spec and value not in spec["AllowedValues"]:
                wrong(command, f"{key}={value!r} is not one of {spec['AllowedValues']}")
            if len(value.encode()) > MAX_PARAMETER_VALUE:
                wrong(command, f"{key} is over CloudFormation's {MAX_PARAMETER_VALUE} bytes")
    # samconfig.toml holds what `--guided` saved (the workdir's: the defaults). A value a
    # block leaves different from it, unsaved, is undone by the next plain `sam deploy`.
    for settled in left.values():
        for key, (value, saved, command) in settled.items():
            before = str(parameters.get(key, {}).get("Default", ""))
            if value != before and not saved:
                wrong(
                    command,
                    f"no --save-params: the next plain `sam deploy` passes samconfig.toml's "
                    f"saved {key}={before!r} again and undoes it",
                )
    return found, list(answer["merged"])


def _plain(text: str) -> str:
    return " ".join(text.replace('"', "").replace("'", "").split())


def test_every_documented_sam_command_is_read_by_sam_as_written(
    checked: tuple[dict[str, list[str]], dict[str, list[str]], list[Any]],
) -> None:
    wrong, _, _ = checked
    assert len(wrong) >= 5, "fewer sam command lines than expected: is the extraction broken?"
    assert any("--parameter-overrides" in c for c in wrong)
    where = {c: doc.name for doc in DOCS for c in sam_lines(doc.read_text())}
    assert not any(wrong.values()), "\n".join(
        f"{where[c]}: {c}\n  " + "\n  ".join(p) for c, p in wrong.items() if p
    )


def test_the_check_bites_on_the_policy_line_the_docs_used_to_carry(
    checked: tuple[dict[str, list[str]], dict[str, list[str]], list[Any]],
) -> None:
    _, found, _ = checked
    said = found[OLD_POLICY_LINE]
    assert any(p.startswith("SAM read {'Policies': 'allow_ad_hoc:'}") for p in said), said
    assert "Policies is not a parameter of template.yaml" in said
    assert any("--save-params" in p for p in said)
    assert found[SAVED_LINE] == []
    assert found[BOGUS_LINE][0].startswith("SAM refuses it: NoSuchOption")


def test_samconfig_never_carries_policies(
    checked: tuple[dict[str, list[str]], dict[str, list[str]], list[Any]],
) -> None:
    """The document is not a stack parameter, so `sam deploy --guided` cannot save it; and a
    samconfig.toml saved before (with `Policies=...`) passes nothing of it to CloudFormation."""
    assert "Policies" not in template()["Parameters"]
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert "policies" not in json.dumps(config).lower()
    _, _, sent = checked
    assert {p["ParameterKey"] for p in sent} == set(template()["Parameters"])
    assert {"ParameterKey": "AllowCliDecisions", "ParameterValue": "true"} in sent
