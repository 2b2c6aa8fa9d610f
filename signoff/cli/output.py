"""What the CLI prints, and the one mapping from an error to its line and exit code.

Everything printed goes through consoles with markup, emoji codes and highlighting off:
user text is data, printed as typed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, ParamSpec

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand

from signoff.errors import AlreadyRecordedError, RefusedError, SignoffError, ValidationError
from signoff.text import visible

P = ParamSpec("P")

DEBUG_ENV = "SIGNOFF_DEBUG"


class Command(TyperCommand):
    """Arguments shown by their names alone (`ID`, `FILE`), as options are: typer adds the
    Python type beside an argument (`ID <str>`) and braces in the usage line (`{ID}`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                arguments.append((name, record[1]))
            else:
                options.append(record)
        for heading, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)


# Everything printed goes through these consoles with markup, emoji codes and highlighting
# off: titles, reasons and ids are data, so `[prod]` or `:smile:` print as typed.
out = Console(markup=False, highlight=False, emoji=False)

err = Console(stderr=True, markup=False, highlight=False, emoji=False)

MAX_ERROR_LINE = 500

Part = str | tuple[str, str]


def shown(value: object, one_line: bool = False) -> str:
    """User text as printed: as typed, except what would drive the terminal or hide from
    the reader (control, bidirectional and invisible characters), shown as escapes."""
    return visible(str(value), multiline=not one_line)


def clip(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def styled(*parts: Part, one_line: bool = False) -> Text:
    """A line from plain strings (data) and (string, style) pairs; nothing is parsed."""
    text = Text()
    for part in parts:
        if isinstance(part, tuple):
            text.append(shown(part[0], one_line), style=part[1])
        else:
            text.append(shown(part, one_line))
    return text


def say(*parts: Part) -> None:
    out.print(styled(*parts), soft_wrap=True)


def complain(*parts: Part) -> None:
    line = styled(*parts, one_line=True)
    line.truncate(MAX_ERROR_LINE, overflow="ellipsis")
    err.print(line, soft_wrap=True)


def report(exc: Exception) -> int:
    """The one mapping from an error to what the user reads and the exit code."""
    if isinstance(exc, AlreadyRecordedError):  # a repeated identical vote: it stands
        say(str(exc))
        return 0
    if isinstance(exc, RefusedError):
        complain(("refused: ", "red"), str(exc))
        return 1
    if isinstance(exc, SignoffError):
        complain(("error: ", "red"), str(exc))
        return 2 if isinstance(exc, ValidationError) else 1
    complain(
        ("internal error: ", "red"),
        f"{type(exc).__name__}: {clip(str(exc), 300)} (set {DEBUG_ENV}=1 to see the traceback)",
    )
    return 1


def reports_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Run a command; any error becomes one line on stderr and its exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the framework's own exits and usage errors
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) and not isinstance(exc, SignoffError):
                raise
            raise typer.Exit(report(exc)) from exc

    return run


def cell(value: str) -> Text:
    return Text(shown(value))


def new_table(*headers: str, title: str | None = None) -> Table:
    """Long cells fold onto more lines rather than being cut short with an ellipsis; the
    ids and times stay on one line, to be read and copied whole."""
    return Table(
        *(
            Column(h, no_wrap=True) if h in ("id", "at") else Column(h, overflow="fold")
            for h in headers
        ),
        title=title,
        box=box.SIMPLE_HEAD,
    )
