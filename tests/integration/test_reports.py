"""A pipeline's report on DynamoDB Local: written once per report key, however many calls
race or retry; refused before approval, saying why."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest

from signoff.errors import RefusedError, ValidationError
from signoff.events import Topic
from signoff.model import AuditKind, Decision
from signoff.reports import Reported, Reports, Stage
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

RACERS = 12


class Published:
    def __init__(self) -> None:
        self.topics: list[tuple[Topic, str]] = []
        self._lock = threading.Lock()

    def publish(self, kind: Topic, approval_id: str) -> str:
        with self._lock:
            self.topics.append((kind, approval_id))
        return "m"


def approved(approvals: Approvals, approval_id: str) -> None:
    approvals.open(start_request(approval_id, approvers=("U0A",)))
    approvals.decide(approval_id, "U0A", Decision.APPROVE)


def reported(store: DynamoApprovalStore, approval_id: str) -> list[Reported]:
    return [r for e in store.audit(approval_id) if (r := e.read(Reported))]


def test_racing_reports_with_one_key_are_written_once(
    approvals: Approvals, store: DynamoApprovalStore
) -> None:
    approved(approvals, "apr-rep1")
    published = Published()
    reports = Reports(store=store, clock=lambda: datetime.now(UTC), publisher=published)
    barrier = threading.Barrier(RACERS)
    new: list[bool] = []

    def send(n: int) -> None:
        barrier.wait()
        result = reports.report(
            "apr-rep1",
            "succeeded",
            actor="ci",
            url="https://ci.example/runs/123",
            note=f"attempt {n}",
            key="run-123-succeeded",
        )
        new.append(result.new)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (only,) = reported(store, "apr-rep1")
    assert (only.key, only.stage, only.run) == ("run-123-succeeded", Stage.SUCCEEDED, "run #123")
    assert Counter(new) == {True: 1, False: RACERS - 1}
    # Every call publishes (a lost publish is made good by the next call); the notifier
    # shows the report once.
    assert published.topics == [(Topic.REPORTED, "apr-rep1")] * RACERS

    reports.report("apr-rep1", "started", actor="ci", key="run-124-started")
    kinds = Counter(e.kind for e in store.audit("apr-rep1"))
    assert kinds[AuditKind.REPORTED] == 2


def test_a_report_on_a_request_that_is_not_approved_is_refused_saying_why(
    approvals: Approvals, store: DynamoApprovalStore
) -> None:
    approvals.open(start_request("apr-rep2", title="Deploy *api*", approvers=("U0A",)))
    reports = Reports(store=store, clock=lambda: datetime.now(UTC))
    with pytest.raises(RefusedError) as refused:
        reports.report("apr-rep2", "started", actor="ci", key="k1")
    assert str(refused.value) == (
        "“Deploy *api*” (apr-rep2) is pending, not approved: a pipeline reports only on an "
        "approved request (signoff show says where it stands)"
    )
    approvals.decide("apr-rep2", "U0A", Decision.REJECT, "no")
    with pytest.raises(RefusedError, match="is rejected, not approved"):
        reports.report("apr-rep2", "started", actor="ci", key="k1")
    assert reported(store, "apr-rep2") == []


@pytest.mark.parametrize(
    ("stage", "url", "note", "why"),
    [
        ("deployed", "", "", "the stage is started, succeeded or failed"),
        ("started", "javascript:alert(1)", "", "--url must be an http(s) URL"),
        ("started", "https://x.example/a b", "", "--url must be an http(s) URL"),
        ("started", "", "&" * 101, "--note is 505 characters as Slack counts them"),
        ("started", "", "ok\u202eko", "--note holds"),
    ],
)
def test_bad_report_input_is_refused_before_anything_is_written(
    approvals: Approvals, store: DynamoApprovalStore, stage: str, url: str, note: str, why: str
) -> None:
    approved(approvals, "apr-rep3")
    reports = Reports(store=store, clock=lambda: datetime.now(UTC))
    with pytest.raises(ValidationError, match=why.replace("(", r"\(").replace(")", r"\)")):
        reports.report("apr-rep3", stage, actor="ci", url=url, note=note, key="k")
    assert reported(store, "apr-rep3") == []
