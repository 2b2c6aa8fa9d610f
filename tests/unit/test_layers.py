"""The arrows between modules point inward (docs/architecture.md, "Module map").

The domain imports nothing but the domain; the use cases declare their ports and import no
adapter; only the composition root and the tools assemble adapters. Read from the source's
imports, so a new outward arrow fails here before review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIGNOFF = Path(__file__).resolve().parents[2] / "signoff"

DOMAIN = {
    "model": {"errors", "refusals", "text", "binding", "ci", "cardtext", "frozen"},
    "cardtext": {"model"},  # its type, for annotations only
    "binding": {"errors", "text", "frozen"},
    "ci": {"errors", "text", "frozen"},
    "refusals": {"frozen"},
    "text": set(),
    "frozen": set(),  # value types without compiled methods: any module may use it
}
ADAPTERS = {"store", "memstore", "codec", "slack", "blocks", "messages", "notify", "local"}
ASSEMBLERS = {"wiring", "local"}
MAY_ASSEMBLE = {"wiring", "cli", "doctor", "handlers", "local"}


def ours(module: str) -> set[str]:
    """The signoff modules (top level under signoff/) that `module` imports (a package: any
    of its modules)."""
    path = SIGNOFF / f"{module}.py"
    files = [path] if path.exists() else sorted((SIGNOFF / module).rglob("*.py"))
    found: set[str] = set()
    nodes = (n for f in files for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "signoff":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from signoff import blocks
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "signoff" and len(parts) > 1:
                    found.add(parts[1])
    return found - {module}


def top_level_modules() -> list[str]:
    names = [p.stem for p in SIGNOFF.glob("*.py") if p.stem != "__init__"]
    names += [p.parent.name for p in SIGNOFF.glob("*/__init__.py")]
    return sorted(names)


@pytest.mark.parametrize("module", sorted(DOMAIN))
def test_the_domain_imports_only_the_domain(module: str) -> None:
    assert ours(module) <= DOMAIN[module], f"signoff.{module} imports {ours(module)}"


def test_the_use_cases_import_no_adapter() -> None:
    assert not ours("service") & (ADAPTERS | ASSEMBLERS | {"cli", "targets", "handlers"})


@pytest.mark.parametrize("module", top_level_modules())
def test_only_the_composition_root_and_the_tools_assemble_adapters(module: str) -> None:
    if module in MAY_ASSEMBLE:
        return
    assert not ours(module) & ASSEMBLERS, f"signoff.{module} imports {ours(module) & ASSEMBLERS}"


def test_the_import_reader_sees_imports() -> None:
    # The checks above hold only if the reader finds imports at all.
    assert {"errors", "refusals", "text"} <= ours("model")
    assert "local" in ours("cli")
