"""What `sam build` puts into a function, built by the same Makefile target SAM runs.

`make build-SlackFunction ARTIFACTS_DIR=...` (all three functions get the same content)
installs requirements.txt as Linux wheels for Python 3.13 from PyPI, so this test needs
the network and is not part of `make test`: `make check-build` runs it
(SIGNOFF_CHECK_BUILD=1). The `.pyc` check needs a working Python 3.13 (`python3.13` on
PATH, or LAMBDA_PYTHON=/path/to/python3.13); without one it is skipped and says so, as the
build itself then ships no `.pyc`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("SIGNOFF_CHECK_BUILD"),
        reason="downloads Linux wheels for Python 3.13 from PyPI: run `make check-build` "
        "(or set SIGNOFF_CHECK_BUILD=1)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda: a function's code, unzipped
CODE_PACKAGES = ("signoff", "workflow_fn", "slack_handler", "notifier")
NO_PYC = "no working Python 3.13 here (python3.13 on PATH, or LAMBDA_PYTHON=/path/to/python3.13)"


def lambda_python() -> str | None:
    """A Python 3.13 that runs (a pyenv shim without that version active does not)."""
    for candidate in (os.environ.get("LAMBDA_PYTHON"), shutil.which("python3.13")):
        if not candidate:
            continue
        ran = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
            capture_output=True,
            text=True,
        )
        if ran.returncode == 0 and ran.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str | None]:
    python = lambda_python()
    where = tmp_path_factory.mktemp("build") / "SlackFunction"
    make = ["make", "--no-print-directory", "build-SlackFunction", f"ARTIFACTS_DIR={where}"]
    if python:
        make.append(f"LAMBDA_PYTHON={python}")
    else:
        make.append("LAMBDA_PYTHON=")  # the Makefile's own lookup might find a broken shim
    done = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    if not python:
        assert "no working python3.13 found" in done.stderr
    return where, python


def test_the_artifact_fits_lambda(built: tuple[Path, str | None]) -> None:
    where, _ = built
    size = sum(f.stat().st_size for f in where.rglob("*") if f.is_file())
    print(f"\nSlackFunction artifact: {size / 1024 / 1024:.1f} MB unzipped", file=sys.stderr)
    assert size < LAMBDA_UNZIPPED_LIMIT


def test_the_artifact_holds_the_handlers_and_not_the_laptop_stack(
    built: tuple[Path, str | None],
) -> None:
    where, _ = built
    for package in CODE_PACKAGES:
        assert (where / package / "__init__.py").is_file() or (where / package / "app.py").is_file()
    assert not (where / "signoff" / "local").exists()
    for local_only in ("moto", "flask", "werkzeug", "aws_durable_execution_sdk_python_testing"):
        assert not (where / local_only).exists(), f"{local_only} is for the laptop stack only"
    assert not list(where.rglob(f"*.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc"))


def test_the_artifact_is_compiled_for_the_runtime_and_imports(
    built: tuple[Path, str | None],
) -> None:
    where, python = built
    if python is None:
        assert not list(where.rglob("*.pyc")), "no Python 3.13: the build must not ship .pyc"
        pytest.skip(NO_PYC)
    sources = [p for package in CODE_PACKAGES for p in (where / package).rglob("*.py")]
    assert sources
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert compiled.is_file(), f"{source.relative_to(where)} has no .pyc"
        # PEP 552 flags: hash-based (bit 0) and unchecked (bit 1 clear), so the zip's
        # 2-second file times cannot make Lambda ignore it.
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01
    # The handlers import under the runtime's Python from the artifact alone.
    imported = subprocess.run(
        [
            python,
            "-I",  # nothing of this machine's: only the artifact, as Lambda's /var/task
            "-c",
            f"import sys; sys.path.insert(0, {str(where)!r}); "
            "import slack_handler.app, workflow_fn.app, notifier.app",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert imported.returncode == 0, imported.stderr
