"""workflow_fn.app.handler in the durable emulator: the invocation envelope AWS sends,
replayed on every poll, against DynamoDB Local and moto's SNS."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

import workflow_fn.app
from signoff.errors import BackendError, NotFoundError
from signoff.model import Decision, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import drain
from tests.factories import start_request

pytestmark = pytest.mark.integration


def payload(approval_id: str, timeout: timedelta = timedelta(minutes=10)) -> str:
    return json.dumps(start_request(approval_id, timeout=timeout).to_payload())


class Clicker(threading.Thread):
    """Decides once the record exists and `ready()` holds; join() re-raises its failure."""

    def __init__(
        self,
        approvals: Approvals,
        approval_id: str,
        decision: Decision,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__()
        self._args = (approvals, approval_id, decision, ready)
        self.error: BaseException | None = None

    def run(self) -> None:
        approvals, approval_id, decision, ready = self._args
        try:
            give_up = time.monotonic() + 30
            while True:
                assert time.monotonic() < give_up, "the record never appeared"
                try:
                    approvals.get(approval_id)
                except NotFoundError:
                    time.sleep(0.05)
                    continue
                if ready():
                    break
                time.sleep(0.05)
            reason = "no" if decision is Decision.REJECT else ""
            approvals.decide(approval_id, "U0A", decision, reason)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def decide_when_created(
    approvals: Approvals,
    approval_id: str,
    decision: Decision,
    ready: Callable[[], bool] = lambda: True,
) -> Clicker:
    clicker = Clicker(approvals, approval_id, decision, ready)
    clicker.start()
    return clicker


def test_replays_create_one_record_and_one_notification_each(
    lambda_env, approvals: Approvals, store: DynamoApprovalStore, local_aws
) -> None:
    invocations = Counter()

    def counted(event, context):  # every invocation replays the workflow from the top
        invocations["n"] += 1
        return workflow_fn.app.handler(event, context)

    with DurableFunctionTestRunner(handler=counted, skip_time=False) as runner:
        # Click only once the workflow has been invoked (and replayed) four times.
        clicker = decide_when_created(
            approvals, "apr-wf1", Decision.APPROVE, ready=lambda: invocations["n"] >= 4
        )
        result = runner.run(
            input=payload("apr-wf1"), execution_name="apr-wf1", execution_timeout=60
        )
        clicker.join()
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result) == {"id": "apr-wf1", "status": "approved"}
    assert invocations["n"] >= 5, "four polls before the click, one after it"
    audit = Counter(e["kind"] for e in store.audit("apr-wf1"))
    assert audit["created"] == 1 and audit["decided"] == 1
    published = Counter(
        json.loads(m["Message"])["type"] for m in drain(local_aws.endpoint, local_aws.queue_url)
    )
    assert published == Counter({"requested": 1, "decided": 1})
    assert store.get("apr-wf1").execution_id  # the workflow ref is on the record


def test_deadline_expires_the_request(lambda_env, store: DynamoApprovalStore, local_aws) -> None:
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        result = runner.run(
            input=payload("apr-wf2", timedelta(seconds=3)),
            execution_name="apr-wf2",
            execution_timeout=60,
        )
    assert json.loads(result.result)["status"] == "expired"
    expired = store.get("apr-wf2")
    assert expired.status is Status.EXPIRED
    audit = store.audit("apr-wf2")
    assert [e["kind"] for e in audit] == ["created", "expired"]
    # Expired at the deadline (the poll never sleeps past it), not at some later retry.
    assert expired.decided_at is not None
    assert timedelta(0) <= expired.decided_at - expired.expires_at < timedelta(seconds=5)
    published = [
        json.loads(m["Message"])["type"] for m in drain(local_aws.endpoint, local_aws.queue_url)
    ]
    assert sorted(published) == ["decided", "requested"]


def test_a_store_outage_during_the_wait_does_not_fail_the_workflow(
    lambda_env, approvals, store, local_aws, monkeypatch
) -> None:
    """The condition check's read fails (throttling): reported, polled again, not fatal."""
    deps = workflow_fn.app.workflow_deps_from_env()
    real_check = deps.approvals.expire_if_due
    calls = Counter()

    def throttled_twice(approval_id: str):
        calls["check"] += 1
        if calls["check"] <= 2:
            raise BackendError("DynamoDB ProvisionedThroughputExceededException")
        return real_check(approval_id)

    monkeypatch.setattr(deps.approvals, "expire_if_due", throttled_twice)
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        # The reviewer clicks only after both failed checks happened.
        clicker = decide_when_created(
            approvals, "apr-wf3", Decision.REJECT, ready=lambda: calls["check"] >= 2
        )
        result = runner.run(
            input=payload("apr-wf3"), execution_name="apr-wf3", execution_timeout=60
        )
        clicker.join()
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["status"] == "rejected"
    assert calls["check"] >= 3  # two failed checks, then the one that saw the decision
