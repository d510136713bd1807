"""`jupiter experiment table1`: the paper's Table 1 as a command. The quick mode runs as a user
runs it, a real process with real agents, and its CSV, page and picture are checked against
the reports of the runs they came from."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from jupiter.cli import main
from jupiter.experiment.table1_files import CSV_COLUMNS, MD_COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def jupiter_command() -> list[str]:
    """The `jupiter` script of this interpreter's environment (as a user types it)."""
    script = Path(sys.executable).parent / "jupiter"
    return [str(script)] if script.exists() else [sys.executable, "-m", "jupiter"]


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_quick_table1_writes_csv_md_png_and_the_runs_reports(
    tmp_path: Path, no_agent_survives: None
) -> None:
    out = tmp_path / "table1"
    done = subprocess.run(
        [*jupiter_command(), "experiment", "table1", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out / 'table1.csv'}" in done.stdout

    with (out / "table1.csv").open(newline="") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert [(r["tasks"], r["depth"], r["nodes"], r["inputs"]) for r in rows] == [
        ("10", "2", "8", "2"),
        ("20", "2", "8", "2"),
    ]
    for row in rows:
        assert row["status"] == "completed" and row["error"] == ""
        assert row["report"] == f"runs/M{row['tasks']}"
        report = json.loads((out / row["report"] / "report.json").read_text())
        assert (out / row["report"] / "report.html").is_file()
        # Each figure is the run's own: its phase timer and its profiler's timings.
        phases, timings = report["phases"], report["profile"]["timings"]
        expected = {
            "profiler_deploy_s": phases["deploy"],
            "network_profile_s": timings["network"],
            "execution_profile_s": timings["execution"],
            "profile_s": phases["profile"],
            "mapping_s": phases["map"],
            "executor_deploy_s": phases["dispatch"],
            "makespan_s": report["makespan"]["mean"],
            "stream_s": phases["stream"],
            "teardown_s": phases["teardown"],
            "whole_run_s": sum(phases.values()),
        }
        for column, value in expected.items():
            assert float(row[column]) == pytest.approx(value, abs=1e-4), column
            assert value > 0, column
        lost = {node for epoch in report["recovery"]["epochs"] for node in epoch["lost"]}
        assert int(row["agents_lost"]) == len(lost)
        assert float(row["host_load"]) >= 0
        assert len(report["inputs"]) == 2
        assert len(report["mapping"]) == int(row["tasks"]) + 1  # the tasks and the source
        # The profile is taken in parts of the profile phase.
        assert timings["network"] + timings["execution"] <= phases["profile"]

    page = (out / "table1.md").read_text()
    header = "| " + " | ".join(MD_COLUMNS) + " |"
    assert header in page
    for tasks in ("10", "20"):
        assert any(line.startswith(f"| {tasks} | 2 | 8 | 2 | ") for line in page.splitlines())
    for fact in ("- date: ", f"- machine: {os.cpu_count()} cores", "- Jupiter: "):
        assert fact in page
    assert "--tasks 10,20 --nodes 8 --inputs 2" in page
    assert "Not compared: its figures are for 106 nodes, 10 inputs" in page

    if importlib.util.find_spec("matplotlib") is None:
        assert "no table1.png: matplotlib is not installed" in done.stdout
        assert not (out / "table1.png").exists()
        pytest.skip("matplotlib is not installed: table1.png is not drawn (the plot extra)")
    assert (out / "table1.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--tasks", "0"], "error: --tasks: must be at least 1, got 0"),
        (["--tasks", "30,x"], "error: --tasks: must be a whole number, got 'x'"),
        (["--tasks", "30,30"], "error: --tasks: each M once, got [30, 30]"),
        (["--tasks", "3"], "error: --tasks: 3 tasks cannot fill 2 levels of 2..15 tasks"),
        (["--nodes", "0"], "error: --nodes: must be at least 1, got 0"),
        (["--nodes", "many"], "error: --nodes: must be a whole number, got 'many'"),
        (["--nodes", "5000"], "error: --nodes: must be 1..1024, got 5000"),
        (["--inputs", "-2"], "error: --inputs: must be at least 1, got -2"),
        (["--inputs", "1.5"], "error: --inputs: must be a whole number, got '1.5'"),
    ],
)
def test_a_bad_option_is_one_line_and_starts_nothing(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = psutil.Process().children(recursive=True)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        main(["experiment", "table1", "--quick", "--out", str(out), *flags])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert psutil.Process().children(recursive=True) == before
    assert not out.exists()


def test_an_earlier_experiment_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "table1.csv").write_text("tasks\n")
    with pytest.raises(SystemExit) as exited:
        main(["experiment", "table1", "--quick", "--out", str(out)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out}: holds an earlier experiment's results; pass --force"
    ]
    assert (out / "table1.csv").read_text() == "tasks\n"


def test_force_never_empties_a_folder_of_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "table1.csv").write_text("tasks\n")
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(SystemExit) as exited:
        main(["experiment", "table1", "--quick", "--out", str(out), "--force"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out}: holds other files (notes.txt, ...); choose an empty --out"
    ]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "table1.csv"]
