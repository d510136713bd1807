"""Command-task templates: `{in:NAME}`, `{inputs}`, `{out}`, `{app}`, and `{{`/`}}` for braces.

Parsing is separate from rendering so that validation can reject a bad template before
anything runs, and so that a runner parses each template once.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class PlaceholderError(ValueError):
    """A template that cannot be parsed; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One `{...}` in a template. kind: "in" (with name), "inputs", "out" or "app"."""

    kind: str
    name: str | None = None

    def __str__(self) -> str:
        return f"{{in:{self.name}}}" if self.kind == "in" else f"{{{self.kind}}}"


Part = str | Placeholder

_SIMPLE = ("inputs", "out", "app")


def parse(template: str) -> list[Part]:
    """Split a template into literal text and placeholders; raise PlaceholderError if bad."""
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char == "}":
            if template.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise PlaceholderError(f"single '}}' at position {i}; write '}}}}' for a literal brace")
        if char != "{":
            literal.append(char)
            i += 1
            continue
        if template.startswith("{{", i):
            literal.append("{")
            i += 2
            continue
        end = template.find("}", i + 1)
        nested = template.find("{", i + 1)
        if end < 0 or 0 <= nested < end:
            raise PlaceholderError(
                f"unclosed '{{' at position {i}; write '{{{{' for a literal brace"
            )
        parts.extend(_flush(literal))
        parts.append(_placeholder(template[i + 1 : end]))
        i = end + 1
    parts.extend(_flush(literal))
    return parts


def _flush(literal: list[str]) -> list[Part]:
    text = "".join(literal)
    literal.clear()
    return [text] if text else []


def _placeholder(body: str) -> Placeholder:
    if body in _SIMPLE:
        return Placeholder(body)
    if body.startswith("in:"):
        name = body[3:]
        if not name:
            raise PlaceholderError("'{in:}' needs an upstream name, e.g. {in:parse}")
        return Placeholder("in", name)
    raise PlaceholderError(
        f"unknown placeholder '{{{body}}}'; use {{in:NAME}}, {{inputs}}, {{out}} or {{app}}"
        " (write '{{' and '}}' for literal braces)"
    )


def referenced_inputs(parts: Sequence[Part]) -> list[str]:
    """Upstream names used by `{in:NAME}` placeholders, in order of appearance."""
    return [p.name for p in parts if isinstance(p, Placeholder) and p.kind == "in" and p.name]


def uses_output(parts: Sequence[Part]) -> bool:
    return any(isinstance(p, Placeholder) and p.kind == "out" for p in parts)


def render(
    parts: Sequence[Part],
    *,
    inputs: Mapping[str, Path],
    upstream: Sequence[str],
    output: Path,
    app: Path,
) -> str:
    """The shell command with every placeholder replaced by a shell-quoted path."""
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif part.kind == "in":
            assert part.name is not None
            pieces.append(shlex.quote(str(inputs[part.name])))
        elif part.kind == "inputs":
            pieces.append(" ".join(shlex.quote(str(inputs[name])) for name in upstream))
        elif part.kind == "out":
            pieces.append(shlex.quote(str(output)))
        else:
            pieces.append(shlex.quote(str(app)))
    return "".join(pieces)
