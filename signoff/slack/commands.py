"""What `/signoff` understands, and what it answers to anything else.

Input it does not understand is told so first, in a sentence that says what was wrong
(a verb it does not have, a missing or extra argument), then the help. What was typed is
not echoed: it is user text, and the person can see what they typed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from signoff import blocks
from signoff.frozen import frozen


class Verb(StrEnum):
    LIST = "list"
    MINE = "mine"
    SHOW = "show"
    HELP = "help"


# The verbs people try that /signoff has not, and where that is done instead.
_ELSEWHERE = {
    "approve": "approve from the request's message, your Home tab or `/signoff mine`",
    "reject": "reject from the request's message, your Home tab or `/signoff mine`",
    "cancel": "cancel from the request's message (its ⋯ menu) or with `signoff cancel`",
    "start": "start a request with the CLI: `signoff start --title ... --approver ...`",
    "report": "a pipeline reports with the CLI: `signoff report ID succeeded --url URL`",
}
_EXAMPLE_ID = "apr-1a2b3c4d5e"


@frozen(kw_only=True)
class Parsed:
    """A `/signoff` input: the verb and its id, or why it was not understood."""

    verb: Verb = Verb.HELP
    approval_id: str = ""
    not_understood: str = ""  # "": understood


def parse(text: str) -> Parsed:
    words = text.split()
    if not words:
        return Parsed(verb=Verb.LIST)
    first, rest = words[0].lower(), words[1:]
    if first in _ELSEWHERE:
        return Parsed(not_understood=f"`/signoff {first}` is not a command: {_ELSEWHERE[first]}.")
    if first not in set(Verb):
        return Parsed(not_understood="That is not a `/signoff` command.")
    verb = Verb(first)
    if verb is Verb.SHOW:
        if len(rest) != 1:
            many = "one request id" if rest else "a request id"
            return Parsed(
                not_understood=f"`/signoff show` takes {many}, e.g. `/signoff show {_EXAMPLE_ID}`."
            )
        return Parsed(verb=verb, approval_id=rest[0])
    if rest:
        return Parsed(not_understood=f"`/signoff {verb.value}` takes nothing after it.")
    return Parsed(verb=verb)


def help_answer(not_understood: str = "") -> dict[str, Any]:
    """The help; after a sentence saying what was not understood, when it was not."""
    if not not_understood:
        return {"text": blocks.HELP_TEXT}
    said = f"Not understood. {not_understood}"
    return {
        "text": f"{said}\n\n{blocks.HELP_TEXT}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": ":warning: " + said}},
            {"type": "section", "text": {"type": "mrkdwn", "text": blocks.HELP_TEXT}},
        ],
    }
