import json
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from signoff import blocks
from signoff.model import Approval, Decision, StartRequest

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> <https://evil.example|click> & co"


def approval(**overrides: object) -> Approval:
    values: dict[str, object] = {
        "id": "apr-abc123",
        "title": HOSTILE,
        "description": HOSTILE,
        "requester": "U0REQ",
        "approvers": ("U0A",),
        "channel": "approvals",
        "timeout": timedelta(minutes=30),
        "fields": (("env <b>", HOSTILE),),
    }
    values.update(overrides)
    return Approval.open(StartRequest(**values), T0)[0]  # type: ignore[arg-type]


def all_text(value: object) -> str:
    return json.dumps(value)


def test_user_text_is_escaped_everywhere() -> None:
    a = approval()
    rendered = all_text(blocks.approval_message(a)) + blocks.fallback_text(a)
    assert "<!channel>" not in rendered
    assert "<https://evil" not in rendered
    assert "&lt;!channel&gt;" in rendered
    assert "&amp; co" in rendered


def test_pending_message_has_the_two_buttons_carrying_the_id() -> None:
    message = blocks.approval_message(approval())
    actions = [b for b in message if b["type"] == "actions"]
    assert len(actions) == 1
    buttons = {e["action_id"]: e["value"] for e in actions[0]["elements"]}
    assert buttons == {"signoff.approve": "apr-abc123", "signoff.reject": "apr-abc123"}


def test_closed_message_has_no_buttons_and_says_who_and_why() -> None:
    rejected, _ = approval().vote("U0A", Decision.REJECT, T0, "not <now>")
    message = blocks.approval_message(rejected)
    assert not [b for b in message if b["type"] == "actions"]
    text = all_text(message)
    assert "Rejected" in text and "<@U0A>" in text and "not &lt;now&gt;" in text


def test_deadline_renders_in_each_readers_time_zone() -> None:
    text = all_text(blocks.approval_message(approval()))
    epoch = int((T0 + timedelta(minutes=30)).timestamp())
    assert f"<!date^{epoch}^" in text


def test_blocks_pass_slack_sdk_validation() -> None:
    decided, _ = approval().vote("U0A", Decision.APPROVE, T0)
    for message in (blocks.approval_message(approval()), blocks.approval_message(decided)):
        for block in message:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()
    View(**blocks.reject_modal(approval())).validate_json()
    for block in blocks.pending_list([approval()]):
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def test_non_slack_ids_are_shown_as_text_not_mentions() -> None:
    assert blocks.who("U0A") == "<@U0A>"
    assert blocks.who("ci-bot <x>") == "ci-bot &lt;x&gt;"


def test_long_text_is_clipped_to_slack_limits() -> None:
    a = approval(description="x" * 2000, title="t" * 150)
    for block in blocks.approval_message(a):
        if "text" in block and isinstance(block["text"], dict):
            assert len(block["text"]["text"]) <= 3000
