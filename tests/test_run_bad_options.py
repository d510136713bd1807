"""`jupiter run` options out of range: one line naming the flag, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from jupiter.cli import main

EXAMPLE = Path(__file__).parents[1] / "examples" / "diamond"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--max-in-flight", "0"], "error: --max-in-flight: input should be greater than or"),
        (["--interval", "-1"], "error: --interval: input should be greater than or equal to 0"),
        (["--timeout", "0"], "error: --timeout: input should be greater than 0"),
        (["--inputs", "0"], "error: --inputs: input should be greater than or equal to 1"),
        (["--nodes", "64000"], "error: --nodes: at most 1024 emulated nodes on one machine"),
    ],
)
def test_an_option_out_of_range_is_one_line(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = psutil.Process().children(recursive=True)
    with pytest.raises(SystemExit) as exited:
        main(["run", str(EXAMPLE), "--out", str(tmp_path / "out"), *flags])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert psutil.Process().children(recursive=True) == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
