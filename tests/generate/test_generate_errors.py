"""Bad options: one line naming the option, exit status 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jupiter.cli import main

GOOD = {
    "--tasks": "10",
    "--depth": "3",
    "--min-width": "2",
    "--max-width": "4",
    "--ccr": "0.5",
    "--seed": "1",
    "--time-scale": "0.01",
}


def generate(out: Path, *extra: str, **changes: str) -> list[str]:
    options = {**GOOD, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
    return ["generate-app", str(out), *(x for pair in options.items() for x in pair), *extra]


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize(
    ("changes", "option", "words"),
    [
        ({"depth": "11"}, "--depth", "11 levels need at least 11 tasks"),
        ({"min_width": "5", "max_width": "4"}, "--min-width", "5 is above --max-width 4"),
        ({"tasks": "5"}, "--tasks", "5 tasks cannot fill 3 levels of 2..4"),
        ({"tasks": "13"}, "--tasks", "that takes 6..12"),
        ({"tasks": "0"}, "--tasks", "must be at least 1, got 0"),
        ({"depth": "0"}, "--depth", "must be at least 1, got 0"),
        ({"min_width": "-1"}, "--min-width", "must be at least 1"),
        ({"max_width": "0"}, "--max-width", "must be at least 1"),
        ({"sources": "0"}, "--sources", "must be at least 1"),
        ({"tasks": "100001"}, "--tasks", "at most 100000, got 100001"),
        ({"sources": "1001"}, "--sources", "at most 1000"),
        ({"ccr": "0"}, "--ccr", "must be a positive number"),
        ({"ccr": "-2"}, "--ccr", "must be a positive number"),
        ({"ccr": "nan"}, "--ccr", "must be a positive number"),
        ({"ccr": "1e7"}, "--ccr", "makes outputs of up to"),
        ({"time_scale": "0"}, "--time-scale", "must be a positive number"),
    ],
)
def test_out_of_range_options(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, str],
    option: str,
    words: str,
) -> None:
    out = tmp_path / "app"
    line = fails(generate(out, **changes), capsys)
    assert line.startswith(f"error: {option}: ")
    assert words in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_folder_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "app"
    main(generate(out, seed="1"))
    before = (out / "app.yaml").read_bytes()
    line = fails(generate(out, seed="2"), capsys)
    assert line == f"error: {out}: folder is not empty; pass --force to replace it"
    assert (out / "app.yaml").read_bytes() == before

    (out / "stale.txt").write_text("from an earlier app")
    main(generate(out, "--force", seed="2"))
    assert (out / "app.yaml").read_bytes() != before
    assert not (out / "stale.txt").exists()  # replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app"]  # no staging folder left


def test_an_empty_folder_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "app"
    out.mkdir()
    main(generate(out))
    assert (out / "app.yaml").is_file()


def test_force_never_replaces_a_folder_that_is_not_an_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    line = fails(generate(out, "--force"), capsys)
    assert "holds no app.yaml; refusing to replace it" in line
    assert (out / "thesis.tex").read_text() == "precious"


def test_every_option_has_the_papers_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no option, the paper's dummy app: 30 tasks in 3 levels of 2 to 15, CCR 0.5."""
    main(["generate-app", str(tmp_path / "app")])
    spec = yaml.safe_load((tmp_path / "app" / "app.yaml").read_text())
    assert len(spec["tasks"]) == 30
    # --depth defaults to tasks / 10: --tasks 50 gets 5 levels.
    main(["generate-app", str(tmp_path / "big"), "--tasks", "50"])
    assert "50 tasks in 5 levels" in capsys.readouterr().out
