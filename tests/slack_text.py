"""Where text sits in a Slack payload, by how Slack reads it: the test's view of the rule
that user text is data (plain_text and rich text are shown as typed; mrkdwn is parsed)."""

from __future__ import annotations

from typing import Any

# Text objects and rich text elements, by the key that holds their words.
PLAIN, MRKDWN, RICH = "plain_text", "mrkdwn", "rich"


def texts(payload: Any) -> list[tuple[str, str]]:
    """Every (kind, text) in `payload`: plain_text and mrkdwn objects, and rich text's
    `text` and `link` elements (kind "rich"). A message's fallback `text` is not one."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind in (PLAIN, MRKDWN) and isinstance(node.get("text"), str):
            found.append((kind, node["text"]))
        elif kind in ("text", "link") and isinstance(node.get("text"), str):
            found.append((RICH, node["text"]))
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                walk(value)

    walk(payload)
    return found


def of_kind(payload: Any, *kinds: str) -> list[str]:
    return [text for kind, text in texts(payload) if kind in kinds]


def shown_as_typed(payload: Any, typed: str) -> bool:
    """Whether `typed` reaches Slack whole in plain_text or one rich text element."""
    return any(typed in text for text in of_kind(payload, PLAIN, RICH))
