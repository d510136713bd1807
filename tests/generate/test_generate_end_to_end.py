"""A generated app and an imported trace, run as is on the emulated cluster by real agents."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from generate_helpers import TRACES, check_run_outputs, levels_of

from jupiter.app.generator import GenerateParams, generate_app
from jupiter.app.spec import load_app
from jupiter.app.wfcommons_import import import_trace
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, run

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_agent_survives")]


def test_a_generated_app_runs_as_is(tmp_path: Path) -> None:
    params = GenerateParams(
        tasks=9, depth=3, min_width=2, max_width=4, ccr=0.5, seed=5, time_scale=0.02, sources=2
    )
    generate_app(tmp_path / "app", params)
    options = RunOptions(
        backend=LocalBackend(),
        app=tmp_path / "app",
        cluster=Cluster.default(4),
        inputs=4,
        out_dir=tmp_path / "out",
        timeout=120,
        profiling=False,  # every task declares its estimate
    )
    result = asyncio.run(run(options))
    check_run_outputs(tmp_path / "app", result.outputs, 4)
    app = load_app(tmp_path / "app")
    assert set(result.outputs[0]) == {n for n, v in levels_of(app).items() if v == 2}
    ran = [r for r in result.stats if r["task"] in app.tasks]
    assert len(ran) == 9 * 4
    # Real work: a task cannot finish faster than its CPU budget.
    for record in ran:
        assert record["duration"] >= app.tasks[record["task"]].estimate_seconds * 0.95


def test_an_imported_trace_runs_as_is(tmp_path: Path) -> None:
    trace = next(t for t in TRACES if t.stem.startswith("montage-chameleon-2mass"))
    import_trace(trace, tmp_path / "app", time_scale=0.002)
    options = RunOptions(
        backend=LocalBackend(),
        app=tmp_path / "app",
        cluster=Cluster.default(4),
        inputs=2,
        out_dir=tmp_path / "out",
        timeout=120,
        profiling=False,  # every task declares its estimate
    )
    result = asyncio.run(run(options))
    check_run_outputs(tmp_path / "app", result.outputs, 2)
    assert len(result.outputs[0]) == len(load_app(tmp_path / "app").exits)
