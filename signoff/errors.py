"""One base error; leaves end in Error and carry a sentence a person can act on."""

from __future__ import annotations

from signoff.refusals import Refusal, RefusalCode


class SignoffError(Exception):
    """Base of every error signoff raises on purpose."""


class ValidationError(SignoffError):
    """Bad input: nothing was written."""


class NotFoundError(SignoffError):
    """No approval with that id."""


class RefusedError(SignoffError):
    """The request is valid but the rules say no (already decided, not an approver, ...).

    It carries the refusal (its code and details); its message is the refusal's sentence.
    """

    def __init__(self, refusal: Refusal | RefusalCode) -> None:
        self.refusal = refusal if isinstance(refusal, Refusal) else Refusal(refusal)
        super().__init__(self.refusal)  # str() is its sentence; a copy or pickle rebuilds it

    @property
    def code(self) -> RefusalCode:
        return self.refusal.code


class AlreadyRecordedError(SignoffError):
    """The same person repeated a vote that already stands (a retried click): no change."""


class ConflictError(SignoffError):
    """A conditional write lost a race: the record changed since it was read."""


class ConfigError(SignoffError):
    """Settings are missing or wrong."""


class BackendError(SignoffError):
    """A service signoff depends on failed or could not be reached."""


class UnansweredError(BackendError):
    """A request was sent and its answer never came (a read timeout, a dropped connection,
    a 5xx): it may have been carried out."""
