"""User text as Slack sees it, and the checks that keep it plain data.

Slack's mrkdwn gives `&`, `<` and `>` meaning, so every piece of user text is escaped
before it is sent; the limits Slack enforces apply to the escaped text. Kickoff measures
with the same function, so what is accepted always fits and is never clipped.
"""

from __future__ import annotations

import unicodedata

# Characters that reorder or hide what a reader sees (display spoofing):
# the bidirectional embeddings, overrides and isolates, and the directional marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_LINE_BREAKS = frozenset("\n\t")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_length(text: str) -> int:
    """How long `text` is once escaped: what Slack's length limits count."""
    return len(escape(text))


def unsafe_characters(text: str, *, multiline: bool = False) -> str | None:
    """Describe the first character that has no place in user text, or None.

    Control characters (except newlines and tabs where text may span lines), line and
    paragraph separators in one-line text, and bidirectional controls are refused: they
    hide or reorder what an approver reads.
    """
    for char in text:
        if char in BIDI_CONTROLS:
            return f"a bidirectional control character (U+{ord(char):04X})"
        if multiline and char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if category == "Cc" or (not multiline and category in ("Zl", "Zp")):
            return f"a control character (U+{ord(char):04X})"
    return None
