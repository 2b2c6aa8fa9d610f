"""AWS CodePipeline's manual approval action as a gate.

The action publishes a notification to an SNS topic when the pipeline reaches it
(docs: https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html);
signoff's CodePipeline function is subscribed to that topic and files an approval from it
(`request_from_notification`). The deadline is the action's `expires` at the latest. On the
outcome the notifier calls `PutApprovalResult` once, with the token from the notification
and a summary naming who decided (and why, on a rejection).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from signoff.binding import Binding, BindingKind, binding
from signoff.errors import ValidationError
from signoff.gates.port import GateFailedError, GateRef, GateRetryError, Link, verdict
from signoff.model import MAX_TIMEOUT, MIN_TIMEOUT, Approval, StartRequest, utc
from signoff.verify import ReleaseRefusedError, check_release

log = logging.getLogger(__name__)

KIND = "codepipeline"
MAX_SUMMARY = 512  # PutApprovalResult's summary
# Names as CodePipeline allows them (pipeline, stage, action): 1-100 of A-Za-z0-9.@-_
_NAME_RE = re.compile(r"\A[A-Za-z0-9.@_-]{1,100}\Z", re.ASCII)
_TOKEN_RE = re.compile(r"\A[A-Za-z0-9-]{1,200}\Z", re.ASCII)
# `sha=<hex>` in the action's custom data binds the approval to that commit.
_SHA_IN_DATA = re.compile(r"(?:^|\s)sha=([0-9A-Fa-f]{7,64})(?:\s|$)")
# Errors no retry fixes: the approval is gone, answered already, or never was.
_PERMANENT = frozenset(
    {
        "InvalidApprovalTokenException",
        "ActionNotFoundException",
        "PipelineNotFoundException",
        "StageNotFoundException",
        "ValidationException",
        "AccessDeniedException",
    }
)


@dataclass(frozen=True, kw_only=True)
class CodePipelineRoute:
    """How a pipeline's approvals are filed: the policy (or ad-hoc approvers) they go to."""

    policy: str = ""
    approvers: tuple[str, ...] = ()
    requester: str = "codepipeline"
    channel: str = ""


def request_from_notification(
    message: str, route: CodePipelineRoute, now: datetime
) -> StartRequest:
    """The approval a notification asks for; ValidationError when it is not one.

    The id comes from the token, so a notification delivered twice files one approval.
    """
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise ValidationError("the notification is not JSON") from exc
    approval = data.get("approval") if isinstance(data, dict) else None
    if not isinstance(approval, dict):
        raise ValidationError("the notification has no approval object")

    def text(key: str) -> str:
        value = approval.get(key, "")
        return value if isinstance(value, str) else ""

    pipeline, stage, action, token = (
        text(k) for k in ("pipelineName", "stageName", "actionName", "token")
    )
    for what, value in (("pipelineName", pipeline), ("stageName", stage), ("actionName", action)):
        if not _NAME_RE.match(value):
            raise ValidationError(f"the notification's {what} is not a CodePipeline name")
    if not _TOKEN_RE.match(token):
        raise ValidationError("the notification's token is missing or malformed")
    timeout = _timeout(text("expires"), now)
    custom = text("customData")
    links = [
        Link(name=name, url=url)
        for name, url in (
            ("Review in CodePipeline", text("approvalReviewLink")),
            ("Changes", text("externalEntityLink")),
        )
        if url and not Link(name=name, url=url).problems()
    ]
    region = data.get("region", "") if isinstance(data.get("region"), str) else ""
    fields = [("pipeline", pipeline), ("stage", stage), ("action", action)]
    if custom:
        fields.append(("details", custom[:1900]))
    return StartRequest(
        id="cp-" + hashlib.sha256(token.encode()).hexdigest()[:24],
        title=f"Approve {pipeline}: {stage} / {action}"[:150],
        requester=route.requester,
        approvers=() if route.policy else route.approvers,
        policy=route.policy,
        channel=route.channel,
        timeout=timeout,
        fields=tuple(fields),
        links=tuple(links),
        bindings=_bindings(custom),
        gate=GateRef(
            kind=KIND,
            target={
                "pipeline": pipeline,
                "stage": stage,
                "action": action,
                "token": token,
                "region": region,
            },
        ),
    )


def _timeout(expires: str, now: datetime) -> timedelta:
    """Until the action's `expires` (`2016-07-07T20:22Z`), whole seconds rounded down, so
    the approval's deadline is never later than the pipeline's."""
    try:
        at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        left = utc(at) - utc(now)
    except ValueError as exc:
        raise ValidationError(f"the notification's expires {expires[:40]!r} is not a time") from exc
    left = timedelta(seconds=int(left.total_seconds()))
    if left < MIN_TIMEOUT:
        raise ValidationError("the approval action has expired already")
    return min(left, MAX_TIMEOUT)


def _bindings(custom: str) -> tuple[Binding, ...]:
    found = _SHA_IN_DATA.search(custom)
    return (binding(BindingKind.SHA, found.group(1)),) if found else ()


def summary(approval: Approval) -> str:
    said = verdict(approval).summary
    return said if len(said) <= MAX_SUMMARY else said[: MAX_SUMMARY - 1] + "…"


class CodePipelineGate:
    """Answers a pipeline's approval action with PutApprovalResult, once."""

    kind = KIND

    def __init__(self, client: Callable[[], Any]):
        self._client = client

    def release(self, approval: Approval, ref: GateRef) -> str:
        said = verdict(approval)
        if said.approved:
            try:
                check_release(approval, ref.target.get("sha") or _bound_sha(approval))
            except ReleaseRefusedError as exc:
                raise GateFailedError(str(exc)) from exc
        status = "Approved" if said.approved else "Rejected"
        try:
            answer = self._client().put_approval_result(
                pipelineName=ref.target["pipeline"],
                stageName=ref.target["stage"],
                actionName=ref.target["action"],
                result={"summary": summary(approval), "status": status},
                token=ref.target["token"],
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ApprovalAlreadyCompletedException":
                return f"{status}: the action was answered already"
            error = f"CodePipeline refused PutApprovalResult ({code}): {exc}"
            if code in _PERMANENT:
                raise GateFailedError(error) from exc
            raise GateRetryError(error) from exc
        except BotoCoreError as exc:
            raise GateRetryError(f"CodePipeline did not answer: {exc}") from exc
        return f"{status} at {answer.get('approvedAt', '')}".strip()


def _bound_sha(approval: Approval) -> str | None:
    from signoff.verify import bound

    return bound(approval, BindingKind.SHA)


# -- in: the notifier's SNS path takes the pipeline topic's notifications ------------------


class Starter(Protocol):
    def start(self, request: StartRequest) -> object: ...


class CodePipelineIntake:
    """Files an approval for each notification from the pipelines' approval topic.

    Records from other topics pass through to the notifier. A notification that is not an
    approval is logged and dropped (no retry can fix it); a start that fails raises, so
    SNS delivers again — the workflow is started by the approval's id, once.
    """

    def __init__(
        self,
        topic_arn: str,
        route: CodePipelineRoute,
        starter: Starter,
        clock: Callable[[], datetime],
    ):
        self._topic_arn = topic_arn
        self._route = route
        self._starter = starter
        self._clock = clock

    def take(self, event: dict[str, Any]) -> dict[str, Any]:
        """Start what the pipeline records ask for; the event with the other records."""
        rest = []
        for record in event.get("Records", []):
            sns = record.get("Sns") if isinstance(record, dict) else None
            if not isinstance(sns, dict) or sns.get("TopicArn") != self._topic_arn:
                rest.append(record)
                continue
            try:
                request = request_from_notification(
                    str(sns.get("Message", "")), self._route, self._clock()
                )
            except ValidationError as exc:
                log.warning("skipped a CodePipeline notification: %s", exc)
                continue
            self._starter.start(request)
            log.info("filed %s for a CodePipeline approval", request.id)
        return {**event, "Records": rest}
