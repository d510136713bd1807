"""table1.md and table1.csv from rows: the published figures set beside ours only where the
setup matches, and every figure where the page says it is."""

from __future__ import annotations

import csv
from pathlib import Path

from jupiter.experiment.machine import Machine, cpu_model
from jupiter.experiment.table1 import Table1Row
from jupiter.experiment.table1_files import Provenance, markdown, write_csv

PROVENANCE = Provenance(
    date="2026-11-29 14:00 UTC",
    machine=Machine(
        cores=2, cpu_model="Test CPU", memory_gib=24.0, system="Linux", python="3.11.7"
    ),
    version="0.1.0 (commit abc1234)",
    command="jupiter experiment table1 --tasks 30,100 --nodes 106 --inputs 10",
)


def row(tasks: int, nodes: int = 106, inputs: int = 10, **figures: float) -> Table1Row:
    return Table1Row(
        tasks=tasks, depth=tasks // 10, nodes=nodes, inputs=inputs, status="completed", **figures
    )


def test_ours_beside_the_earlier_measurement_on_the_same_setup() -> None:
    rows = [
        row(30, whole_run_s=71.0, profile_s=66.5, stream_s=3.9, teardown_s=1.1),
        row(100, whole_run_s=300.0),
    ]
    page = markdown(rows, PROVENANCE)
    lines = page.splitlines()
    assert "| 30 | whole run | 71.0 | 142 | 0.50 |" in lines
    assert "| 30 | profile (whole phase) | 66.5 | 133 | 0.50 |" in lines
    assert "| 30 | stream (all inputs) | 3.9 | 3.9 | 1.00 |" in lines
    assert "| 30 | teardown | 1.1 | 2.2 | 0.50 |" in lines
    assert "| 200 | whole run | – | 920 | – |" in lines
    assert "M = 200: not measured in this experiment." in lines
    # The paper's figures are not recorded: the page says so rather than inventing them.
    assert "Not shown: no figures of the paper (WOC '19) are recorded" in page
    for fact in (
        "- date: 2026-11-29 14:00 UTC",
        "- machine: 2 cores (Test CPU), 24.0 GiB, Linux, Python 3.11.7",
        "- Jupiter: 0.1.0 (commit abc1234)",
        "- command: `jupiter experiment table1 --tasks 30,100 --nodes 106 --inputs 10`",
    ):
        assert fact in lines


def test_another_setup_is_not_compared() -> None:
    page = markdown([row(30, nodes=8, inputs=2, whole_run_s=9.0)], PROVENANCE)
    assert "Not compared: its figures are for 106 nodes, 10 inputs; these runs used 8 " in page
    assert "| 30 | whole run |" not in page


def test_a_failed_row_keeps_its_error_and_empty_cells(tmp_path: Path) -> None:
    failed = row(50, profiler_deploy_s=3.25)
    failed.status, failed.error = "failed", "profiling on n07: timed out"
    page = markdown([failed], PROVENANCE)
    assert "| 50 | 5 | 106 | 10 | 3.2 | – | – |" in page
    assert page.count("failed: profiling on n07: timed out") == 1
    with write_csv([failed], tmp_path).open(newline="") as file:
        (written,) = list(csv.DictReader(file))
    assert written["profiler_deploy_s"] == "3.2500"
    assert written["network_profile_s"] == ""
    assert written["error"] == "profiling on n07: timed out"


def test_cpu_model_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n")
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13"
