"""The `signoff` command line's surface: its commands, in the order `--help` lists them,
each with a one-line summary; `python -m signoff.cli` and the entry point are one app."""

from __future__ import annotations

from typing import Any

import typer.main

from signoff import cli
from signoff.cli import entry

COMMANDS = [
    "start",
    "wait",
    "verify",
    "list",
    "audit",
    "show",
    "decide",
    "cancel",
    "report",
    "doctor",
    "redrive",
    "dev",
    "policies",  # a group of its own (`policies push`): Typer lists groups last
]


def test_the_commands_are_listed_in_order_each_with_a_summary() -> None:
    group: Any = typer.main.get_command(cli.app)
    assert list(group.commands) == COMMANDS
    for name, command in group.commands.items():
        assert command.get_short_help_str(limit=200), name
    assert list(group.commands["policies"].commands) == ["push"]


def test_the_package_exports_the_entry_modules_app_and_main() -> None:
    assert cli.app is entry.app
    assert cli.main is entry.main
