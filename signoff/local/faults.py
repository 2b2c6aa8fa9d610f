"""Crash points for `signoff dev`: die by SIGKILL at a chosen moment, to test recovery.

`SIGNOFF_DEV_CRASH_AT=<point>#<n>[@<text>]...` kills the process the n-th time (n >= 1,
default 1) `<point>` happens, counting only the calls whose parameters contain every
`<text>` given (an approval id, so that other approvals' traffic does not count; a piece
of an expression, such as `SET post_claim`, to tell one UpdateItem from another).
`<point>` is

- a botocore event `<stage>.<service>.<Operation>`, e.g.
  `after-call.dynamodb.TransactWriteItems` (the write is done, the caller never hears of
  it; an `after-call` counts successful calls only), `before-call.sns.Publish`. It is
  registered on boto3's default session, where the handlers' clients come from,
  before any client is made;
- `slack.<Web API method>`, e.g. `slack.chat.postMessage`: the Slack stand-in records
  the call, then dies before it answers.

Only the local stack reads it; the Lambda handlers know nothing of it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signoff.errors import ConfigError

CRASH_ENV = "SIGNOFF_DEV_CRASH_AT"
SLACK_PREFIX = "slack."

log = logging.getLogger(__name__)


def die() -> None:
    """End this process at once, as kill -9 from outside would: nothing is written out
    first, none of our own code's cleanup runs (the Slack stand-in journals each change
    before answering, as the emulators write theirs)."""
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class CrashPoint:
    point: str
    nth: int = 1
    about: tuple[str, ...] = ()
    _seen: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def parse(cls, spec: str) -> CrashPoint:
        rest, *about = spec.strip().split("@")
        point, _, count = rest.partition("#")
        try:
            nth = int(count) if count else 1
        except ValueError as exc:
            raise ConfigError(f"{CRASH_ENV}: '{count}' is not a whole number") from exc
        botocore_event = point.count(".") >= 2
        if nth < 1 or not (botocore_event or point.startswith(SLACK_PREFIX)):
            raise ConfigError(
                f"{CRASH_ENV} must be <stage>.<service>.<Operation> or slack.<method>, "
                f"then #<n> with n >= 1 and optionally @<text>; not '{spec}'"
            )
        return cls(point, nth, tuple(about))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CrashPoint | None:
        spec = env.get(CRASH_ENV, "")
        return cls.parse(spec) if spec.strip() else None

    @property
    def slack_method(self) -> str | None:
        """The stand-in's Web API method this point is in, if any."""
        if self.point.startswith(SLACK_PREFIX):
            return self.point.removeprefix(SLACK_PREFIX)
        return None

    def concerns(self, params: Any) -> bool:
        """Whether a call with these parameters counts (it mentions `about`)."""
        text = json.dumps(params, default=str)
        return all(term in text for term in self.about)

    def reached(self) -> bool:
        """Count one passage; True on the n-th (and only then)."""
        with self._lock:
            self._seen += 1
            return self._seen == self.nth

    def passed(self) -> None:
        """Count one passage; die on the n-th."""
        if self.reached():
            log.warning("crash point %s#%d reached: SIGKILL", self.point, self.nth)
            die()

    def _note_params(self, params: Any, context: dict[str, Any], **_: Any) -> None:
        context["signoff_crash_counts"] = self.concerns(params)

    def _on_event(self, context: dict[str, Any], **kwargs: Any) -> None:
        if not context.get("signoff_crash_counts", True):
            return
        response = kwargs.get("http_response")
        if response is not None and response.status_code >= 300:
            return  # the call failed: nothing was done
        self.passed()

    def arm_botocore(self) -> None:
        """Register on a fresh default boto3 session: every client made after this has it."""
        if self.slack_method is not None:
            return
        import boto3

        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        _, service_operation = self.point.split(".", 1)
        if self.about:
            session.events.register(
                f"before-parameter-build.{service_operation}", self._note_params
            )
        session.events.register(self.point, self._on_event)
