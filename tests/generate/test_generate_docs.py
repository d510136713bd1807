"""docs/generating-apps.md shows what the commands really print and write."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jupiter.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "generating-apps.md"


def console_blocks() -> list[tuple[str, list[str]]]:
    """(command, printed lines) for every `$ jupiter ...` shown in a console block."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), flags=re.S):
        command: str | None = None
        printed: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, printed))
                command, printed = line[2:], []
            else:
                printed.append(line)
        if command is not None:
            found.append((command, printed))
    return found


def shown(prefix: str) -> tuple[list[str], list[str]]:
    """The first successful run of a command starting with `prefix`, and what it printed."""
    for command, printed in console_blocks():
        if command.startswith(prefix) and printed and printed[0].startswith("wrote "):
            return command.split(), printed
    raise AssertionError(f"the doc shows no `{prefix}`")


def test_the_generate_example_prints_what_the_doc_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv, printed = shown(
        "jupiter generate-app my-dag --tasks 20 --depth 5 --min-width 2 "
        "--max-width 6 --ccr 0.5 --seed 1"
    )
    main(argv[1:])
    assert capsys.readouterr().out.splitlines() == printed
    yaml_text = (tmp_path / "my-dag" / "app.yaml").read_text()
    excerpt = re.search(r"The start of `app.yaml`.*?```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert excerpt is not None
    for line in excerpt.group(1).splitlines():
        if line.strip() != "...":
            assert line in yaml_text.splitlines(), line


def test_the_error_examples_are_the_real_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checked = 0
    for command, printed in console_blocks():
        if command.startswith("jupiter generate-app bad "):
            with pytest.raises(SystemExit):
                main(command.split()[1:])
            assert capsys.readouterr().err.splitlines() == printed[:1]
            checked += 1
    assert checked == 2


def test_the_import_example_prints_what_the_doc_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv, printed = shown(
        "jupiter import-wfcommons /work/shared/workflows/montage-chameleon-"
        "2mass-005d-001.json montage"
    )
    main(argv[1:])
    assert capsys.readouterr().out.splitlines() == printed
    argv, printed = shown(
        "jupiter import-wfcommons /work/shared/workflows/montage-chameleon-"
        "2mass-005d-001.json --problem"
    )
    main(argv[1:])
    assert capsys.readouterr().out.splitlines() == printed
