"""Block Kit rich text: how user text reaches Slack as data.

A rich_text block's `text` element is shown as typed: Slack parses no mrkdwn in it
(`*prod*` keeps its asterisks, `<!channel>` pings nobody, a newline is a newline), so
every title, description, field, reason and name signoff shows goes through `text`.
People, groups, dates and links are elements of their own, never markup in a string.
signoff's own words may be styled (`bold`), user text never is unless signoff chose to
(a field's name in bold is still shown as typed).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from signoff.model import is_slack_user, utc

Element = dict[str, Any]

# Slack's date tokens: each reader sees the time in their own zone; `{ago}` reads
# "in 42 minutes" or "3 minutes ago", so a message never goes stale as time passes.
ABSOLUTE = "{date_short_pretty} at {time}"
RELATIVE = "{ago}"


def text(value: str, *, bold: bool = False, italic: bool = False, code: bool = False) -> Element:
    """A run of text shown exactly as given (no mrkdwn, no escaping needed)."""
    style = {k: True for k, on in (("bold", bold), ("italic", italic), ("code", code)) if on}
    element: Element = {"type": "text", "text": value}
    if style:
        element["style"] = style
    return element


def person(user: str) -> Element:
    """A Slack user id becomes a mention; any other name is shown as typed."""
    return {"type": "user", "user_id": user} if is_slack_user(user) else text(user)


def usergroup(group_id: str) -> Element:
    """A user group mention: it notifies the group, so only where they must act now."""
    return {"type": "usergroup", "usergroup_id": group_id}


def date(at: datetime, format: str = ABSOLUTE) -> Element:
    moment = utc(at)
    return {
        "type": "date",
        "timestamp": int(moment.timestamp()),
        "format": format,
        "fallback": moment.strftime("%Y-%m-%d %H:%M UTC"),
    }


def link(url: str, label: str) -> Element:
    return {"type": "link", "url": url, "text": label}


def emoji(name: str) -> Element:
    return {"type": "emoji", "name": name}


def joined(parts: Iterable[list[Element]], sep: str = ", ") -> list[Element]:
    """Element runs joined by `sep` (a list of people, for instance)."""
    out: list[Element] = []
    for index, part in enumerate(parts):
        if index:
            out.append(text(sep))
        out += part
    return out


def people(users: Iterable[str], sep: str = ", ") -> list[Element]:
    return joined(([person(u)] for u in users), sep)


def section(*elements: Element | list[Element]) -> Element:
    """One paragraph of elements (lists are spliced in)."""
    flat: list[Element] = []
    for element in elements:
        flat += element if isinstance(element, list) else [element]
    return {"type": "rich_text_section", "elements": _merged(flat)}


def quote(value: str) -> Element:
    """User text quoted, every line of it (a quote element holds its newlines)."""
    return {"type": "rich_text_quote", "elements": [text(value)]}


def bullets(items: Iterable[Element]) -> Element:
    """A bulleted list of sections."""
    return {"type": "rich_text_list", "style": "bullet", "elements": list(items)}


def block(*elements: Element, block_id: str = "") -> Element:
    """A rich_text block of sections, quotes and lists."""
    rich: Element = {"type": "rich_text", "elements": list(elements)}
    if block_id:
        rich["block_id"] = block_id
    return rich


def plain(value: str) -> Element:
    """A plain_text object: shown as typed, never parsed as mrkdwn."""
    return {"type": "plain_text", "text": value, "emoji": False}


def _merged(elements: list[Element]) -> list[Element]:
    """Neighbouring unstyled text runs in one element (smaller payloads, same text);
    empty runs dropped (Slack refuses an empty text element)."""
    out: list[Element] = []
    for element in elements:
        if element.get("type") == "text":
            if not element["text"]:
                continue
            last = out[-1] if out else None
            if (
                last
                and last.get("type") == "text"
                and "style" not in last
                and "style" not in element
            ):
                out[-1] = {"type": "text", "text": last["text"] + element["text"]}
                continue
        out.append(element)
    return out
