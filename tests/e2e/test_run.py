"""End-to-end runs with real agent processes on the emulated cluster."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from jupiter.backends.local import LocalBackend
from jupiter.cli import main
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, run
from jupiter.errors import RunError

from .apps import diamond, expected_outputs, layered, write_dag_app


def check_outputs(app_root: Path, result_outputs: dict[int, dict[str, str]], inputs: int) -> None:
    assert sorted(result_outputs) == list(range(inputs))
    for input_id in range(inputs):
        expected = expected_outputs(app_root, input_id)
        got = {task: Path(path).read_text() for task, path in result_outputs[input_id].items()}
        assert got == expected, f"input {input_id}"


def test_diamond_on_8_nodes_with_10_inputs(tmp_path: Path) -> None:
    app = diamond(tmp_path / "diamond")
    options = RunOptions(
        backend=LocalBackend(),
        app=app,
        cluster=Cluster.default(8),
        inputs=10,
        out_dir=tmp_path / "out",
    )
    result = asyncio.run(run(options))
    check_outputs(app, result.outputs, 10)
    assert result.duplicates == []
    # Every (task, input) ran once, with its timeline complete and in order.
    ran = [r for r in result.stats if r["task"] in {"a", "b", "c", "d"}]
    assert sorted((r["task"], r["input_id"]) for r in ran) == sorted(
        (t, k) for t in "abcd" for k in range(10)
    )
    for record in ran:
        assert record["enter"] <= record["ready"] <= record["start"] <= record["finish"]
        assert record["node"] == result.schedule.mapping[record["task"]]
    assert all(span > 0 for span in result.makespans.values())


def test_thirty_task_app_through_the_cli_writes_the_report(tmp_path: Path) -> None:
    app = layered(tmp_path / "thirty", 30)
    out, report_dir = tmp_path / "out", tmp_path / "report"
    main(
        [
            "run",
            str(app),
            "--nodes",
            "8",
            "--inputs",
            "10",
            "--out",
            str(out),
            "--report",
            str(report_dir),
            "--quiet",
        ]
    )
    report = json.loads((report_dir / "report.json").read_text())
    outputs = {entry["id"]: entry["outputs"] for entry in report["inputs"]}
    check_outputs(app, outputs, 10)
    assert sorted(report["phases"]) == sorted(
        ["deploy", "profile", "map", "dispatch", "stream", "teardown"]
    )
    assert report["predicted_makespan"] > 0
    rate = report["throughput"]
    first_in = min(entry["injected_at"] for entry in report["inputs"])
    last_out = max(entry["completed_at"] for entry in report["inputs"])
    assert rate["inputs"] == 10
    assert rate["seconds"] == pytest.approx(last_out - first_in)
    assert rate["per_second"] == pytest.approx(10 / rate["seconds"])
    assert 0 < rate["median_completion_gap"] <= rate["seconds"]
    assert len(report["stats"]) == 10 * (30 + 2)  # tasks plus the two sources
    assert report["duplicates"] == []
    assert set(report["mapping"].values()) <= {n["name"] for n in report["nodes"]}
    # Outputs land in OUT/<input id>/<exit task>.
    assert (out / "0").is_dir()
    # The page a person opens: one Gantt bar per task run, the mapping, the inputs.
    page = (report_dir / "report.html").read_text()
    assert page.count("<rect ") >= 10 * 30
    assert all(f"<td>{task}</td>" in page for task in report["mapping"])
    assert f"{rate['per_second']:.2f} inputs/s" in page


def test_demo_runs_the_bundled_app_from_any_folder(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    main(["demo", "--inputs", "3"])
    report = json.loads((tmp_path / "jupiter-report" / "report.json").read_text())
    assert report["app"] == "anomaly-detection"
    assert len(report["nodes"]) == 8
    merged = json.loads((tmp_path / "jupiter-out" / "0" / "merge").read_text())
    assert merged  # the merged anomaly report of the first input
    printed = capsys.readouterr().out
    assert "predicted" in printed
    assert f"{report['throughput']['per_second']:.2f}/s" in printed


def test_failing_task_fails_the_run_with_its_stderr(tmp_path: Path) -> None:
    broken = "\n\ndef explode(inputs, output):\n    raise ValueError('sensor offline')\n"
    app = write_dag_app(
        tmp_path / "broken", {"a": [], "explode": ["a"]}, {"input": ["a"]}, extra_code=broken
    )
    # Drop the generated `explode`, which would otherwise shadow the broken one.
    code = (app / "tasks.py").read_text()
    code = code.replace("def explode(inputs, output):\n    mix('explode', inputs, output)\n", "")
    (app / "tasks.py").write_text(code)
    # Without profiling, which would meet the failure first (see tests/profiler).
    options = RunOptions(
        backend=LocalBackend(),
        app=app,
        cluster=Cluster.default(4),
        inputs=3,
        timeout=60,
        profiling=False,
    )
    with pytest.raises(
        RunError, match=r"(?s)task 'explode' failed on node n\d+ for input \d: .*sensor offline"
    ):
        asyncio.run(run(options))
