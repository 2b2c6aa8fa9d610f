"""What a build leaves in a checkout stays out of git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path",
    [
        "dist/signoff-0.1.0-py3-none-any.whl",  # python -m build --wheel, as the README says
        "build/lib/signoff/__init__.py",
        "signoff.egg-info/PKG-INFO",
        ".aws-sam/build/template.yaml",
    ],
)
def test_build_output_is_ignored(path: str) -> None:
    if shutil.which("git") is None or not (CHECKOUT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=CHECKOUT, check=False
    )
    assert ignored.returncode == 0, f"{path} is not ignored: add it to .gitignore"
