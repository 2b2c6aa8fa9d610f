"""Arbitrary input through the CLI: a one-line error and exit 1 or 2, never a traceback."""

from __future__ import annotations

from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from signoff import cli
from signoff.text import unsafe_characters

runner = CliRunner()
# Without the "explain" phase a failure is reported in seconds rather than minutes.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
# Nothing listens on port 9: every command that gets past its input checks fails to connect.
UNREACHABLE = {"SIGNOFF_LOCAL_URL": "http://127.0.0.1:9", "SIGNOFF_DEBUG": ""}

text = st.text(max_size=60)
# Sometimes the shape the CLI expects, so that input gets past the first check.
timeouts = st.one_of(text, st.from_regex(r"\A\s*[0-9]{1,30}\s*[smhd]?\s*\Z"))
ids = st.one_of(text, st.from_regex(r"\A[a-z0-9][a-z0-9-]{2,63}\Z"))
# Arbitrary, but nothing a kickoff refuses: no control, separator, bidirectional or
# invisible characters, no surrounding blanks, within the size limits.
printable = (
    st.text(st.characters(exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=25)
    .map(str.strip)
    .filter(lambda text: unsafe_characters(text) is None)
)
people = st.from_regex(r"\AA[A-Za-z0-9._@+-]{0,20}\Z")
channels = st.one_of(st.just(""), st.from_regex(r"\A#?[A-Za-z0-9][A-Za-z0-9._-]{0,30}\Z"))
fields = st.one_of(text, st.builds("{}={}".format, text, text))


def assert_one_line_error(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    if result.output.startswith(("error: ", "refused: ")):  # ours, not the framework's usage
        assert result.output.count("\n") == 1, result.output
    event(f"exit {result.exit_code}: {result.output.split(':')[0][:20]}")


@settings(max_examples=200, deadline=None, phases=PHASES)
@given(
    title=text,
    description=text,
    timeout=timeouts,
    approvers=st.lists(text, min_size=1, max_size=3),
    field_values=st.lists(fields, max_size=3),
    requester=text,
    approval_id=ids,
    channel=text,
    wait=st.booleans(),
)
def test_start_with_arbitrary_input(
    title: str,
    description: str,
    timeout: str,
    approvers: list[str],
    field_values: list[str],
    requester: str,
    approval_id: str,
    channel: str,
    wait: bool,
) -> None:
    args = [
        "start",
        f"--title={title}",
        f"--description={description}",
        f"--timeout={timeout}",
        f"--requester={requester}",
        f"--id={approval_id}",
        f"--channel={channel}",
        *(f"--approver={a}" for a in approvers),
        *(f"--field={f}" for f in field_values),
        *(["--wait"] if wait else []),
    ]
    assert_one_line_error(runner.invoke(cli.app, args, env=UNREACHABLE))


@settings(max_examples=100, deadline=None, phases=PHASES)
@given(
    title=printable.filter(str.strip),
    description=printable,
    timeout=st.integers(1, 7 * 86400).map(str),
    approvers=st.lists(people, min_size=1, max_size=3, unique=True),
    field_values=st.lists(
        st.builds("{}={}".format, printable.filter(lambda k: k and "=" not in k), printable),
        max_size=3,
        unique_by=lambda f: f.partition("=")[0],
    ),
    requester=st.just("U0REQUESTER"),
    approval_id=st.from_regex(r"\A[a-z0-9][a-z0-9-]{2,63}\Z"),
    channel=channels,
)
def test_well_formed_start_with_arbitrary_text_reaches_the_target(
    title: str,
    description: str,
    timeout: str,
    approvers: list[str],
    field_values: list[str],
    requester: str,
    approval_id: str,
    channel: str,
) -> None:
    args = [
        "start",
        f"--title={title}",
        f"--description={description}",
        f"--timeout={timeout}",
        f"--requester={requester}",
        f"--id={approval_id}",
        f"--channel={channel}",
        *(f"--approver={a}" for a in approvers),
        *(f"--field={f}" for f in field_values),
    ]
    result = runner.invoke(cli.app, args, env=UNREACHABLE)
    assert_one_line_error(result)
    assert result.exit_code == 1, result.output
    assert "the local stack is not answering" in result.output


@settings(max_examples=100, deadline=None, phases=PHASES)
@given(
    command=st.sampled_from(["show", "wait", "decide", "cancel"]),
    approval_id=ids,
    decision=st.one_of(st.sampled_from(["approve", "reject"]), text),
    user=text,
    reason=text,
)
def test_other_commands_with_arbitrary_input(
    command: str, approval_id: str, decision: str, user: str, reason: str
) -> None:
    args = {
        "show": ["show", "--", approval_id],
        "wait": ["wait", "--", approval_id],
        "decide": ["decide", f"--as={user}", f"--reason={reason}", "--", approval_id, decision],
        "cancel": ["cancel", f"--as={user}", f"--reason={reason}", "--", approval_id],
    }[command]
    assert_one_line_error(runner.invoke(cli.app, args, env=UNREACHABLE))
