"""workflow_fn.app.handler in the durable emulator: the invocation envelope AWS sends,
replayed on every poll, against DynamoDB Local and moto's SNS."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

import workflow_fn.app
from signoff import wiring
from signoff.codec import request_to_payload
from signoff.errors import BackendError, NotFoundError
from signoff.model import Decision, Status
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import drain
from tests.factories import start_request

pytestmark = pytest.mark.integration


def payload(approval_id: str, timeout: timedelta = timedelta(minutes=10)) -> str:
    return json.dumps(request_to_payload(start_request(approval_id, timeout=timeout)))


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
    invocations: Counter[str] = Counter()

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
    # At least four invocations, each replaying from the top (the click may land while the
    # fourth is still running, which then sees the decision and ends).
    assert invocations["n"] >= 4, "replayed fewer than four times"
    audit = Counter(e.kind.value for e in store.audit("apr-wf1"))
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
    assert [e.kind for e in audit] == ["created", "expired"]
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
    deps = wiring.workflow_deps_from_env()
    real_check = deps.approvals.expire_if_due
    calls: Counter[str] = Counter()

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


# -- the doorbell ---------------------------------------------------------------------


class EmulatorDoorbell:
    """Rings through the emulator's callback API: what the local stack serves over HTTP."""

    def __init__(self, runner: DurableFunctionTestRunner) -> None:
        self.runner = runner
        self.rung: list[str] = []

    def ring(self, callback_id: str) -> bool:
        self.rung.append(callback_id)
        self.runner.send_callback_success(callback_id, b'{"rung": true}')
        return True


def long_safety_poll(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    monkeypatch.setenv("SIGNOFF_POLL_INITIAL_SECONDS", str(seconds))
    monkeypatch.setenv("SIGNOFF_POLL_MAX_SECONDS", str(seconds))
    wiring.reset()


def operations(result: Any) -> dict[str, str]:
    return {op.name: op.status.value for op in result.operations if op.name}


def test_a_ring_resumes_the_workflow_without_waiting_for_its_poll(
    lambda_env, store: DynamoApprovalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The safety poll is 10 minutes and the run may take 60 s: only the ring can finish it.
    long_safety_poll(monkeypatch, 600)
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        bell = EmulatorDoorbell(runner)
        clicker = decide_when_created(
            Approvals(store, doorbell=bell),
            "apr-bell",
            Decision.APPROVE,
            ready=lambda: bool(store.get("apr-bell").doorbell),
        )
        result = runner.run(
            input=payload("apr-bell"), execution_name="apr-bell", execution_timeout=60
        )
        clicker.join()
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result) == {"id": "apr-bell", "status": "approved"}
    ops = operations(result)
    assert ops["doorbell-0"] == "SUCCEEDED"  # rung, not timed out
    assert bell.rung == [store.get("apr-bell").doorbell]
    assert "doorbell-1" not in ops  # woke once, read the decision, finished


@pytest.mark.parametrize("doorbell", ["on", "off"])
def test_without_a_ring_the_safety_poll_still_resumes_it(
    lambda_env, store: DynamoApprovalStore, monkeypatch: pytest.MonkeyPatch, doorbell: str
) -> None:
    """A lost ring (or the doorbell switched off) delays the resume by one poll at most."""
    monkeypatch.setenv("SIGNOFF_DOORBELL", doorbell)
    long_safety_poll(monkeypatch, 1)
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        seen: list[float] = []

        def asleep() -> bool:
            """Armed (doorbell on), or two seconds after the record appeared (off: polling)."""
            seen.append(time.monotonic())
            return bool(store.get("apr-nobell").doorbell) or seen[-1] - seen[0] > 2

        clicker = decide_when_created(
            Approvals(store), "apr-nobell", Decision.APPROVE, ready=asleep
        )  # rings nothing
        result = runner.run(
            input=payload("apr-nobell"), execution_name="apr-nobell", execution_timeout=60
        )
        clicker.join()
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["status"] == "approved"
    ops = operations(result)
    if doorbell == "on":
        assert ops["doorbell-0"] == "TIMED_OUT"
        assert "poll-0" not in ops
    else:
        assert ops["poll-0"] == "SUCCEEDED"
        assert not [name for name in ops if name.startswith("doorbell")]


class DecidesBeforeArming(DynamoApprovalStore):
    """The real store, where the approver's click lands just before the workflow arms its
    doorbell: between two of the workflow's looks, with no doorbell on the record to ring."""

    def __init__(self, client: Any, table: str) -> None:
        super().__init__(client, table)
        self.where = (client, table)
        self.clicked = 0

    def arm_doorbell(self, approval_id: str, callback_id: str) -> Any:
        if not self.clicked:
            self.clicked += 1
            Approvals(DynamoApprovalStore(*self.where)).decide(
                approval_id, "U0A", Decision.REJECT, "between two looks"
            )
        return super().arm_doorbell(approval_id, callback_id)


def test_a_decision_between_the_look_and_the_arming_is_seen_at_once(
    lambda_env, store: DynamoApprovalStore, table, monkeypatch: pytest.MonkeyPatch, local_aws
) -> None:
    long_safety_poll(monkeypatch, 600)
    deps = wiring.workflow_deps_from_env()
    racing = DecidesBeforeArming(*table)
    monkeypatch.setattr(deps.approvals, "store", racing)
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        result = runner.run(
            input=payload("apr-gap"), execution_name="apr-gap", execution_timeout=60
        )
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["status"] == "rejected"
    assert racing.clicked == 1
    ops = operations(result)
    assert ops["arm-0"] == "SUCCEEDED" and "look-1" not in ops  # no sleep at all
    kinds = Counter(e.kind.value for e in store.audit("apr-gap"))
    assert kinds["decided"] == 1 and kinds["voted"] == 1
    published = Counter(
        json.loads(m["Message"])["type"] for m in drain(local_aws.endpoint, local_aws.queue_url)
    )
    assert published == Counter({"requested": 1, "decided": 1})


def test_a_vote_short_of_the_quorum_publishes_progress_and_the_wait_goes_on(
    lambda_env, store: DynamoApprovalStore, local_aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_safety_poll(monkeypatch, 600)  # only the rings can finish it within the run
    request = start_request("apr-two", approvers=("U0A", "U0B"), min_approvals=2)
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        approvals = Approvals(store, doorbell=EmulatorDoorbell(runner))
        failures: list[BaseException] = []

        def vote_twice() -> None:
            try:
                first = wait_for(lambda: store.get("apr-two").doorbell)
                approvals.decide("apr-two", "U0A", Decision.APPROVE)
                wait_for(lambda: store.get("apr-two").doorbell not in ("", first))  # re-armed
                approvals.decide("apr-two", "U0B", Decision.APPROVE)
            except BaseException as exc:
                failures.append(exc)

        voter = threading.Thread(target=vote_twice)
        voter.start()
        result = runner.run(
            input=json.dumps(request_to_payload(request)),
            execution_name="apr-two",
            execution_timeout=60,
        )
        voter.join()
    assert not failures
    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result) == {"id": "apr-two", "status": "approved"}
    ops = operations(result)
    assert ops["doorbell-0"] == "SUCCEEDED" and "publish-progress-1" in ops
    published = Counter(
        json.loads(m["Message"])["type"] for m in drain(local_aws.endpoint, local_aws.queue_url)
    )
    assert published == Counter({"requested": 1, "voted": 1, "decided": 1})


def test_a_kickoff_the_policies_refuse_writes_and_publishes_nothing(
    lambda_env, store: DynamoApprovalStore, local_aws
) -> None:
    request = start_request("apr-nogroup", approvers=(), approver_groups=("S0GONE",))
    with DurableFunctionTestRunner(handler=workflow_fn.app.handler, skip_time=False) as runner:
        result = runner.run(
            input=json.dumps(request_to_payload(request)),
            execution_name="apr-nogroup",
            execution_timeout=60,
        )
    assert result.status.value == "SUCCEEDED", result.error
    answer = json.loads(result.result)
    assert answer["status"] == "refused"
    assert "S0GONE cannot be resolved (Slack says no_such_subteam)" in answer["error"]
    with pytest.raises(NotFoundError):
        store.get("apr-nogroup")
    assert drain(local_aws.endpoint, local_aws.queue_url) == []


def wait_for(check: Callable[[], Any], timeout: float = 30) -> Any:
    give_up = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except NotFoundError:
            value = None
        if value:
            return value
        assert time.monotonic() < give_up, "never happened"
        time.sleep(0.05)
