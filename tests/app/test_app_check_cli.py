"""`jupiter check`: the bad-spec corpus, one line each, exit 2, and nothing started."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from jupiter.app.spec import load_app
from jupiter.cli import main
from jupiter.errors import SpecError

BAD_SPECS = Path(__file__).parent / "bad_specs"
CASES = sorted(p.parent.name for p in BAD_SPECS.glob("*/expected.txt"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_bad_spec_is_one_line_naming_file_and_field(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Work on a copy: if validation ever ran task code, its marker file lands in tmp_path.
    folder = tmp_path / case
    shutil.copytree(BAD_SPECS / case, folder)
    expected = (folder / "expected.txt").read_text().strip()
    children_before = psutil.Process().children(recursive=True)

    with pytest.raises(SystemExit) as exited:
        main(["check", str(folder)])

    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {folder / 'app.yaml'}: "), lines[0]
    assert expected in lines[0]
    assert psutil.Process().children(recursive=True) == children_before
    assert not list(folder.rglob("CODE_WAS_RUN")), "validation executed task code"


@pytest.mark.parametrize("case", CASES)
def test_bad_spec_raises_spec_error_with_the_field(case: str) -> None:
    expected = (BAD_SPECS / case / "expected.txt").read_text().strip()
    with pytest.raises(SpecError) as caught:
        load_app(BAD_SPECS / case)
    error = caught.value
    assert error.file == str(BAD_SPECS / case / "app.yaml")
    field_and_message = f"{error.field}: {error.message}" if error.field else error.message
    assert expected in field_and_message


def test_check_accepts_every_example(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("anomaly-detection", "wordcount-shell", "diamond"):
        main(["check", str(examples / name)])  # returns normally: exit status 0
        out = capsys.readouterr().out
        assert out.startswith(f"ok: {name} ")
        assert "estimates: every task" in out


def test_check_json_is_the_app_dict(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", str(examples / "diamond"), "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == load_app(examples / "diamond").to_dict()


def test_check_as_a_real_command(tmp_path: Path) -> None:
    folder = tmp_path / "unknown_parent"
    shutil.copytree(BAD_SPECS / "unknown_parent", folder)
    result = subprocess.run(
        [sys.executable, "-m", "jupiter", "check", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {folder / 'app.yaml'}: tasks.score.parents[0]: unknown task 'agregate'"
        " (did you mean 'aggregate'?) (line 14)\n"
    )
