"""Hypothesis against slack_handler.app.handler: signed and unsigned requests of every shape.

Signed requests are clicks, reason submissions and slash commands as Slack sends them,
the same with fields deleted or replaced by random JSON, random JSON in `payload=`, and
random bodies. None may get a 5xx or raise; one that is not an accepted vote may at most
add `vote_refused` to the audit trail; one answered 4xx changes nothing at all.
Unsigned or wrongly signed requests are always 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slack_handler.app
from signoff.local.stack import function_url_event
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.conftest import SIGNING_SECRET
from tests.factories import start_request
from tests.integration.slack_events import (
    ResponseRecorder,
    block_actions_payload,
    payload_form,
    signed_event,
    slash_command,
    view_submission_payload,
)

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def mostly(value: Any, otherwise: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`value` three times in four, so valid requests are common enough to be accepted."""
    return st.integers(0, 3).flatmap(lambda n: st.just(value) if n else otherwise)


users = mostly("U0A", st.sampled_from(["U0REQ", "U0X"]) | st.text(max_size=20))
words = st.sampled_from(
    ["list", "show", "help", "payload", "payload=%7B", "<!channel>", "<https://x|y>", "&amp;",
     "{", "%zz", "🚀", "ü", "\u202e", "\x00", "apr-nope"]
)  # fmt: skip


def command_texts(approval_id: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=200),
        st.lists(words | st.just(approval_id), max_size=6).map(" ".join),
        st.builds(lambda verb, word, n: f"{verb} {word * n}", words, words, st.integers(1, 20_000)),
    )


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_paths(item, (*prefix, index))


def mutate(data: st.DataObject, payload: dict[str, Any]) -> dict[str, Any]:
    """Delete fields or replace them with random JSON, a few times."""
    for _ in range(data.draw(mostly(0, st.integers(1, 3)), label="mutations")):
        paths = list(json_paths(payload))
        if not paths:
            break
        top = [path for path in paths if len(path) == 1]  # what Bolt reads to route
        *parents, last = data.draw(st.sampled_from(top) | st.sampled_from(paths), label="path")
        holder: Any = payload
        for step in parents:
            holder = holder[step]
        if data.draw(st.booleans(), label="delete"):
            del holder[last]
        else:
            holder[last] = data.draw(json_values, label="value")
    return payload


def draw_body(data: st.DataObject, approval_id: str, reply_to: str) -> tuple[str, str]:
    """(shape, form body) for one signed request."""
    shape = data.draw(
        st.sampled_from(["click", "reason", "command", "random-payload", "random-body"]),
        label="shape",
    )
    target = data.draw(mostly(approval_id, st.text(max_size=70)), label="target")
    if shape == "click":
        action = data.draw(mostly("signoff.approve", st.sampled_from(["signoff.reject", "other"])))
        payload = block_actions_payload(data.draw(users), action, target, reply_to)
        return shape, payload_form(mutate(data, payload))
    if shape == "reason":
        reason = data.draw(
            mostly("not now", st.none() | st.text(max_size=600) | command_texts(approval_id))
        )
        payload = view_submission_payload(data.draw(users), target, reason)
        return shape, payload_form(mutate(data, payload))
    if shape == "command":
        return shape, slash_command(data.draw(users), data.draw(command_texts(approval_id)))
    if shape == "random-payload":
        kind = st.one_of(
            st.sampled_from(["block_actions", "view_submission", "shortcut"]), json_values
        )
        payload = data.draw(st.fixed_dictionaries({"type": kind}, optional={"x": json_values}))
        payload = data.draw(st.one_of(st.just(payload), json_values))
        return shape, payload_form(payload)
    body = data.draw(
        st.text(max_size=300)
        | st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5).map(urlencode)
    )
    return shape, body


def state(store: DynamoApprovalStore, approval_id: str) -> tuple[int, list[str]]:
    return store.get(approval_id).version, [e.kind for e in store.audit(approval_id)]


@pytest.fixture
def responses() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.stop()


def test_signed_requests_of_every_shape_never_fail_and_change_only_what_is_valid(
    lambda_env, approvals: Approvals, store: DynamoApprovalStore, responses, lambda_context, caplog
) -> None:
    tally: Counter[str] = Counter()
    numbers = itertools.count()

    def send(shape: str, body: str, approval_id: str) -> str:
        """One signed request against a fresh approval: what it changed, checked."""
        version, audit = state(store, approval_id)

        result = slack_handler.app.handler(signed_event(body, SIGNING_SECRET), lambda_context)

        status = result["statusCode"]
        assert status in (200, 400, 404), result
        new_version, new_audit = state(store, approval_id)
        assert new_audit[: len(audit)] == audit
        added = new_audit[len(audit) :]
        if new_version != version:
            assert status == 200
            assert (new_version, added) == (version + 1, ["voted", "decided"])
            assert store.get(approval_id).decided_by == "U0A"  # the only approver
            outcome = "accepted vote"
        elif status == 200:
            assert set(added) <= {"vote_refused"}
            outcome = "refused vote" if added else "answered, no change"
        else:
            assert not added
            outcome = str(status)
        if outcome != f"{status}":
            tally[outcome] += 1
        tally[f"{status}"] += 1
        tally[shape] += 1
        return outcome

    def fresh() -> str:
        approval_id = f"apr-fz-{next(numbers):04d}"
        approvals.open(start_request(approval_id))  # U0A approves, U0REQ asked
        return approval_id

    @FUZZ
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        approval_id = fresh()
        send(*draw_body(data, approval_id, responses.url(approval_id)), approval_id)

    one_request()
    print(f"\nsigned fuzz: {dict(tally)}")
    # Each branch of the oracle above is taken at least once, whatever the draw was.
    pinned = {
        "accepted vote": ("click", "U0A"),
        "refused vote": ("click", "U0X"),  # not an approver
        "400": ("random-body", ""),  # signed, but no payload or command in it
    }
    for outcome, (shape, user) in pinned.items():
        approval_id = fresh()
        click = block_actions_payload(
            user, "signoff.approve", approval_id, responses.url(approval_id)
        )
        body = payload_form(click) if shape == "click" else "x=1"
        assert send(shape, body, approval_id) == outcome
    # Nothing failed unhandled (a fake trigger_id makes views.open fail, on purpose).
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert set(errors) <= {"views.open failed"}, errors
    assert sum(tally[s] for s in ("200", "400", "404")) == FUZZ.max_examples + len(pinned)


def signed_bytes_event(raw: bytes, secret: str) -> dict[str, Any]:
    timestamp = str(int(time.time()))
    # The HMAC itself: slack_sdk's generate_signature only takes UTF-8.
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256)
    signature = "v0=" + digest.hexdigest()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    event = function_url_event("/slack/events", "POST", headers, base64.b64encode(raw).decode())
    event["isBase64Encoded"] = True
    return event


def test_signed_random_bytes_are_never_a_server_error(lambda_env, lambda_context) -> None:
    statuses: Counter[int] = Counter()

    @FUZZ
    @given(raw=st.binary(max_size=300))
    def one_request(raw: bytes) -> None:
        status = slack_handler.app.handler(signed_bytes_event(raw, SIGNING_SECRET), lambda_context)[
            "statusCode"
        ]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            assert status == 401  # Slack signs UTF-8 text; these bytes cannot be verified
        else:
            assert status in (200, 400, 404)
        statuses[status] += 1

    one_request()
    print(f"\nsigned random bytes: {dict(statuses)}")


headers_values = st.none() | st.text(max_size=40) | st.integers(-(10**20), 10**20).map(str)


def test_unsigned_or_forged_requests_are_always_401(lambda_env, lambda_context) -> None:
    sent = Counter[str]()

    @FUZZ
    @given(
        body=st.text(max_size=300) | st.builds(payload_form, json_values),
        timestamp=headers_values,
        signature=headers_values | st.just("v0=" + "0" * 64),
        wrong_secret=st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != SIGNING_SECRET),
        base64_encoded=st.booleans(),
    )
    def one_request(
        body: str,
        timestamp: str | None,
        signature: str | None,
        wrong_secret: str,
        base64_encoded: bool,
    ) -> None:
        def status(event: dict[str, Any]) -> int:
            sent["requests"] += 1
            return int(slack_handler.app.handler(event, lambda_context)["statusCode"])

        forged = signed_event(body, wrong_secret if wrong_secret.strip() else "x")
        if base64_encoded:
            forged["body"] = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
            forged["isBase64Encoded"] = True
        assert status(forged) == 401
        genuine = signed_event(body, SIGNING_SECRET)
        for key, value in (
            ("x-slack-request-timestamp", timestamp),
            ("x-slack-signature", signature),
        ):
            headers = dict(genuine["headers"])
            if value is None:
                del headers[key]
            else:
                headers[key] = value
            assert status(dict(genuine, headers=headers)) == 401

    one_request()
    print(f"\nunsigned or forged: {sent['requests']} requests, all 401")
