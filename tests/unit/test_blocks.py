import json
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from signoff import blocks, model
from signoff.model import Approval, Decision, StartRequest
from signoff.text import escape

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


def test_pending_message_has_the_three_buttons_carrying_the_id() -> None:
    message = blocks.approval_message(approval())
    actions = [b for b in message if b["type"] == "actions"]
    assert len(actions) == 1
    buttons = {e["action_id"]: e["value"] for e in actions[0]["elements"]}
    assert buttons == {
        "signoff.approve": "apr-abc123",
        "signoff.reject": "apr-abc123",
        "signoff.cancel": "apr-abc123",
    }
    cancel = actions[0]["elements"][2]
    assert cancel["confirm"]["title"]["text"] == "Cancel this request?"


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


def longest_request() -> StartRequest:
    """The longest input kickoff accepts, made of `&` where escaping makes it longest."""

    def text(limit: int) -> str:
        return "&" * (limit // 5) + "x" * (limit % 5)

    return StartRequest(
        id="apr-" + "z" * 60,
        title=text(model.MAX_TITLE),
        description=text(model.MAX_DESCRIPTION),
        requester="R" * 64,
        approvers=tuple(f"W{n:02d}" + "A" * 61 for n in range(model.MAX_APPROVERS)),
        channel="c" * 80,
        timeout=timedelta(days=7),
        fields=tuple(
            (text(model.MAX_FIELD_KEY - 2) + f"{n:02d}", text(model.MAX_FIELD_VALUE))
            for n in range(model.MAX_FIELDS)
        ),
    )


# Slack's documented limits, per place.
SECTION_TEXT, FIELD_TEXT, CONFIRM_TEXT, CONTEXT_TEXT, BUTTON_VALUE = 3000, 2000, 300, 3000, 2000


def test_the_longest_accepted_request_fits_every_slack_limit_unclipped() -> None:
    request = longest_request()
    pending = Approval.open(request, T0)[0]
    rejected = pending.vote(request.approvers[0], Decision.REJECT, T0, "&" * 500)[0]
    for approval in (pending, rejected):
        message = blocks.approval_message(approval)
        for block in message:
            Block.parse(block).validate_json()  # type: ignore[union-attr]
            if block.get("text"):
                assert len(block["text"]["text"]) <= SECTION_TEXT
            for field in block.get("fields", []):
                assert len(field["text"]) <= FIELD_TEXT
            for element in block.get("elements", []):
                if element.get("type") == "mrkdwn":
                    assert len(element["text"]) <= CONTEXT_TEXT
                if element.get("type") == "button":
                    assert len(element["value"]) <= BUTTON_VALUE
                if element.get("confirm"):
                    assert len(element["confirm"]["text"]["text"]) <= CONFIRM_TEXT
        rendered = all_text(message)
        # Nothing was clipped: every piece of text is there whole, escaped.
        for piece in (request.title, request.description, *(v for _, v in request.fields)):
            assert json.dumps(escape(piece))[1:-1] in rendered
    View(**blocks.reject_modal(pending)).validate_json()
    for block in blocks.pending_list([pending]) + blocks.show_blocks(rejected):
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def test_the_rule_and_the_progress_are_said_in_words() -> None:
    dba = approval(approvers=(), approver_groups=("S0DBA",), members=("U0AL", "U0BO"),
                   min_approvals=2, policy="prod-db")  # fmt: skip
    assert blocks.rule_line(dba) == (
        "2 of <!subteam^S0DBA> — none approved yet, waiting for 2 more (policy `prod-db`)"
    )
    one, _ = dba.vote("U0AL", Decision.APPROVE, T0)
    assert blocks.rule_line(one).startswith(
        "2 of <!subteam^S0DBA> — 1 approved (<@U0AL>), waiting for 1 more"
    )
    assert blocks.rule_line(one) in json.dumps(blocks.approval_message(one), ensure_ascii=False)
    # Any one of the people named decides alone: the line stays as it always was.
    assert blocks.rule_line(approval(approvers=("U0A", "U0B"))) == "Approvers: <@U0A>, <@U0B>"
