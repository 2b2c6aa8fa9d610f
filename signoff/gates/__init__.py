"""CI gates: a CI system's hold filed as an approval, released by its outcome exactly once."""

from signoff.gates.port import (
    Gate,
    GateError,
    GateFailedError,
    GateRef,
    GateRetryError,
    Gates,
    Link,
    Verdict,
    parse_links,
    verdict,
)

__all__ = [
    "Gate",
    "GateError",
    "GateFailedError",
    "GateRef",
    "GateRetryError",
    "Gates",
    "Link",
    "Verdict",
    "parse_links",
    "verdict",
]
