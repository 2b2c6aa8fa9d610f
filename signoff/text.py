"""User text as Slack sees it, and the checks that keep it plain data.

Slack's mrkdwn gives `&`, `<` and `>` meaning, so every piece of user text is escaped
before it is sent; the limits Slack enforces apply to the escaped text. Kickoff measures
with the same function, so what is accepted always fits and is never clipped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Characters that reorder or hide what a reader sees (display spoofing):
# the bidirectional embeddings, overrides and isolates, and the directional marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_LINE_BREAKS = frozenset("\n\t")

# Characters drawn as nothing, or as a blank that is not a space: with them two texts that
# look the same differ, and text can hide in a title (tag characters spell invisible ASCII).
# Every format character (Unicode category Cf: soft hyphen, zero-width space, word joiner,
# invisible operators, BOM, interlinear annotation, tag characters...) is one; so is the
# rest of Unicode's Default_Ignorable_Code_Point set that is not Cf, and the blanks below.
_INVISIBLE = frozenset(
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels (not to be used)
    "\u2800"  # braille pattern blank
)
_INVISIBLE_RANGES = (
    (0x2060, 0x206F),  # word joiner, invisible operators, deprecated format characters
    (0xFFF0, 0xFFF8),  # unassigned, ignorable
    (0xE0000, 0xE0FFF),  # tag characters and the rest of the ignorable plane-14 block
)
# Exceptions, where the character is part of how a script or an emoji is written:
# the zero-width (non-)joiner between two letters of a script that joins (Arabic, Persian,
# the Indic scripts...) or two parts of an emoji sequence; never next to ASCII, Latin,
# Greek or Cyrillic letters, where it only hides.
_JOINERS = frozenset("\u200c\u200d")
_NOT_JOINING = ("LATIN", "GREEK", "CYRILLIC")
# A variation selector picks the form of the character before it (❤️ is U+2764 U+FE0F): one
# after a visible character is fine; a run of them is how data is hidden in text.
_SELECTOR_RANGES = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
# The subdivision flags (England, Scotland, Wales) are the only tag sequences emoji use.
_FLAG = "\U0001f3f4"
_FLAG_TAGS = frozenset(
    "".join(chr(0xE0000 + ord(c)) for c in code) + "\U000e007f"
    for code in ("gbeng", "gbsct", "gbwls")
)


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_length(text: str) -> int:
    """How long `text` is once escaped: what Slack's length limits count."""
    return len(escape(text))


def unsafe_characters(text: str, *, multiline: bool = False) -> str | None:
    """Describe the first character that has no place in user text, or None.

    Control characters (except newlines and tabs where text may span lines), line and
    paragraph separators in one-line text, bidirectional controls and invisible characters
    are refused: they hide or reorder what an approver reads. Lone surrogates (what a
    terminal's undecodable bytes become) are not text at all.
    """
    for _, problem in _unsafe(text, multiline):
        return problem
    return None


def visible(text: str, *, multiline: bool = False) -> str:
    """`text` with every character `unsafe_characters` refuses shown as an escape (\\u200b):
    how user input is quoted back in an error or a private reply."""
    unsafe = {index for index, _ in _unsafe(text, multiline)}
    if not unsafe:
        return text
    return "".join(_escaped(char) if index in unsafe else char for index, char in enumerate(text))


def _escaped(char: str) -> str:
    shown = repr(char)[1:-1]  # as Python writes it: \n, \x00, \u200b
    if shown != char:
        return shown
    code = ord(char)  # printable to Python, yet drawn as nothing (U+3164 HANGUL FILLER)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(text: str, multiline: bool) -> Iterator[tuple[int, str]]:
    """Each refused character's index and what it is."""
    flag_tags = _flag_tag_indexes(text) if _FLAG in text else frozenset()
    for index, char in enumerate(text):
        if (char.isascii() and char.isprintable()) or _plain(char):
            continue  # the common cases, quickly
        code = f"U+{ord(char):04X}"
        if char in BIDI_CONTROLS:
            yield index, f"a bidirectional control character ({code})"
            continue
        if multiline and char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if category == "Cc" or (not multiline and category in ("Zl", "Zp")):
            yield index, f"a control character ({code})"
        elif category == "Cs":
            yield index, f"a lone surrogate ({code}), which is not text"
        elif _selector(char):
            before = text[index - 1] if index else " "
            if _selector(before) or before.isspace() or not before.isprintable():
                yield index, f"a variation selector that follows no visible character ({code})"
        elif char in _JOINERS:
            if not _joins(text, index):
                yield index, f"an invisible character ({code} {unicodedata.name(char)})"
        elif (category == "Cf" or char in _INVISIBLE or _in(char, _INVISIBLE_RANGES)) and (
            index not in flag_tags
        ):
            name = unicodedata.name(char, "")
            yield index, f"an invisible or format character ({code}{' ' + name if name else ''})"


@lru_cache(maxsize=4096)
def _plain(char: str) -> bool:
    """Whether `char` is fine wherever it stands: none of the checks in `_unsafe` applies to
    it (cached: a workflow checks its whole request again on every replay)."""
    category = unicodedata.category(char)
    return not (
        char in BIDI_CONTROLS
        or char in _LINE_BREAKS
        or char in _JOINERS
        or char in _INVISIBLE
        or category in ("Cc", "Cf", "Cs", "Zl", "Zp")
        or _selector(char)
        or _in(char, _INVISIBLE_RANGES)
    )


def _in(char: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def _selector(char: str) -> bool:
    return _in(char, _SELECTOR_RANGES)


def _joins(text: str, index: int) -> bool:
    """Whether the joiner at `index` sits between two characters of a joining script or
    two parts of an emoji (letters, marks or symbols; not ASCII, Latin, Greek, Cyrillic)."""
    if index == 0 or index == len(text) - 1:
        return False
    return all(_joinable(text[i]) for i in (index - 1, index + 1))


def _joinable(char: str) -> bool:
    if char.isascii() or unicodedata.category(char)[0] not in "LMS":
        return False
    if unicodedata.category(char) in ("Sm", "Sc"):
        return False
    return unicodedata.name(char, "").split(" ")[0] not in _NOT_JOINING


def _flag_tag_indexes(text: str) -> frozenset[int]:
    """The indexes of the tag characters that spell a subdivision flag after 🏴."""
    found: set[int] = set()
    start = text.find(_FLAG)
    while start != -1:
        for tags in _FLAG_TAGS:
            if text.startswith(tags, start + 1):
                found.update(range(start + 1, start + 1 + len(tags)))
        start = text.find(_FLAG, start + 1)
    return frozenset(found)
