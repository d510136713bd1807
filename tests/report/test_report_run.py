"""A real run's report.json: valid under the model and the published schema, and right."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from jupiter.cli import main
from jupiter.report.model import load_report

# Starts real agents through `jupiter run` (tests/conftest.py).
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
DIAMOND = ROOT / "examples" / "diamond"
SCHEMA = ROOT / "docs" / "report.schema.json"


def expected_d(sample: Path) -> str:
    # d = (x + 1)(x + 3) for every integer x of the sample (examples/diamond/app.yaml).
    return "".join(f"{(x + 1) * (x + 3)}\n" for x in map(int, sample.read_text().split()))


@pytest.mark.parametrize("profiling", [False, True], ids=["declared-estimates", "profiled"])
def test_a_diamond_run_writes_a_report_that_meets_the_contract(
    tmp_path: Path, profiling: bool
) -> None:
    report_dir, out = tmp_path / "report", tmp_path / "out"
    args = ["run", str(DIAMOND), "--nodes", "3", "--inputs", "2", "--quiet"]
    args += ["--out", str(out), "--report", str(report_dir)]
    main([*args, *([] if profiling else ["--no-profile"])])  # exits non-zero on failure
    path = report_dir / "report.json"
    report = load_report(path)
    jsonschema.validate(json.loads(path.read_text()), json.loads(SCHEMA.read_text()))
    assert report.to_json() == path.read_text()  # nothing lost or reordered on the way
    assert (report.app, report.mapper, report.sources) == ("diamond", "heft", ["numbers"])
    assert [n.name for n in report.nodes] == ["n00", "n01", "n02"]
    assert report.backend is None and report.kubernetes is None
    samples = sorted((DIAMOND / "samples").glob("*.txt"))
    assert [i.id for i in report.inputs] == [0, 1]
    for entry in report.inputs:
        assert entry.makespan == pytest.approx(entry.completed_at - entry.injected_at)
        d = entry.outputs["d"]
        assert d is not None and Path(d).read_text() == expected_d(samples[entry.id])
    spans = [i.makespan for i in report.inputs]
    assert report.makespan.min == min(spans) and report.makespan.max == max(spans)
    assert report.throughput.inputs == 2
    assert list(report.phases) == ["deploy", "profile", "map", "dispatch", "stream", "teardown"]
    # One record per task and source for each input, every one on its mapped node.
    assert sorted((s.task, s.input_id) for s in report.stats) == sorted(
        (t, k) for t in ("numbers", "a", "b", "c", "d") for k in (0, 1)
    )
    assert all(s.node == report.mapping[s.task] and s.failed is None for s in report.stats)
    assert {a.task for a in report.predicted_schedule} == set(report.mapping)
    if profiling:
        assert report.profile is not None and report.profile.nodes == ["n00", "n01", "n02"]
        assert all(e.profiled is not None for e in report.execution.values())
    else:
        assert report.profile is None
        assert all(e.profiled is None for e in report.execution.values())
    assert set(report.execution) == {"a", "b", "c", "d"}
    assert (report_dir / "report.html").is_file()
