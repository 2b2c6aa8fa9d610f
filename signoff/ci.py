"""What a request carries from the CI system it came from: the hold a gate releases when
the outcome is committed (`GateRef`), and links shown as buttons on the message (`Link`).

Plain values, checked like the rest of the request (the domain: no I/O). The gates that
file and release them are in `signoff/gates/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from signoff.errors import ValidationError
from signoff.frozen import frozen
from signoff.text import unsafe_characters

MAX_LINKS = 5  # link buttons on the message (an actions block holds 25 elements)
MAX_LINK_NAME = 75  # a button's text (Slack's limit)
MAX_LINK_URL = 3000  # a button's url (Slack's limit)
MAX_GATE_VALUE = 2000
MAX_GATE_KEYS = 20
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True, kw_only=True)
class GateRef:
    """Which CI hold an approval releases: the gate's kind and what it needs to find it.

    `target` is copied into a read-only mapping: the record keeps it as it was filed.
    """

    kind: str
    target: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", MappingProxyType(dict(self.target)))
        problems = self.problems()
        if problems:
            raise ValidationError("; ".join(problems))

    def problems(self) -> list[str]:
        problems: list[str] = []
        if not (1 <= len(self.kind) <= 32 and set(self.kind) <= _KIND_CHARS):
            problems.append("a gate's kind must be 1-32 lowercase letters, digits or '-'")
        if len(self.target) > MAX_GATE_KEYS:
            problems.append(f"a gate's target holds at most {MAX_GATE_KEYS} values")
        for key, value in self.target.items():
            if not isinstance(key, str) or not isinstance(value, str):
                problems.append("a gate's target maps strings to strings")
            elif len(value) > MAX_GATE_VALUE or not key:
                problems.append(f"the gate's {key!r} is empty or over {MAX_GATE_VALUE} characters")
        return problems

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": dict(self.target)}

    @classmethod
    def from_json(cls, data: Any) -> GateRef:
        if not isinstance(data, Mapping) or not isinstance(data.get("kind"), str):
            raise ValidationError("a gate must be an object with a kind and a target")
        target = data.get("target", {})
        if not isinstance(target, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in target.items()
        ):
            raise ValidationError("a gate's target must map strings to strings")
        return cls(kind=data["kind"], target=dict(target))

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.target.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GateRef):
            return NotImplemented
        return self.kind == other.kind and dict(self.target) == dict(other.target)


@frozen(kw_only=True)
class Link:
    """A link shown as a button on the request's message (a CI run, a diff, a plan)."""

    name: str
    url: str

    def problems(self) -> list[str]:
        return link_problems(self.name, self.url)

    def to_json(self) -> list[str]:
        return [self.name, self.url]


def link_problems(name: str, url: str) -> list[str]:
    """What is wrong with a link, each said in a sentence; empty when it may be shown."""
    problems: list[str] = []
    shown = repr(name[:40])
    if not name.strip():
        problems.append("a link's name is empty")
    elif len(name) > MAX_LINK_NAME:
        problems.append(f"the link name {shown} is over {MAX_LINK_NAME} characters")
    elif unsafe := unsafe_characters(name):
        problems.append(f"the link name {shown} contains {unsafe}")
    parts = urlsplit(url) if url.isascii() else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        problems.append(f"the link {shown} must be an https:// or http:// URL")
    elif len(url) > MAX_LINK_URL:
        problems.append(f"the link {shown} is over {MAX_LINK_URL} characters")
    elif any(c.isspace() or ord(c) < 0x21 or c in "<>|" for c in url):
        problems.append(f"the link {shown} contains spaces, control characters or < > |")
    return problems


def links_problems(links: Sequence[Link]) -> list[str]:
    problems = [p for link in links for p in link.problems()]
    if len(links) > MAX_LINKS:
        problems.append(f"at most {MAX_LINKS} links (got {len(links)})")
    names = [link.name for link in links]
    if len(set(names)) != len(names):
        problems.append("a link name is used more than once")
    return problems


def parse_links(pairs: Sequence[str]) -> tuple[Link, ...]:
    """`NAME=URL` pairs (the CLI's `--link`), checked; ValidationError lists every problem."""
    links: list[Link] = []
    problems: list[str] = []
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep:
            problems.append(f"--link {pair[:40]!r} must be NAME=URL")
            continue
        links.append(Link(name=name.strip(), url=url.strip()))
    problems += links_problems(links)
    if problems:
        raise ValidationError("; ".join(problems))
    return tuple(links)
