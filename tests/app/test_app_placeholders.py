"""Command templates: parsing, brace escapes, and shell-quoted rendering."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jupiter.app.placeholders import (
    Placeholder,
    PlaceholderError,
    parse,
    referenced_inputs,
    render,
    uses_output,
)


def test_parse_splits_text_and_placeholders() -> None:
    parts = parse("sort {in:words} | head > {out} # {app} {inputs}")
    assert parts == [
        "sort ",
        Placeholder("in", "words"),
        " | head > ",
        Placeholder("out"),
        " # ",
        Placeholder("app"),
        " ",
        Placeholder("inputs"),
    ]
    assert referenced_inputs(parts) == ["words"]
    assert uses_output(parts)
    assert not uses_output(parse("cat {in:x}"))


def test_doubled_braces_are_literal() -> None:
    assert parse("awk '{{ print $1 }}' {{}}") == ["awk '{ print $1 }' {}"]


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("cat {input}", "unknown placeholder '{input}'"),
        ("cat {in:}", "needs an upstream name"),
        ("awk '{print}' x", "unknown placeholder '{print}'"),
        ("cat {in:a", "unclosed '{' at position 4"),
        ("cat {in:{a}}", "unclosed '{'"),
        ("echo }", "single '}' at position 5"),
    ],
)
def test_bad_templates(template: str, fragment: str) -> None:
    with pytest.raises(PlaceholderError) as caught:
        parse(template)
    assert fragment in str(caught.value)


def test_render_quotes_every_path_for_the_shell(tmp_path: Path) -> None:
    awkward = tmp_path / "it's a $file; rm -rf x"
    awkward.write_text("hello\n")
    other = tmp_path / "plain.txt"
    other.write_text("world\n")
    out = tmp_path / "out put"
    command = render(
        parse("cat {inputs} > {out}; cat {in:b} >> {out}; echo {app} >> {out}"),
        inputs={"a": awkward, "b": other},
        upstream=["a", "b"],
        output=out,
        app=tmp_path,
    )
    subprocess.run(["/bin/sh", "-c", command], check=True, timeout=10)
    assert out.read_text() == f"hello\nworld\nworld\n{tmp_path}\n"
