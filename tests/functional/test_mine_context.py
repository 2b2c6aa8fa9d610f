"""`/signoff mine` shows what a vote is about where it can be cast: the fields, the
progress, and a link to the request's message (one chat.getPermalink for the list)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from signoff import messages
from signoff.events import Topic
from signoff.memstore import InMemoryApprovalStore
from signoff.model import Decision
from signoff.notify import Notifier
from signoff.service import Approvals
from signoff.slack.links import message_links
from signoff.slack.listeners import Listeners
from tests.conftest import BOT_TOKEN, StandInServer
from tests.factories import start_request


def setup(slack: StandInServer) -> tuple[Approvals, WebClient]:
    store = InMemoryApprovalStore()
    approvals = Approvals(store)
    client = WebClient(token=BOT_TOKEN, base_url=f"{slack.base_url}/api/")
    notifier = Notifier(store, client, timedelta(seconds=60))
    for n in range(3):
        approvals.open(
            start_request(
                f"apr-mine{n}",
                approvers=("U0A", "U0B"),
                min_approvals=2,
                fields=(("env", f"prod-{n}"),),
                timeout=timedelta(minutes=30 + n),
            )
        )
        notifier.handle(Topic.REQUESTED, f"apr-mine{n}")
    approvals.decide("apr-mine0", "U0B", Decision.APPROVE)
    return approvals, client


def links_in(shown: Any) -> list[str]:
    return [
        e["url"]
        for b in shown
        if b["type"] == "rich_text"
        for part in b["elements"]
        for e in part.get("elements", [])
        if e["type"] == "link"
    ]


def test_mine_shows_fields_progress_and_a_working_link_for_each_request(
    slack: StandInServer,
) -> None:
    approvals, client = setup(slack)
    ack: list[dict[str, Any]] = []
    Listeners(approvals).command(
        lambda **said: ack.append(said), {"text": "mine", "user_id": "U0A"}, client
    )
    (said,) = ack
    shown = said["blocks"]
    text = json.dumps(shown)
    assert all(f'"text": ": prod-{n}"' in text for n in range(3))  # every request's field
    assert "1 of 2 approvals" in text and "0 of 2 approvals" in text
    links = links_in(shown)
    expected = []
    for n in range(3):
        ref = approvals.get(f"apr-mine{n}").message
        assert ref is not None
        expected.append(
            client.chat_getPermalink(channel=ref.channel, message_ts=ref.ts)["permalink"]
        )
    assert links == expected  # built from one permalink, the same as Slack's for each


def test_no_link_is_shown_when_slack_cannot_give_one(slack: StandInServer) -> None:
    approvals, _ = setup(slack)
    broken = WebClient(token="xoxb-wrong", base_url=f"{slack.base_url}/api/")
    assert message_links(broken, [approvals.get("apr-mine1")]) == {}
    unposted = approvals.open(start_request("apr-mine-x", approvers=("U0A",)))
    assert message_links(broken, [unposted]) == {}


def test_the_home_tab_shows_fields_progress_and_links_beside_the_buttons(
    slack: StandInServer,
) -> None:
    approvals, client = setup(slack)
    assert messages.publish_home(client, approvals, "U0A")
    home = slack.standin.conversation()["homes"]["U0A"]
    text = json.dumps(home["blocks"])
    assert all(f'"text": ": prod-{n}"' in text for n in range(3))
    assert "1 of 2 approvals" in text
    refs = [approvals.get(f"apr-mine{n}").message for n in range(3)]
    assert links_in(home["blocks"]) == [
        client.chat_getPermalink(channel=r.channel, message_ts=r.ts)["permalink"]
        for r in refs
        if r is not None
    ]
