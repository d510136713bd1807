"""Errors shared across Jupiter; the CLI turns them into one line and an exit code."""

from __future__ import annotations

from pathlib import Path


class JupiterError(Exception):
    """Base class: a failure that the CLI reports as one clear line."""

    exit_code = 1


class SpecError(JupiterError):
    """Bad user input (app spec, cluster spec, problem file): nothing was started.

    The message names the file and the field so that the user can fix it at once.
    """

    exit_code = 2

    def __init__(self, file: str | Path | None, field: str | None, message: str) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.message = message
        where = ": ".join(part for part in (self.file, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class RunError(JupiterError):
    """A run that started but could not finish (task failure, agent lost, timeout)."""

    exit_code = 1
