"""The corpus of bad cluster files (tests/cluster/bad_specs/CASE/cluster.yaml): `jupiter run
--cluster` on each ends in one line naming the file and the field, exit 2, nothing started.
Each case's expected.txt is that line after the file name."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from jupiter.cli import main

BAD_SPECS = Path(__file__).parent / "bad_specs"
CASES = sorted(p.parent.name for p in BAD_SPECS.glob("*/expected.txt"))
APP = Path(__file__).parents[2] / "examples" / "diamond"


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 30
    # The cases the hardening was for: control characters, deep nesting, values outside
    # physical sense, silently coerced types.
    for case in ("nul_character", "deep_nesting", "bandwidth_1e308", "emulate_yes_string"):
        assert case in CASES


@pytest.mark.parametrize("case", CASES)
def test_bad_cluster_file_is_one_line_naming_file_and_field(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = BAD_SPECS / case / "cluster.yaml"
    expected = (BAD_SPECS / case / "expected.txt").read_text().rstrip("\n")
    children_before = psutil.Process().children(recursive=True)
    with pytest.raises(SystemExit) as exited:
        # --dry-run: were the file ever accepted, still nothing would start.
        main(["run", str(APP), "--cluster", str(cluster), "--no-config", "--dry-run"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"error: {cluster}: {expected}"]
    assert psutil.Process().children(recursive=True) == children_before
