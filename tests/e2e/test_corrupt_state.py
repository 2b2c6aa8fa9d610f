"""Damaged or lost local state is said, naming the file and what to do; never silent.

One home is made with a pending approval (posted, its workflow waiting); each case damages
a copy of it and starts `signoff dev` on the copy:

- a damaged file (the workflow store cut short or garbled, DynamoDB Local's data garbled,
  the dev secrets garbled): the start is refused (exit 1) with one message naming the file
  and what to do;
- state lost between files (the workflow store emptied, the table's data deleted): the
  stack starts, says at start-up which approvals the table and the workflows disagree on
  and what to do, and `signoff doctor` fails its "table and workflows agree" check the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signoff import cli
from tests.e2e.test_dev_stack import SIGNOFF, Dev

pytestmark = pytest.mark.e2e

APPROVAL = "apr-corrupt-1"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one pending approval, posted, its workflow waiting; stopped cleanly."""
    home = tmp_path_factory.mktemp("made") / "state"
    dev = Dev(home)
    dev.start()
    try:
        result = dev.cli(
            "start",
            "--id",
            APPROVAL,
            "--title",
            "Survive damage",
            "--requester",
            "U0REQUESTER",
            "--approver",
            "U0APPROVER",
            "--timeout",
            "1h",
        )
        assert result.returncode == 0, result.stderr
        dev.message_for(APPROVAL)
    finally:
        dev.stop()
    assert (home / "durable.sqlite").stat().st_size > 8192
    return home


def copy(made: Path, tmp_path: Path) -> Path:
    home = tmp_path / "state"
    shutil.copytree(made, home)
    return home


def refused(home: Path) -> str:
    """Start `signoff dev` on `home`: it must refuse (exit 1); its message."""
    dev = Dev(home)
    done = subprocess.run(
        [*SIGNOFF, "dev", "--port", str(dev.port), "--home", str(home)],
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    return " ".join(done.stderr.split())  # rich wraps long lines


def cut_to_half(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for at in range(0, len(data), 997):
        data[at] ^= 0x5A
    path.write_bytes(bytes(data))


CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "workflow store cut short": ("durable.sqlite", cut_to_half),
    "workflow store garbled": ("durable.sqlite", garble),
    "table data garbled": ("dynamodb/shared-local-instance.db", garble),
    "dev secrets garbled": ("local-secrets.json", garble),
    # The stand-in's journal is refused the same way, once DynamoDB Local is up (a start
    # longer): integration/test_standin_state.py holds its message.
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_file_refuses_the_start_naming_it(made: Path, tmp_path: Path, case: str) -> None:
    name, damage = CASES[case]
    home = copy(made, tmp_path)
    damage(home / name)
    said = refused(home)
    assert str(home / name) in said, said
    assert "move it aside" in said or "move the file aside" in said, said


def disagreements(dev: Dev) -> list[dict[str, str]]:
    mismatches = dev.get("/local/check")["mismatches"]
    assert isinstance(mismatches, list)
    return mismatches


def doctor_check(dev: Dev) -> dict[str, str]:
    result = CliRunner().invoke(cli.app, ["doctor", "--json"], env={"SIGNOFF_LOCAL_URL": dev.url})
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.exit_code == 1
    return dict(checks["table and workflows agree"])


def start_log(dev: Dev) -> str:
    return " ".join((dev.home.parent / f"dev-{dev.port}.log").read_text().split())


def test_an_emptied_workflow_store_is_said_not_recovered_0_in_silence(
    made: Path, tmp_path: Path
) -> None:
    home = copy(made, tmp_path)
    (home / "durable.sqlite").write_bytes(b"")
    dev = Dev(home)
    dev.start()
    try:
        (found,) = disagreements(dev)
        assert found["id"] == APPROVAL
        assert "has no workflow" in found["problem"]
        assert str(home / "durable.sqlite") in found["problem"]
        assert f"signoff cancel {APPROVAL}" in found["fix"]
        check = doctor_check(dev)
        assert check["outcome"] == "fail"
        assert APPROVAL in check["detail"]
        assert f"signoff cancel {APPROVAL}" in check["fix"]
        log = start_log(dev)
        assert "1 approval(s) the table and the workflows disagree on" in log, log
        assert f"{APPROVAL}: pending, but has no workflow" in log, log
    finally:
        dev.stop()


def test_deleted_table_data_is_said_for_each_waiting_workflow(made: Path, tmp_path: Path) -> None:
    home = copy(made, tmp_path)
    shutil.rmtree(home / "dynamodb")
    dev = Dev(home)
    dev.start()
    try:
        (found,) = disagreements(dev)
        assert found["id"] == APPROVAL
        assert "record is gone" in found["problem"]
        assert str(home / "dynamodb") in found["problem"]
        assert str(home / "durable.sqlite") in found["fix"]
        assert doctor_check(dev)["outcome"] == "fail"
        assert f"{APPROVAL}: its workflow is running, but its record is gone" in start_log(dev)
    finally:
        dev.stop()
