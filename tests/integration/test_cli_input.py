"""What is not an approval id, and `--as` that is not a person, on DynamoDB Local.

DynamoDB refuses a key over 2,048 bytes with a ValidationException of its own; signoff
refuses what is not an approval id before asking, with a sentence, exit 2. An `--as` that
names nobody (`""`, `<!channel>`) is refused before anything is written, so the audit
trail never records it as an actor.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from signoff import cli
from signoff.cli import context
from signoff.errors import ValidationError
from signoff.service import Approvals
from tests.factories import start_request
from tests.integration.test_cli import StoreTarget

pytestmark = pytest.mark.integration

runner = CliRunner()
LONG_ID = "apr-" + "a" * 3000


@pytest.fixture
def target(approvals: Approvals, monkeypatch: pytest.MonkeyPatch) -> StoreTarget:
    found = StoreTarget(approvals)
    monkeypatch.setattr(context, "target", lambda: found)
    approvals.open(start_request("apr-door", approvers=("U0A",), requester="U0REQ"))
    return found


def test_the_table_itself_refuses_a_3000_character_key(table: tuple[Any, str]) -> None:
    """Why the door matters: DynamoDB Local (as DynamoDB) answers with its own error."""
    client, name = table
    with pytest.raises(ClientError, match="ValidationException"):
        client.get_item(TableName=name, Key={"pk": {"S": LONG_ID}, "sk": {"S": "x"}})


@pytest.mark.parametrize(
    "args",
    [
        ["show", LONG_ID],
        ["wait", LONG_ID],
        ["audit", LONG_ID],
        ["decide", LONG_ID, "approve", "--as", "U0A"],
        ["cancel", LONG_ID, "--as", "U0REQ"],
    ],
)
def test_an_id_of_3000_characters_is_a_usage_error_not_a_table_error(
    target: StoreTarget, args: list[str]
) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: 'apr-aaaa")
    assert "is not an approval id" in result.output and result.output.count("\n") == 1
    with pytest.raises(ValidationError, match="is not an approval id"):
        target.approvals.get(LONG_ID)  # the service's door, whoever calls it


@pytest.mark.parametrize("who", ["", "<!channel>"])
def test_as_that_names_nobody_is_refused_and_never_an_actor(target: StoreTarget, who: str) -> None:
    before = target.approvals.store.audit("apr-door")
    for args in (
        ["decide", "apr-door", "approve", "--as", who],
        ["cancel", "apr-door", "--as", who],
    ):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: --as ")
    assert target.approvals.store.audit("apr-door") == before
    assert {e.actor for e in before} == {"U0REQ"}
