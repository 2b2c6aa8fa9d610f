"""LocalDurable across a kill -9: a fresh one over the same SQLite file finishes the work.

The first LocalDurable runs in a subprocess that SIGKILLs itself inside a step of the
real workflow handler (a botocore hook on the default session, the one the handler's
clients come from), once the step's STARTED checkpoint is in the file. Nothing is armed
for such an execution: only a re-invocation drives it on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python_testing.stores.sqlite import SQLiteExecutionStore

import workflow_fn.app
from signoff.codec import request_to_payload
from signoff.local.durable import LocalDurable
from signoff.model import Decision, Status
from signoff.service import Approvals
from tests.conftest import drain
from tests.factories import start_request

pytestmark = pytest.mark.integration

# Runs the workflow in a LocalDurable and dies by SIGKILL after the botocore event
# EVENT, with the step STEP stored as STARTED.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path

    import boto3
    from aws_durable_execution_sdk_python_testing.stores.sqlite import SQLiteExecutionStore

    import workflow_fn.app
    from signoff.local.durable import LocalDurable

    db, event, step, payload = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    name = json.loads(payload)["id"]

    def started():
        for execution in SQLiteExecutionStore(db).list_all():
            for op in execution.operations:
                if op.name == step and op.status.value == "STARTED":
                    return True
        return False

    def die(**_):
        give_up = time.monotonic() + 10
        while not started() and time.monotonic() < give_up:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register(event, die)
    durable = LocalDurable(workflow_fn.app.handler, db)
    durable.start(name, json.loads(payload))
    time.sleep(60)
    """
)


def operations(db: Path) -> dict[str, str]:
    (execution,) = SQLiteExecutionStore(db).list_all()
    return {str(op.name): op.status.value for op in execution.operations if op.name}


@pytest.mark.parametrize(
    ("event", "step"),
    [
        ("after-call.dynamodb.TransactWriteItems", "create-record"),
        ("after-call.sns.Publish", "publish-requested"),
    ],
)
def test_an_execution_killed_inside_a_step_is_driven_to_the_end(
    lambda_env, approvals: Approvals, local_aws, tmp_path: Path, event: str, step: str
) -> None:
    db = tmp_path / "durable.sqlite"
    name = f"apr-killed-in-{step}"
    payload = json.dumps(request_to_payload(start_request(name, approvers=("U0A",))))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), event, step, payload],
        env={**os.environ, **lambda_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert operations(db)[step] == "STARTED"  # killed inside it, nothing pending
    drain(local_aws.endpoint, local_aws.queue_url, settle=0.2)  # what the dead run sent

    durable = LocalDurable(workflow_fn.app.handler, db)
    try:
        assert durable.running() == [name]
        assert durable.recover() == 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if approvals.get(name).status is Status.PENDING:
                    break
            except Exception:
                pass
            time.sleep(0.1)
        approvals.decide(name, "U0A", Decision.APPROVE)
        while time.monotonic() < deadline and durable.describe(name)["status"] == "running":
            time.sleep(0.2)
        described = durable.describe(name)
        assert described == {
            "status": "succeeded",
            "arn": described["arn"],
            "result": {"id": name, "status": "approved"},
            "ended_at": described["ended_at"],
        }
        assert isinstance(described["ended_at"], float)
        assert durable.running() == []
        assert durable.recently_finished(10) == [name]
    finally:
        durable.close()
    # The killed step ran again: "requested" went out after the restart, then the outcome.
    sent = [json.loads(m["Message"]) for m in drain(local_aws.endpoint, local_aws.queue_url)]
    assert sent == [{"type": "requested", "id": name}, {"type": "decided", "id": name}]
    assert [e.kind.value for e in approvals.store.audit(name)].count("created") == 1
