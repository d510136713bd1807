"""Turning a position in app.yaml into one clear SpecError line: `FILE: FIELD: message`.

Every check in the app package reports through a Locator, so all errors share one format
and, when the spec came from a file, point at the line to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import get_close_matches

from jupiter.errors import SpecError

# A position in the document: mapping keys and list indices, e.g. ("tasks", "score", "parents", 0)
Loc = tuple[str | int, ...]


def format_field(loc: Sequence[str | int]) -> str:
    """("tasks", "score", "parents", 0) -> "tasks.score.parents[0]"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def suggest(name: str, known: Sequence[str]) -> str:
    """A ' (did you mean ...?)' hint for a misspelt name, or nothing."""
    close = get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(value: object) -> str:
    """A YAML-flavoured description of a value, for 'expected X, got Y' messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


class Locator:
    """Builds SpecErrors for one spec source, adding the line number when one is known."""

    def __init__(self, file: str, lines: Mapping[Loc, int] | None = None) -> None:
        self.file = file
        self._lines = dict(lines or {})

    def line(self, loc: Loc) -> int | None:
        # The longest known prefix: a missing field is reported at its parent's line.
        for end in range(len(loc), 0, -1):
            found = self._lines.get(tuple(loc[:end]))
            if found is not None:
                return found
        return None

    def error(self, loc: Loc, message: str) -> SpecError:
        line = self.line(loc)
        if line is not None:
            message = f"{message} (line {line})"
        return SpecError(self.file, format_field(loc) or None, message)
