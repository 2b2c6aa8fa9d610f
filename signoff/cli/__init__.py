"""The `signoff` command line: kick off, wait for, list, show, decide and cancel approvals.

By concern: `entry` (the Typer app and the entry point), `context` (the options given before
a command and the target they name), `output` (printing, errors to lines and exit codes),
`kickoff` (start, wait), `queries` (list, audit, show), `decisions` (decide, cancel),
`policies`, `ops` (doctor, redrive) and `dev`.
"""

from signoff.cli.entry import app, main

__all__ = ["app", "main"]
