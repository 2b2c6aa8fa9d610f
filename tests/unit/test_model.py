from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.codec import request_from_payload, request_to_payload
from signoff.errors import RefusedError, ValidationError
from signoff.model import (
    Approval,
    AuditKind,
    Decision,
    StartRequest,
    Status,
    format_duration,
    iso,
    millis,
    parse_duration,
    parse_fields,
    parse_iso,
    past_deadline,
)
from signoff.refusals import Refusal, RefusalCode
from signoff.text import visible

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def request(**overrides: object) -> StartRequest:
    values: dict[str, object] = {
        "id": "apr-abc123",
        "title": "Deploy api",
        "requester": "U0REQ",
        "approvers": ("U0A", "U0B"),
        "channel": "approvals",
        "timeout": timedelta(minutes=30),
    }
    values.update(overrides)
    return StartRequest(**values)  # type: ignore[arg-type]


def opened() -> Approval:
    approval, event = Approval.open(request(), T0)
    assert event.kind is AuditKind.CREATED
    return approval


def test_open_sets_deadline_from_timeout() -> None:
    approval = opened()
    assert approval.status is Status.PENDING
    assert approval.expires_at == T0 + timedelta(minutes=30)
    assert approval.version == 1


def test_an_approver_decides_alone() -> None:
    after, events = opened().vote("U0A", Decision.APPROVE, T0 + timedelta(minutes=1))
    assert after.status is Status.APPROVED
    assert after.decided_by == "U0A"
    assert after.version == 2
    assert [e.kind for e in events] == [AuditKind.VOTED, AuditKind.DECIDED]


def test_reject_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason"):
        opened().vote("U0A", Decision.REJECT, T0, "  ")
    after, _ = opened().vote("U0A", Decision.REJECT, T0, "not on a Friday")
    assert after.status is Status.REJECTED
    assert after.reason == "not on a Friday"


@pytest.mark.parametrize(
    ("user", "when", "why"),
    [
        ("U0X", T0, "not an approver"),
        ("U0A", T0 + timedelta(minutes=30), "expired"),
    ],
)
def test_refusals_say_why(user: str, when: datetime, why: str) -> None:
    with pytest.raises(RefusedError, match=why):
        opened().vote(user, Decision.APPROVE, when)


def test_self_approval_is_refused_unless_allowed() -> None:
    approval, _ = Approval.open(request(approvers=("U0REQ", "U0A")), T0)
    with pytest.raises(RefusedError, match="self-approval"):
        approval.vote("U0REQ", Decision.APPROVE, T0)
    allowed, _ = Approval.open(request(approvers=("U0REQ",), allow_self_approval=True), T0)
    assert allowed.vote("U0REQ", Decision.APPROVE, T0)[0].status is Status.APPROVED


def test_a_decided_request_takes_no_more_votes() -> None:
    decided, _ = opened().vote("U0A", Decision.APPROVE, T0)
    with pytest.raises(RefusedError, match="already approved"):
        decided.vote("U0B", Decision.REJECT, T0, "late")


def test_expire_only_when_due() -> None:
    approval = opened()
    with pytest.raises(RefusedError):
        approval.expire(T0 + timedelta(minutes=29))
    expired, events = approval.expire(T0 + timedelta(minutes=30))
    assert expired.status is Status.EXPIRED
    assert events[0].kind is AuditKind.EXPIRED


def test_cancel_by_requester_only() -> None:
    with pytest.raises(RefusedError, match="only the requester"):
        opened().cancel("U0X", T0)
    cancelled, _ = opened().cancel("U0REQ", T0, "wrong ticket")
    assert cancelled.status is Status.CANCELLED
    assert cancelled.reason == "wrong ticket"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Approval.open(request(), datetime(2026, 1, 1))


def test_start_request_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        request(id="Bad Id", title=" ", approvers=(), timeout=timedelta(days=8))
    message = str(info.value)
    for part in ("id", "title", "approver", "timeout"):
        assert part in message


def test_no_channel_means_the_deployments_default() -> None:
    approval, _ = Approval.open(request(channel=""), T0, default_channel="C0OPS")
    assert approval.channel == "C0OPS"
    assert Approval.open(request(channel="C0DB"), T0, default_channel="C0OPS")[0].channel == "C0DB"


def test_payload_round_trip() -> None:
    original = request(fields=(("env", "prod"),), description="d")
    assert request_from_payload(request_to_payload(original)) == original
    with pytest.raises(ValidationError, match="malformed"):
        request_from_payload({"id": "apr-x"})


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_bad_duration_and_fields() -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(ValidationError, match="key=value"):
        parse_fields(["novalue"])
    assert parse_fields(["env=prod", "ticket = OPS-1"]) == (("env", "prod"), ("ticket", "OPS-1"))
    assert format_duration(timedelta(hours=2)) == "2h"


# -- what kickoff refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"approvers": ("U0REQ",)}, "requester is the only approver"),
        ({"approvers": ("",)}, "approver ''"),
        ({"approvers": (" U0A",)}, "approver ' U0A'"),
        ({"approvers": ("U0A", "U0B", "U0A")}, "approvers named more than once: U0A"),
        ({"approvers": tuple(f"U0A{n}" for n in range(26))}, "at most 25 approvers"),
        ({"requester": "x" * 65}, "the requester"),
        ({"requester": "ci bot"}, "the requester"),
        ({"fields": (("env", "prod"), ("env", "dev"))}, "fields named more than once: 'env'"),
        ({"fields": (("", "v"),)}, "field name '' is empty"),
        ({"fields": (("a\nb", "v"),)}, "control character (U+000A)"),
        ({"fields": tuple((f"k{n}", "v") for n in range(11))}, "at most 10 fields"),
        ({"title": "Deploy \u202eyfitrevda"}, "bidirectional control character (U+202E)"),
        ({"title": "Deploy\u2066 api"}, "bidirectional control character (U+2066)"),
        ({"title": "Deploy\x00api"}, "control character (U+0000)"),
        ({"title": "Deploy\x1b[31mapi"}, "control character (U+001B)"),
        ({"title": "two\nlines"}, "control character (U+000A)"),
        ({"title": "line\u2028separator"}, "control character (U+2028)"),
        ({"description": "bell\x07"}, "control character (U+0007)"),
        ({"channel": "my channel"}, "the channel"),
        ({"channel": "<!channel>"}, "the channel"),
    ],
)
def test_kickoff_refuses(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        request(**overrides)
    assert message in str(refused.value)


INVISIBLE = [
    ("Deploy\u200bapi", "U+200B ZERO WIDTH SPACE"),
    ("Deploy\u2060api", "U+2060 WORD JOINER"),
    ("\ufeffDeploy api", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("De\u00adploy api", "U+00AD SOFT HYPHEN"),
    ("Deploy api\U000e0069\U000e0067\U000e006e", "U+E0069 TAG LATIN SMALL LETTER I"),
    ("\ufff9Deploy\ufffaprod\ufffb api", "U+FFF9 INTERLINEAR ANNOTATION ANCHOR"),
    ("Deploy\u2062api", "U+2062 INVISIBLE TIMES"),
    ("Deploy\u180eapi", "U+180E MONGOLIAN VOWEL SEPARATOR"),
    ("Deploy\u034fapi", "U+034F COMBINING GRAPHEME JOINER"),
    ("\u3164", "U+3164 HANGUL FILLER"),
    ("Deploy \u2800", "U+2800 BRAILLE PATTERN BLANK"),
    ("Deploy\u200capi", "U+200C ZERO WIDTH NON-JOINER"),  # joins nothing in Latin text
    ("Caf\u00e9\u200d\u00e9", "U+200D ZERO WIDTH JOINER"),
    ("Deploy \ufe0fapi", "variation selector"),  # after a space: selects nothing
    ("Deploy\ufe0f\ufe0e\ufe0f api", "variation selector"),  # a run hides data
    ("\U0001f3f4\U000e0061\U000e0062\U000e007f", "U+E0061 TAG LATIN SMALL LETTER A"),
    ("Deploy\udcffapi", "lone surrogate (U+DCFF)"),  # an undecodable byte of a terminal
]


@pytest.mark.parametrize(("title", "named"), INVISIBLE)
def test_kickoff_refuses_invisible_characters_naming_them(title: str, named: str) -> None:
    with pytest.raises(ValidationError) as refused:
        request(title=title)
    assert named in str(refused.value)
    for where in ({"description": title}, {"fields": (("notes", title),)}):
        with pytest.raises(ValidationError, match=r"character|selector|surrogate"):
            request(**where)
    with pytest.raises(ValidationError, match=r"character|selector|surrogate"):
        opened().vote("U0A", Decision.REJECT, T0, title)


@pytest.mark.parametrize(
    "title",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: the non-joiner in a word
        "\u0915\u094d\u200d\u0937",  # Devanagari: a joiner in a conjunct
        "Ship it \U0001f468\u200d\U0001f469\u200d\U0001f467",  # an emoji family (ZWJ sequence)
        "Ship it \U0001f469\U0001f3fd\u200d\U0001f4bb",  # skin tone + ZWJ
        "Ship it \U0001f3f3\ufe0f\u200d\U0001f308",  # a selector then a joiner
        "Deploy \u2764\ufe0f",  # one selector after its character
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f deploy",  # Scotland
        "\u8fba\U000e0101 office",  # an ideographic variant
        "Deploy\u00a0api \u3000 \uf8ff",  # no-break and ideographic spaces, private use
    ],
)
def test_joiners_and_selectors_where_a_script_or_an_emoji_needs_them(title: str) -> None:
    assert request(title=title).title == title


def test_visible_shows_what_is_refused_as_escapes_and_nothing_else() -> None:
    typed = "a\u202eb\x00c\u200bd\u3164e\nf \u2764\ufe0f \u0645\u200c\u062e"
    assert visible(typed) == ("a\\u202eb\\x00c\\u200bd\\u3164e\\nf \u2764\ufe0f \u0645\u200c\u062e")
    assert visible(typed, multiline=True).count("\n") == 1
    assert visible("plain [text] <!channel>") == "plain [text] <!channel>"


def test_self_approval_where_allowed_may_name_only_the_requester() -> None:
    assert request(approvers=("U0REQ",), allow_self_approval=True).approvers == ("U0REQ",)


def test_multiline_text_keeps_newlines_and_tabs() -> None:
    assert request(description="one\n\ttwo").description == "one\n\ttwo"
    assert request(fields=(("notes", "a\nb"),)).fields == (("notes", "a\nb"),)


@pytest.mark.parametrize(
    ("field", "limit", "make"),
    [
        ("title", 150, lambda text: {"title": text}),
        ("description", 2900, lambda text: {"description": text}),
        ("field name", 50, lambda text: {"fields": ((text, "v"),)}),
        ("value of field", 1900, lambda text: {"fields": (("k", text),)}),
    ],
)
def test_limits_count_text_as_slack_does_escaped(field: str, limit: int, make: Any) -> None:
    """`&` is five characters in Slack (`&amp;`): the limit holds for what Slack receives."""
    assert request(**make("x" * limit))  # exactly at the limit: accepted
    with pytest.raises(ValidationError, match=f"the limit is {limit}"):
        request(**make("x" * (limit + 1)))
    fits_raw = "&" * (limit // 5 + 1)  # shorter than the limit, longer once escaped
    with pytest.raises(ValidationError, match=f"{field}.*{len(fits_raw) * 5} characters"):
        request(**make(fits_raw))


def test_a_10000_character_field_is_refused_not_clipped() -> None:
    with pytest.raises(ValidationError, match="10000 characters"):
        request(fields=(("plan", "x" * 10_000),))


@pytest.mark.parametrize(
    "text",
    ["99999999999999999999d", "9" * 5000, "\u0661\u0662s", "\uff13\uff10m", "1e3", "-5m", "5 m s"],
)
def test_durations_are_ascii_and_bounded(text: str) -> None:
    with pytest.raises(ValidationError, match="is not a duration"):
        parse_duration(text)


def test_a_long_bad_duration_is_not_echoed_whole() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_duration("9" * 5000)
    assert len(str(refused.value)) < 120


def test_reasons_refuse_control_and_bidi_characters() -> None:
    with pytest.raises(ValidationError, match="bidirectional"):
        opened().vote("U0A", Decision.REJECT, T0, "fine \u202e")
    with pytest.raises(ValidationError, match="longer than 500"):
        opened().cancel("U0REQ", T0, "x" * 501)
    assert opened().vote("U0A", Decision.REJECT, T0, "not now\nmaybe monday")[0].reason


# -- the same id, a different request -------------------------------------------------


def test_differences_are_empty_for_the_same_request() -> None:
    approval = opened()
    assert approval.differences(request()) == []
    assert approval.differences(request(channel=""), default_channel="approvals") == []
    assert approval.differences(request(channel="")) == []  # default unknown: not compared


def test_differences_name_what_changed() -> None:
    approval = opened()
    changed = request(
        title="DROP production database",
        approvers=("U0EVIL", "U0B"),
        timeout=timedelta(hours=2),
        fields=(("env", "prod"),),
    )
    diffs = approval.differences(changed)
    assert [d.split(" ")[0] for d in diffs] == ["title", "fields", "approvers", "timeout"]
    assert "title was 'Deploy api', now 'DROP production database'" in diffs
    assert approval.differences(request(channel="elsewhere")) == [
        "channel was 'approvals', now 'elsewhere'"
    ]
    assert approval.differences(request(allow_self_approval=True))[0].startswith("self-approval")


# -- the workflow's input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "apr-x",
        {},
        {**request_to_payload(request()), "approvers": "U0A"},
        {**request_to_payload(request()), "approvers": [1, 2]},
        {**request_to_payload(request()), "fields": [["k"]]},
        {**request_to_payload(request()), "fields": {"k": "v"}},
        {**request_to_payload(request()), "timeout_seconds": "60"},
        {**request_to_payload(request()), "timeout_seconds": True},
        {**request_to_payload(request()), "timeout_seconds": 10**30},
        {**request_to_payload(request()), "title": ["x"]},
        {**request_to_payload(request()), "allow_self_approval": "yes"},
    ],
)
def test_a_malformed_workflow_payload_is_a_validation_error(payload: Any) -> None:
    with pytest.raises(ValidationError):
        request_from_payload(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
payload_keys = st.sampled_from(
    [
        "id",
        "title",
        "description",
        "requester",
        "approvers",
        "channel",
        "timeout_seconds",
        "fields",
        "allow_self_approval",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(
        json_values,
        st.dictionaries(payload_keys, json_values, max_size=9),
        st.builds(
            lambda base, patch: {**base, **patch},
            st.just(request_to_payload(request())),
            st.dictionaries(payload_keys, json_values, max_size=3),
        ),
    )
)
def test_any_workflow_input_is_a_request_or_a_validation_error(payload: Any) -> None:
    """The workflow's first act is parsing its input: nothing else may escape it."""
    try:
        parsed = request_from_payload(payload)
    except ValidationError:
        return
    assert parsed.problems() == []
    assert request_from_payload(request_to_payload(parsed)) == parsed


# -- quorum ----------------------------------------------------------------------------


def quorum(n: int = 2, **overrides: Any) -> Approval:
    values: dict[str, Any] = {"approvers": ("U0A", "U0B", "U0C"), "min_approvals": n}
    values.update(overrides)
    return Approval.open(request(**values), T0)[0]


def test_two_of_three_needs_two_distinct_approvers() -> None:
    first, events = quorum().vote("U0A", Decision.APPROVE, T0)
    assert first.status is Status.PENDING and first.approved_by == ("U0A",)
    assert [e.kind for e in events] == [AuditKind.VOTED]
    assert events[0].detail["approvals"] == "1 of 2"
    assert first.version == 2 and first.approvals_missing == 1
    with pytest.raises(RefusedError, match="already approved this request"):
        first.vote("U0A", Decision.APPROVE, T0)  # the same person twice does not count
    second, events = first.vote("U0B", Decision.APPROVE, T0)
    assert second.status is Status.APPROVED and second.decided_by == "U0B"
    assert [e.kind for e in events] == [AuditKind.VOTED, AuditKind.DECIDED]


def test_one_reject_ends_a_quorum_request() -> None:
    first, _ = quorum().vote("U0A", Decision.APPROVE, T0)
    rejected, _ = first.vote("U0C", Decision.REJECT, T0, "not today")
    assert rejected.status is Status.REJECTED and rejected.decided_by == "U0C"


def test_changing_your_vote_is_refused_with_a_reason() -> None:
    first, _ = quorum().vote("U0A", Decision.APPROVE, T0)
    with pytest.raises(RefusedError, match="already approved this request, and a vote cannot"):
        first.vote("U0A", Decision.REJECT, T0, "changed my mind")


def test_a_quorum_larger_than_the_approvers_is_refused_at_kickoff() -> None:
    with pytest.raises(ValidationError, match="3 approvals are needed but only 2 people"):
        request(approvers=("U0A", "U0REQ", "U0B"), min_approvals=3)
    assert request(approvers=("U0A", "U0REQ", "U0B"), min_approvals=2).min_approvals == 2


def test_cancel_by_the_requester_or_an_admin() -> None:
    with pytest.raises(RefusedError, match="only the requester or an admin"):
        opened().cancel("U0A", T0)  # an approver is not an admin
    assert opened().cancel("U0ADMIN", T0, admins=("U0ADMIN",))[0].status is Status.CANCELLED


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=500, deadline=None)
@given(deadline=moments, now=moments)
def test_the_deadline_rule_and_the_stored_text_order_moments_alike(
    deadline: datetime, now: datetime
) -> None:
    """The rule compares milliseconds; the store's condition compares `iso` text. Both must
    say the same for every pair, or a vote the rule accepts fails its write."""
    assert past_deadline(deadline, now) == (iso(now) >= iso(deadline))
    # What the store gives back is the deadline at the same millisecond.
    assert millis(parse_iso(iso(deadline))) == millis(deadline)


def test_a_deadline_inside_a_second_is_kept_to_the_millisecond() -> None:
    approval, _ = Approval.open(request(), T0 + timedelta(milliseconds=700))
    just_before = approval.expires_at - timedelta(milliseconds=1)
    assert approval.vote_refusal("U0A", just_before) is None
    assert not approval.is_due(just_before)
    assert approval.vote_refusal("U0A", approval.expires_at) == Refusal(RefusalCode.EXPIRED)
    assert approval.is_due(approval.expires_at)


# -- the audit details' base (defined without generating code) ---------------------------


def test_audit_details_are_frozen_keyword_values_compared_by_kind_and_value() -> None:
    from dataclasses import FrozenInstanceError, is_dataclass

    from signoff.model import Refused, SlackFailed, Voted

    vote = Voted(decision=Decision.APPROVE, reason="ok")
    assert vote == Voted(decision=Decision.APPROVE, reason="ok")
    assert hash(vote) == hash(Voted(decision=Decision.APPROVE, reason="ok"))
    assert vote != Voted(decision=Decision.REJECT, reason="ok")
    assert Refused(why="x") != SlackFailed(call="x", error="", what_to_do="")
    assert len({vote, Voted(decision=Decision.APPROVE, reason="ok")}) == 1
    assert (
        repr(vote) == "Voted(decision=<Decision.APPROVE: 'approve'>, reason='ok', approvals=None)"
    )
    assert Voted(decision=Decision.APPROVE).reason == ""  # a default
    with pytest.raises(TypeError, match="needs decision"):
        Voted()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="no field colour"):
        Voted(decision=Decision.APPROVE, colour="red")  # type: ignore[call-arg]
    with pytest.raises(FrozenInstanceError):
        vote.reason = "changed"  # type: ignore[misc]
    # Not dataclasses: defining one would compile its methods at every cold start.
    assert not is_dataclass(vote)
