"""The cached fast path in `signoff.text` skips only characters the full checks accept."""

from __future__ import annotations

import sys

import pytest

from signoff import text

# Every code point of the basic plane, of the emoji blocks and of the tags and supplementary
# variation selectors; a sample of the rest (historic scripts, CJK extensions, private use).
WHOLE = ((0, 0x10000), (0x1F000, 0x20000), (0xE0000, 0xE0200))
CODES = sorted(
    {*(c for low, high in WHOLE for c in range(low, high)), *range(0, sys.maxunicode, 61)}
)


def test_every_character_the_fast_path_skips_is_accepted_by_the_full_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = [chr(code) for code in CODES if text._plain.__wrapped__(chr(code))]
    assert "é" in plain and "\u200b" not in plain  # accented letters skip, format characters don't
    monkeypatch.setattr(text, "_plain", lambda char: False)  # the full checks only
    # Between spaces: where a joiner, a variation selector or a tag character is refused.
    refused = [
        f"U+{ord(char):04X}"
        for char in plain
        if text.unsafe_characters(f" {char} ")
        or text.unsafe_characters(f" {char} ", multiline=True)
    ]
    assert refused == []
