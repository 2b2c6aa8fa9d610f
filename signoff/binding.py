"""Approvals bound to what is deployed: the fingerprints a request carries (a commit, an
image digest, a plan's hash), checked at the door. Plain Python, no I/O; what compares
them is `signoff.verify`.

A binding is fixed when the request starts and never changes: what was approved is that
commit, image or plan, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from signoff.errors import ValidationError
from signoff.frozen import frozen
from signoff.text import visible

_SHA_RE = re.compile(r"\A[0-9a-f]{7,64}\Z", re.ASCII)
_SHA256_RE = re.compile(r"\Asha256:[0-9a-f]{64}\Z", re.ASCII)
MAX_BINDINGS = 3  # one of each kind


class BindingKind(StrEnum):
    SHA = "sha"  # a commit: 7-64 hex digits (SHA-1 or SHA-256 object names, or a prefix)
    DIGEST = "digest"  # a container image: sha256:<64 hex>
    PLAN = "plan"  # a rendered plan (terraform, a migration): sha256:<64 hex> of its bytes


_FORMS = {
    BindingKind.SHA: (_SHA_RE, "7 to 64 hexadecimal digits"),
    BindingKind.DIGEST: (_SHA256_RE, "sha256: followed by 64 hexadecimal digits"),
    BindingKind.PLAN: (_SHA256_RE, "sha256: followed by 64 hexadecimal digits"),
}


@frozen
class Binding:
    """One fingerprint of what a request approves. Values are kept lowercase, so a SHA
    typed in capitals is the same SHA."""

    kind: BindingKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}={self.value}"


def _shown(text: str, limit: int = 72) -> str:
    return visible(repr(text if len(text) <= limit else text[:limit] + "…"))


def binding(kind: str, value: str) -> Binding:
    """A checked binding; ValidationError saying what a value of that kind looks like."""
    try:
        known = BindingKind(kind.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in BindingKind)
        raise ValidationError(f"{_shown(kind)} is not a binding kind (known: {kinds})") from None
    value = value.strip().lower()
    pattern, form = _FORMS[known]
    if not pattern.match(value):
        raise ValidationError(f"the {known.value} {_shown(value)} is not {form}")
    return Binding(known, value)


def parse_binding(text: str) -> Binding:
    """`sha=abc1234`, `digest=sha256:…`, `plan=sha256:…` → Binding."""
    kind, sep, value = text.partition("=")
    if not sep:
        raise ValidationError(
            f"--bind {_shown(text)} must look like sha=<commit>, digest=sha256:<hex> or "
            "plan=sha256:<hex>"
        )
    return binding(kind, value)


def checked_bindings(bindings: Iterable[Binding]) -> tuple[Binding, ...]:
    """Bindings in a canonical order (sha, digest, plan), one of each kind at most."""
    found = tuple(bindings)
    problems = bindings_problems(found)
    if problems:
        raise ValidationError("; ".join(problems))
    order = list(BindingKind)
    return tuple(sorted(found, key=lambda b: order.index(b.kind)))


def bindings_problems(bindings: Sequence[Binding]) -> list[str]:
    problems: list[str] = []
    for b in bindings:
        try:
            if binding(b.kind, b.value) != b:
                problems.append(f"the {b.kind} {_shown(b.value)} must be lowercase")
        except ValidationError as exc:
            problems.append(str(exc))
    kinds = [b.kind for b in bindings]
    twice = sorted({k.value for k in kinds if kinds.count(k) > 1})
    if twice:
        problems.append(f"bound more than once: {', '.join(twice)} (one value of each kind)")
    return problems


def bindings_payload(bindings: Sequence[Binding]) -> list[list[str]]:
    return [[b.kind.value, b.value] for b in bindings]


def bindings_from_payload(raw: Any) -> tuple[Binding, ...]:
    """Bindings as a payload or an item holds them (`[[kind, value], ...]`), checked."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(b, list | tuple) and len(b) == 2 and all(isinstance(x, str) for x in b)
        for b in raw
    ):
        raise ValidationError("bindings must be a list of [kind, value] strings")
    return checked_bindings(binding(k, v) for k, v in raw)
