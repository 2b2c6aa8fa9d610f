"""Side effects that must happen once, under SNS redelivery and workflow replay.

`Claims` is the port (the store keeps the claims); `Once` is the rule that uses it: claim,
do, finish — with a lease, so that a holder that died does not block the thing forever,
and a look before doing it again, so that what the dead holder did is not done twice.
The notifier uses it for every Slack reply and DM; the rule itself knows nothing of Slack.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from signoff.errors import BackendError
from signoff.frozen import frozen
from signoff.model import Approval, AuditEvent, OnceClaim, PostClaim, SlackRef


class Claims(Protocol):
    """Who may do a side effect that must happen once; every claim is a conditional write."""

    def claim_message(self, approval_id: str, now: datetime, lease: timedelta) -> PostClaim: ...
    def release_claim(self, approval_id: str) -> None: ...
    def set_message(
        self, approval_id: str, ref: SlackRef, now: datetime, expires_at: datetime | None = None
    ) -> Approval: ...
    def claim_once(
        self, approval_id: str, key: str, now: datetime, lease: timedelta
    ) -> OnceClaim: ...
    def finish_once(
        self, approval_id: str, key: str, now: datetime, event: AuditEvent | None = None
    ) -> None: ...
    def release_once(self, approval_id: str, key: str) -> None: ...
    def finished_once(self, approval_id: str) -> frozenset[str]: ...
    def count_failure(self, approval_id: str, key: str, now: datetime) -> int: ...


@frozen(kw_only=True)
class Once:
    """Do a side effect once per (approval, key).

    A claim on the store guards it: granted to one caller, finished after the deed. The
    crash window (done, then the process died before finishing the claim) is closed by
    the lease and a look: a claim left unfinished for `lease` is taken over, and the new
    holder first looks for what the old one did (`find`) before doing it again.

    A claim held by a live caller raises BackendError, so the event is retried later and
    finds the claim done, or lapsed if its holder died. When `do` raises an error in
    `given_up`, the claim is finished (nobody tries again); one in `released`, nothing was
    done and the claim is released; any other (a lost answer: it may have been done)
    keeps the claim, to lapse.
    """

    claims: Claims
    clock: Callable[[], datetime]
    lease: timedelta
    given_up: tuple[type[Exception], ...] = ()
    released: tuple[type[Exception], ...] = ()

    def __call__(
        self, approval_id: str, key: str, *, do: Callable[[], None], find: Callable[[], bool]
    ) -> bool:
        """True when this call did it; False when it was done before."""
        claim = self.claims.claim_once(approval_id, key, self.clock(), self.lease)
        if claim is OnceClaim.DONE:
            return False
        if claim is OnceClaim.BUSY:
            raise BackendError(f"{approval_id}: another delivery is sending {key!r}")
        if claim is OnceClaim.TAKEOVER and find():
            self.claims.finish_once(approval_id, key, self.clock())
            return False
        try:
            do()
        except self.given_up:
            self.claims.finish_once(approval_id, key, self.clock())
            raise
        except self.released:
            self.claims.release_once(approval_id, key)
            raise
        self.claims.finish_once(approval_id, key, self.clock())
        return True
