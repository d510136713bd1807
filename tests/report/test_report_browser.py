"""report.html in a real browser: a real run of the demo (examples/anomaly-detection) writes
it, headless Chromium loads it (DevTools protocol, tests/report/headless_chromium.py), and the
drawings are there, drawn (non-zero size), with no console error. The same run's terminal
summary says where each task ran, why measured differs from predicted, and the app's verdict.

Skipped, saying so, where no Chromium is installed (Debian: `apt-get install chromium`;
.ci/run installs it when it can).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.report.headless_chromium import find_chromium, load

from jupiter.report.model import load_report

# Starts real agents through `jupiter run`.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "examples" / "anomaly-detection"
BROWSER = find_chromium()
needs_chromium = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on PATH (apt-get install chromium) to load report.html"
)

# What the page holds once loaded, measured by the browser's own layout.
SURVEY = """JSON.stringify({
  tasks: [...document.querySelectorAll('svg.dag .dag-task')].map(e => e.dataset.task),
  edges: document.querySelectorAll('svg.dag .dag-edge').length,
  dagSize: (b => [b.width, b.height])(document.querySelector('svg.dag').getBBox()),
  predicted: [...document.querySelectorAll('svg.comparison g.lane-predicted')]
    .map(g => [g.dataset.node, g.querySelectorAll('rect.sched-predicted').length]),
  measured: [...document.querySelectorAll('svg.comparison g.lane-measured')]
    .map(g => [g.dataset.node, g.querySelectorAll('rect.sched-measured').length]),
  timeline: document.querySelectorAll('svg.timeline rect').length,
  breakdown: document.querySelectorAll('svg.breakdown rect').length,
  legend: [...document.querySelector('ul.legend[data-by]').children].map(li => li.dataset.key),
  titles: [...document.querySelectorAll('svg.dag .dag-task title')].map(t => t.textContent),
})"""


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo run as a user runs it, on an 80-column terminal: (report dir, stdout)."""
    base = tmp_path_factory.mktemp("demo")
    report_dir = base / "r"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "jupiter", "run", str(DEMO), "--nodes", "8", "--inputs", "3"),
            *("--no-profile", "--out", str(base / "out"), "--report", str(report_dir)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "80", "TERM": "dumb"},
    )
    assert done.returncode == 0, done.stderr
    return report_dir, done.stdout


def survey(page: Path, profile: Path) -> tuple[dict[str, object], list[str]]:
    assert BROWSER is not None
    loaded = asyncio.run(load(BROWSER, page, SURVEY, profile))
    return json.loads(loaded.value), loaded.errors


@needs_chromium
def test_the_demo_report_draws_its_dag_and_both_schedules_without_errors(
    demo_run: tuple[Path, str], tmp_path: Path
) -> None:
    report_dir, _ = demo_run
    report = load_report(report_dir / "report.json")
    page, errors = survey(report_dir / "report.html", tmp_path / "profile")
    assert errors == []
    # Every task and source of the DAG is drawn, once, with its edges.
    assert sorted(page["tasks"]) == sorted(report.mapping)  # type: ignore[arg-type]
    assert report.dag is not None
    assert page["edges"] == sum(len(parents) for parents in report.dag.values())
    width, height = page["dagSize"]  # type: ignore[misc]
    assert width > 100 and height > 20
    # A task's name and node are on hover.
    assert f"merge on {report.mapping['merge']}" in page["titles"]  # type: ignore[operator]
    # Both schedules have a lane for every node that was planned a task, with its tasks.
    sources = set(report.sources)
    planned: dict[str, int] = {}
    for run in report.predicted_schedule:
        if run.task not in sources:
            planned[run.node] = planned.get(run.node, 0) + 1
    assert dict(page["predicted"]) == planned  # type: ignore[call-overload]
    ran: dict[str, int] = {}
    for record in report.stats:
        if record.input_id == 0 and record.task not in sources:
            ran[record.node] = ran.get(record.node, 0) + 1
    assert dict(page["measured"]) == ran  # type: ignore[call-overload]
    assert page["timeline"] >= 3 * len(report.mapping) - 3 * len(sources)  # type: ignore[operator]
    assert page["breakdown"] > 0  # type: ignore[operator]
    # A colour for each node the mapping used, in the legend once; the other nodes under one.
    used = set(report.mapping.values())
    assert page["legend"] == [n.name for n in report.nodes if n.name in used] + ["not used"]


@needs_chromium
def test_the_browser_check_sees_a_console_error(tmp_path: Path) -> None:
    # The check above could pass by not listening: a page that does err must be caught.
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><body><svg class='dag'></svg>"
        "<script>console.error('drawn wrong'); undefinedFunction();</script></body></html>"
    )
    assert BROWSER is not None
    loaded = asyncio.run(load(BROWSER, page, "document.querySelectorAll('svg').length", tmp_path))
    assert loaded.value == 1
    assert any("drawn wrong" in e for e in loaded.errors)
    assert any("undefinedFunction" in e for e in loaded.errors)


def test_the_demo_summary_fits_80_columns_and_explains_the_run(
    demo_run: tuple[Path, str],
) -> None:
    report_dir, out = demo_run
    lines = out.splitlines()
    # The paths of this test's temp dir may be longer than any terminal; the rest must fit.
    long = [line for line in lines if len(line) > 80 and str(report_dir) not in line]
    assert long == []
    text = "\n".join(lines)
    # Where each task ran: the sources are pinned to their sites (app.yaml).
    assert "mapping (13 tasks and sources on " in text
    site_lines = [line.strip() for line in lines if line.startswith("  n0")]
    assert any(line.startswith("n00: ") and "oregon" in line for line in site_lines)
    assert any(line.startswith("n05: ") and "frankfurt" in line for line in site_lines)
    assert any(line.startswith("n06: ") and "singapore" in line for line in site_lines)
    # Measured against predicted, the cause, and where to look.
    assert any(line.startswith("makespan: ") and "predicted" in line for line in lines)
    why = [line for line in lines if line.startswith("why: ")]
    assert len(why) == 1
    # A cause comes with where to look; a run within the prediction's margin has none.
    if "within" not in why[0]:
        assert any(line.startswith("see: ") and "report.html" in line for line in lines)
    # The app's own result, from merge's JSON: every sample holds anomalies (make_samples.py).
    verdicts = {
        json.loads(Path(path).read_text())["verdict"]
        for entry in load_report(report_dir / "report.json").inputs
        for path in entry.outputs.values()
        if path is not None
    }
    assert verdicts == {"alert"}
    assert "result (merge verdict): alert for inputs 0-2" in lines
