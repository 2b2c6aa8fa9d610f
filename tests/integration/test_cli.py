"""The CLI through Typer's runner; waiting against DynamoDB Local."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from typer.testing import CliRunner, Result

from signoff import cli
from signoff.cli import context, kickoff
from signoff.errors import NotFoundError, ValidationError
from signoff.local import serving
from signoff.model import StartRequest, Status
from signoff.policy import PolicyBook, resolve
from signoff.reports import Reports
from signoff.service import Approvals
from signoff.store import DynamoApprovalStore
from tests.factories import start_request

runner = CliRunner()


@dataclass
class StoreOnlyTarget:
    """A target whose workflow is gone: only the table remains."""

    approvals: Approvals

    def start(self, request: Any) -> dict[str, Any]:
        raise AssertionError("nothing starts here")

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "failed"}

    def policies(self) -> PolicyBook:
        return PolicyBook()

    def kickoff_refusal(self, approval_id: str) -> str | None:
        return None

    def cli_decisions(self) -> None:
        return None

    def reports(self) -> Reports:
        raise AssertionError("nothing is reported here")


@pytest.mark.integration
def test_wait_expires_a_request_its_workflow_abandoned(store: DynamoApprovalStore) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    Approvals(store, clock=lambda: long_ago).open(start_request("apr-orphan"))
    code = kickoff.wait_for(
        StoreOnlyTarget(Approvals(store)), "apr-orphan", as_json=False, interval=0
    )
    assert code == 4
    assert store.get("apr-orphan").status is Status.EXPIRED
    assert [e.kind for e in store.audit("apr-orphan")] == ["created", "expired"]


def test_help_lists_commands_and_exit_codes() -> None:
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for command in ("start", "wait", "list", "show", "decide", "cancel", "dev"):
        assert command in result.output
    assert "3 rejected" in " ".join(result.output.split())
    start_help = runner.invoke(cli.app, ["start", "--help"], env={"COLUMNS": "200"})
    assert "3 rejected" in start_help.output and "--approver" in start_help.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "--title", "t", "--approver", "U0A", "--timeout", "soon"], "not a duration"),
        (["start", "--title", "t", "--approver", "U0A", "--field", "oops"], "key=value"),
        (["start", "--title", " ", "--approver", "U0A", "--requester", "U0R"], "title is empty"),
        (["start", "--title", "t", "--approver", "U0A", "--timeout", "9d"], "timeout"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(args: list[str], message: str) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_required_option_is_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(cli.app, ["start", "--title", "t"])
    assert result.exit_code == 2
    assert "--approver" in result.output


def test_no_local_stack_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_LOCAL_URL", "http://127.0.0.1:9")
    result = runner.invoke(cli.app, ["list"])
    assert result.exit_code == 1
    assert "signoff dev" in result.output


# --- in-process targets over DynamoDB Local --------------------------------------------------


@dataclass
class Groups:
    """User groups as Slack would answer usergroups.users.list (a fake of the port)."""

    known: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def members(self, group_id: str) -> tuple[str, ...]:
        if group_id not in self.known:
            raise ValidationError(f"the user group {group_id} cannot be resolved")
        return self.known[group_id]


@dataclass
class StoreTarget:
    """The CLI's target in-process: `start` resolves the request against the policies and
    opens the approval, as the workflow's first steps do (a refusal writes nothing)."""

    approvals: Approvals
    started: list[str] = field(default_factory=list)
    book: PolicyBook = field(default_factory=PolicyBook)
    groups: Groups = field(default_factory=Groups)
    refused: dict[str, str] = field(default_factory=dict)

    def start(self, request: StartRequest) -> dict[str, Any]:
        self.started.append(request.id)
        try:
            resolved = resolve(request, self.book, self.groups)
        except ValidationError as exc:
            self.refused[request.id] = str(exc)
            return {"id": request.id, "started": True}
        self.approvals.open(resolved)
        return {"id": request.id, "started": True}

    def workflow(self, approval: Any) -> dict[str, str]:
        return {"status": "running"}

    def policies(self) -> PolicyBook:
        return self.book

    def kickoff_refusal(self, approval_id: str) -> str | None:
        return self.refused.get(approval_id)

    def cli_decisions(self) -> None:
        return None

    def reports(self) -> Reports:
        # The table's store (DynamoDB Local) has the once items a report is written with.
        store = cast(DynamoApprovalStore, self.approvals.store)
        return Reports(store=store, clock=self.approvals.clock)


@pytest.fixture
def target(approvals: Approvals, monkeypatch: pytest.MonkeyPatch) -> StoreTarget:
    found = StoreTarget(approvals)
    approvals.admins = lambda: found.book.admins
    monkeypatch.setattr(context, "target", lambda: found)
    return found


def invoke(*args: str) -> Result:
    # Wide enough that no table cell wraps: the text must come out in one piece.
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "400"})


def as_json(result: Result) -> Any:
    assert result.exit_code in (0, 3, 4, 5), result.output
    return json.loads(result.stdout)


MARKUP = ["Rollback [/api] v2", "[prod]", "[bold]x[/bold]", "[/]", ":smile: [red]"]


@pytest.mark.integration
@pytest.mark.parametrize("text", MARKUP)
def test_user_text_prints_as_typed_through_a_rejection(target: StoreTarget, text: str) -> None:
    started = invoke(
        "start", "--id", "apr-markup", "--title", text, "--description", text,
        "--field", f"{text}={text}", "--requester", "U0R", "--approver", "U0A",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    assert started.stdout == f"started apr-markup: {text}\n"

    listed = invoke("list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count(text) == 1  # the title
    assert as_json(invoke("list", "--json"))[0]["title"] == text

    decided = invoke("decide", "apr-markup", "reject", "--as", "U0A", "--reason", text)
    assert decided.exit_code == 0, decided.output
    assert decided.stdout == "apr-markup rejected by U0A\n"

    waited = invoke("wait", "apr-markup")
    assert waited.exit_code == 3
    first, vote, reason = waited.stdout.splitlines()
    assert first == "apr-markup rejected by U0A"
    assert vote.startswith("  rejected by U0A ") and vote.endswith("[decided it]")
    assert reason == f"    > {text}"
    outcome = as_json(invoke("wait", "apr-markup", "--json"))
    assert (outcome["decided_by"], outcome["reason"]) == ("U0A", text)

    shown = invoke("show", "apr-markup")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{text}  (apr-markup)"
    for label in ("description", f"field {text}"):
        assert f"  {label:<11} {text}" in lines
    assert f"      > {text}" in lines  # the rejection's reason, under its vote
    assert f"  {'workflow':<11} running" in lines
    assert f"title={text}" in shown.stdout  # the audit trail's detail cell
    assert f"reason={text}" in shown.stdout
    record = as_json(invoke("show", "apr-markup", "--json"))
    assert (record["title"], record["description"], record["reason"]) == (text, text, text)
    assert record["fields"] == {text: text}
    assert record["audit"][0]["detail"]["title"] == text


@pytest.mark.integration
@pytest.mark.parametrize("text", MARKUP)
def test_user_text_prints_as_typed_through_a_cancel(target: StoreTarget, text: str) -> None:
    started = invoke(
        "start", "--id", "apr-markup", "--title", text, "--requester", "U0R",
        "--approver", "U0A", "--json",
    )  # fmt: skip
    assert as_json(started) == {"id": "apr-markup", "status": "pending"}
    cancelled = invoke("cancel", "apr-markup", "--as", "U0R", "--reason", text)
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout == "apr-markup cancelled by U0R\n"
    waited = invoke("wait", "apr-markup")
    assert (waited.exit_code, waited.stdout) == (5, f"apr-markup cancelled by U0R\n  > {text}\n")
    refused = invoke("decide", "apr-markup", "approve", "--as", "U0A")
    assert refused.exit_code == 1
    # The refusal names the request by its title, printed as typed (never as markup).
    assert refused.stderr.startswith(
        f"refused: \u201c{text}\u201d (apr-markup) is already cancelled (U0R cancelled it at "
    )
    assert refused.stderr.endswith("): nothing more can be decided on it\n")


@pytest.mark.integration
def test_control_characters_in_stored_text_are_shown_escaped(target: StoreTarget) -> None:
    assert (
        invoke(
            "start", "--id", "apr-ctl", "--title", "t", "--approver", "U0A", "--requester", "U0R"
        ).exit_code
        == 0
    )
    reason = "\x1b[31mred\x07 \x9b2J"
    # Kickoff and the rules refuse control characters now; a record may still hold them
    # (written before, or by other tools): the CLI must not let them drive the terminal.
    refused = invoke("cancel", "apr-ctl", "--as", "U0R", "--reason", reason)
    assert refused.exit_code == 2 and "control character" in refused.stderr
    before = target.approvals.get("apr-ctl")
    after = replace(
        before, status=Status.CANCELLED, decided_by="U0A", reason=reason, version=before.version + 1
    )
    target.approvals.store.commit(before, after, [], now=before.created_at)
    shown = invoke("show", "apr-ctl")
    assert "\\x1b[31mred\\x07 \\x9b2J" in shown.stdout
    assert "\x1b" not in shown.stdout and "\x9b" not in shown.stdout
    assert as_json(invoke("show", "apr-ctl", "--json"))["reason"] == reason


# --- one mapping from errors to exit codes ---------------------------------------------------


@pytest.mark.integration
def test_errors_map_to_exit_codes(target: StoreTarget) -> None:
    assert (
        invoke(
            "start", "--id", "apr-codes", "--title", "t", "--approver", "U0A", "--requester", "U0R"
        ).exit_code
        == 0
    )
    missing = invoke("show", "apr-nope")
    assert (missing.exit_code, missing.stderr) == (1, "error: no approval with id 'apr-nope'\n")
    no_reason = invoke("decide", "apr-codes", "reject", "--as", "U0A")
    assert (no_reason.exit_code, no_reason.stderr) == (2, "error: a rejection needs a reason\n")
    stranger = invoke("decide", "apr-codes", "approve", "--as", "U0X")
    assert stranger.exit_code == 1
    assert stranger.stderr == (
        "refused: you are not an approver of \u201ct\u201d (apr-codes): its approvers are U0A; "
        "ask one of them to decide\n"
    )
    assert invoke("decide", "apr-codes", "approve", "--as", "U0A").exit_code == 0
    again = invoke("decide", "apr-codes", "approve", "--as", "U0A")
    assert again.exit_code == 0, again.output
    assert "already recorded" in again.stdout
    assert [e.kind for e in target.approvals.store.audit("apr-codes")] == [
        "created", "vote_refused", "voted", "decided",
    ]  # fmt: skip


# --- reusing --id ----------------------------------------------------------------------------

FIRST = ("start", "--id", "apr-reuse", "--title", "A", "--approver", "U0A", "--requester", "U0R")


@pytest.mark.integration
def test_a_used_id_with_a_different_request_is_refused_before_anything_starts(
    target: StoreTarget,
) -> None:
    assert invoke(*FIRST).exit_code == 0
    assert invoke("decide", "apr-reuse", "approve", "--as", "U0A").exit_code == 0
    other = invoke(
        "start", "--id", "apr-reuse", "--title", "DROP production database",
        "--approver", "SOMEONE-ELSE", "--requester", "U0R", "--wait",
    )  # fmt: skip
    assert other.exit_code == 2, other.output
    assert other.stdout == ""
    assert other.stderr == (
        "error: id apr-reuse is already used by a different request: "
        "title was 'A', now 'DROP production database'; "
        "approvers was 'U0A', now 'SOMEONE-ELSE'\n"
    )
    assert target.started == ["apr-reuse"]
    assert target.approvals.get("apr-reuse").title == "A"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("extra", "difference"),
    [
        (["--description", "more"], "description was '', now 'more'"),
        (["--field", "k=v"], "fields was '', now 'k=v'"),
        (["--channel", "ops"], "channel was 'approvals', now 'ops'"),
        (["--timeout", "2h"], "timeout was '1h', now '2h'"),
        (["--approver-group", "S0OPS"], "approver groups was '', now 'S0OPS'"),
    ],
)
def test_each_difference_is_named(target: StoreTarget, extra: list[str], difference: str) -> None:
    assert invoke(*FIRST).exit_code == 0
    other = invoke(*FIRST, *extra)
    assert other.exit_code == 2
    assert other.stderr.endswith(f"different request: {difference}\n")


@pytest.mark.integration
def test_the_same_request_again_starts_nothing_and_reports_it(target: StoreTarget) -> None:
    assert invoke(*FIRST).exit_code == 0
    again = invoke(*FIRST, "--channel", "approvals")  # the channel the record was given
    assert (again.exit_code, again.stdout) == (0, "already started apr-reuse (pending): A\n")
    assert as_json(invoke(*FIRST, "--json")) == {"id": "apr-reuse", "status": "pending"}
    assert invoke("decide", "apr-reuse", "approve", "--as", "U0A").exit_code == 0
    waited = invoke(*FIRST, "--wait")
    assert waited.exit_code == 0
    assert waited.stdout.splitlines()[:2] == [
        "already started apr-reuse (approved): A",
        "apr-reuse approved by U0A (1 of 1)",
    ]
    assert target.started == ["apr-reuse"]


@dataclass
class RacingTarget(StoreTarget):
    """Another kickoff with the same id and a different title records first."""

    def start(self, request: StartRequest) -> dict[str, Any]:
        self.approvals.open(replace(request, title="someone else's"))
        return super().start(request)


@pytest.mark.integration
def test_a_record_made_concurrently_from_a_different_request_is_refused(
    approvals: Approvals, monkeypatch: pytest.MonkeyPatch
) -> None:
    racing = RacingTarget(approvals)
    monkeypatch.setattr(context, "target", lambda: racing)
    result = invoke(*FIRST)
    assert result.exit_code == 2
    assert """title was "someone else's", now 'A'""" in result.stderr
    assert racing.started == ["apr-reuse"]


# --- a SIGNOFF_LOCAL_URL that answers something else -----------------------------------------


class Impostor:
    """An HTTP server on loopback answering each path with a fixed status and body."""

    def __init__(self, answers: dict[str, tuple[int, str]]):
        def handle(request: BaseHTTPRequestHandler) -> None:
            status, body = answers.get(request.path.rstrip("/"), (404, "<h1>Not Found</h1>"))
            request.send_response(status)
            request.send_header("Content-Type", "text/html")
            request.end_headers()
            request.wfile.write(body.encode())

        handler = type(
            "Handler",
            (BaseHTTPRequestHandler,),
            {"do_GET": handle, "do_POST": handle, "log_message": lambda *a: None},
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        serving.stop(self.server)


@pytest.fixture
def impostor() -> Iterator[Callable[[dict[str, tuple[int, str]]], str]]:
    servers: list[Impostor] = []

    def serve(answers: dict[str, tuple[int, str]]) -> str:
        servers.append(Impostor(answers))
        return servers[-1].url

    yield serve
    for server in servers:
        server.stop()


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        ({"/local/config": (200, "<html>hello</html>")}, "answered something that is not JSON"),
        ({"/local/config": (200, '{"hello": "world"}')}, "lacks dynamodb_endpoint, region, table"),
        ({"/local/config": (200, "[1, 2]")}, "/local/config is not a JSON object"),
        ({"/local/config": (500, "oops")}, "answered HTTP 500"),
        ({}, "answered HTTP 404"),
        (
            {"/local/config": (200, '{"dynamodb_endpoint": "::", "region": "x", "table": "t"}')},
            "DynamoDB settings are unusable",
        ),
    ],
)
def test_a_url_that_is_not_the_local_stack_is_one_line(
    impostor: Callable[[dict[str, tuple[int, str]]], str],
    answers: dict[str, tuple[int, str]],
    says: str,
) -> None:
    url = impostor(answers)
    start = ["start", "--title", "t", "--approver", "U0A", "--requester", "U0R"]
    for args in (["list"], ["show", "apr-x"], start):
        result = runner.invoke(cli.app, args, env={"SIGNOFF_LOCAL_URL": url})
        assert result.exit_code == 1, result.output
        assert result.output.count("\n") == 1
        assert result.output.startswith(f"error: {url} does not look like the signoff local stack")
        assert says in result.output


@pytest.mark.integration
def test_a_local_stack_whose_workflow_endpoint_answers_html(
    impostor: Callable[[dict[str, tuple[int, str]]], str],
    ddb_endpoint: str,
    table: tuple[Any, str],
    store: DynamoApprovalStore,
) -> None:
    config = {"dynamodb_endpoint": ddb_endpoint, "region": "us-east-1", "table": table[1]}
    url = impostor({"/local/config": (200, json.dumps(config))})
    env = {"SIGNOFF_LOCAL_URL": url}
    start = ["start", "--title", "t", "--approver", "U0A", "--requester", "U0R"]
    started = runner.invoke(cli.app, start, env=env)
    assert started.exit_code == 1
    assert started.output == (
        f"error: the local stack refused the start: {url}/local/workflows answered HTTP 404\n"
    )
    Approvals(store).open(start_request("apr-html"))
    shown = runner.invoke(cli.app, ["show", "apr-html"], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"  {'workflow':<11} unknown" in shown.stdout.splitlines()


def test_a_url_that_does_not_speak_http_is_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer_garbage() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"SSH-2.0-OpenSSH\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = runner.invoke(cli.app, ["list"], env={"SIGNOFF_LOCAL_URL": url})
        thread.join(5)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: the local stack is not answering at {url}")
    assert result.output.count("\n") == 1


@pytest.mark.integration
def test_a_narrow_terminal_folds_table_cells_rather_than_cutting_them(target: StoreTarget) -> None:
    title = "W" * 120
    start = (
        "start",
        "--id",
        "apr-wide",
        "--title",
        title,
        "--approver",
        "U0A",
        "--requester",
        "U0R",
    )
    assert invoke(*start).exit_code == 0
    for args in (["list"], ["show", "apr-wide"]):
        result = runner.invoke(cli.app, args, env={"COLUMNS": "60"})
        assert result.exit_code == 0, result.output
        assert "…" not in result.stdout
        assert result.stdout.count("W") == 120 * (1 if args == ["list"] else 2)


# --- policies --------------------------------------------------------------------------------

POLICY_DOCUMENT = """
allow_ad_hoc: false
admins: [U0BOSS]
policies:
  prod-deploy:
    description: Production deploys
    approver_groups: [S0DBA]
    min_approvals: 2
    remind_every: 30m
  two-of-three:
    approvers: [U0A, U0B, U0C]
    min_approvals: 2
"""


@pytest.fixture
def governed(target: StoreTarget) -> StoreTarget:
    target.book = PolicyBook.parse(POLICY_DOCUMENT, source="test")
    target.groups = Groups({"S0DBA": ("U0ALICE", "U0BOB", "U0CAROL")})
    return target


def nothing_written(target: StoreTarget, approval_id: str) -> bool:
    if target.approvals.store.list_pending():
        return False
    with pytest.raises(NotFoundError):
        target.approvals.get(approval_id)
    return True


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--policy", "prod"],
            "error: no policy named 'prod' (known policies: prod-deploy, two-of-three)",
        ),
        (["--approver", "U0A"], "does not allow ad-hoc approvers: name a policy with --policy"),
        (["--policy", "two-of-three", "--approver", "U0FRIEND"], "a named policy sets"),
    ],
)
def test_a_kickoff_the_policies_refuse_is_exit_2_and_writes_nothing(
    governed: StoreTarget, args: list[str], says: str
) -> None:
    result = invoke("start", "--id", "apr-no", "--title", "t", "--requester", "U0R", *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert governed.started == []  # refused before anything started
    assert nothing_written(governed, "apr-no")


@pytest.mark.integration
def test_an_unresolvable_group_is_exit_2_and_writes_nothing(target: StoreTarget) -> None:
    result = invoke(
        "start", "--id", "apr-grp", "--title", "t", "--requester", "U0R",
        "--approver-group", "S0GONE", "--wait",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: refused at kickoff: the user group S0GONE cannot be resolved\n"
    )
    assert nothing_written(target, "apr-grp")


@pytest.mark.integration
def test_two_of_three_through_the_cli_and_one_reject_exits_3(governed: StoreTarget) -> None:
    start = ("start", "--id", "apr-q", "--title", "t", "--requester", "U0R")
    assert invoke(*start, "--policy", "two-of-three").exit_code == 0
    first = invoke("decide", "apr-q", "approve", "--as", "U0A")
    assert first.stdout == "apr-q: approval by U0A recorded (1 of 2); waiting for 1 more\n"
    again = invoke("decide", "apr-q", "approve", "--as", "U0A")
    assert (again.exit_code, again.stdout) == (0, "your approve is already recorded\n")
    changed = invoke("decide", "apr-q", "reject", "--as", "U0A", "--reason", "no")
    assert changed.exit_code == 1 and "a vote cannot be changed" in changed.stderr
    assert governed.approvals.get("apr-q").approved_by == ("U0A",)
    assert invoke("decide", "apr-q", "reject", "--as", "U0C", "--reason", "freeze").exit_code == 0
    waited = invoke(*start, "--policy", "two-of-three", "--wait")
    assert waited.exit_code == 3
    lines = waited.stdout.splitlines()
    assert "apr-q rejected by U0C; approved before: U0A" in lines  # both voters named
    assert lines[-1] == "    > freeze"


@pytest.mark.integration
def test_a_group_member_may_approve_through_the_cli_and_a_non_member_may_not(
    governed: StoreTarget,
) -> None:
    start = ("start", "--id", "apr-dba", "--title", "t", "--requester", "U0ALICE")
    assert invoke(*start, "--policy", "prod-deploy").exit_code == 0
    record = as_json(invoke("show", "apr-dba", "--json"))
    assert (record["policy"], record["approver_groups"], record["min_approvals"]) == (
        "prod-deploy",
        ["S0DBA"],
        2,
    )
    own = invoke("decide", "apr-dba", "approve", "--as", "U0ALICE")
    assert own.exit_code == 1 and "is your own request, and self-approval is off" in own.stderr
    stranger = invoke("decide", "apr-dba", "approve", "--as", "U0MALLORY")
    assert stranger.exit_code == 1 and "not an approver" in stranger.stderr
    assert invoke("decide", "apr-dba", "approve", "--as", "U0BOB").exit_code == 0
    assert invoke("decide", "apr-dba", "approve", "--as", "U0CAROL").stdout == (
        "apr-dba approved by U0CAROL\n"
    )


@pytest.mark.integration
def test_cancel_through_the_cli_by_a_stranger_an_admin_and_the_requester(
    governed: StoreTarget,
) -> None:
    for approval_id in ("apr-c1", "apr-c2"):
        start = ("start", "--id", approval_id, "--title", "t", "--requester", "U0R")
        assert invoke(*start, "--policy", "two-of-three").exit_code == 0
    stranger = invoke("cancel", "apr-c1", "--as", "U0A")
    assert stranger.exit_code == 1
    assert stranger.stderr == (
        "refused: only the requester (U0R) or an admin can cancel \u201ct\u201d (apr-c1): ask them\n"
    )
    assert [e.kind for e in governed.approvals.store.audit("apr-c1")][-1] == "cancel_refused"
    assert invoke("cancel", "apr-c1", "--as", "U0R").exit_code == 0
    assert invoke("wait", "apr-c1").exit_code == 5
    assert invoke("cancel", "apr-c2", "--as", "U0BOSS").stdout == "apr-c2 cancelled by U0BOSS\n"
    assert invoke("wait", "apr-c2").exit_code == 5


@pytest.mark.integration
def test_policies_lists_the_deployments_rules(governed: StoreTarget) -> None:
    listed = invoke("policies")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[:2] == ["ad-hoc approvers: not allowed (name a policy)", "admins: U0BOSS"]
    assert "prod-deploy" in listed.stdout and "every 30m" in listed.stdout
    document = json.loads(invoke("policies", "--json").stdout)
    assert list(document["policies"]) == ["prod-deploy", "two-of-three"]
    assert PolicyBook.from_data(document, source="x").policies == governed.book.policies


@pytest.mark.integration
def test_report_exit_codes_and_a_repeated_key(target: StoreTarget) -> None:
    start = ("start", "--id", "apr-rep", "--title", "t", "--approver", "U0A", "--requester", "U0R")
    assert invoke(*start).exit_code == 0
    bad = invoke("report", "apr-rep", "deployed")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "error: the stage is started, succeeded or failed, not 'deployed'\n",
    )
    early = invoke("report", "apr-rep", "started")
    assert early.exit_code == 1 and "is pending, not approved" in early.stderr
    assert invoke("decide", "apr-rep", "approve", "--as", "U0A").exit_code == 0
    args = ("report", "apr-rep", "succeeded", "--key", "run-9", "--note", "[bold]ok[/bold]")
    first, again = invoke(*args), invoke(*args)
    assert first.stdout == (
        "apr-rep: succeeded reported; it shows in the request's thread and on its message\n"
    )
    assert "was reported already with this --key" in again.stdout
    events = [e for e in target.approvals.store.audit("apr-rep") if e.kind == "reported"]
    assert [(e.actor, e.detail["note"]) for e in events] == [("pipeline", "[bold]ok[/bold]")]
