"""The execution profiler costs a run as the executor will (cluster/compute.py): the CPU a task
used times its node's stretch, never less than its wall time. A wait is not stretched."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from profiler_scenarios import write_app, write_cluster

from jupiter.app.runner import TaskRunner
from jupiter.app.spec import load_app
from jupiter.circe.monitor import Monitor
from jupiter.cluster.spec import load_cluster
from jupiter.profiler.execution import ExecutionProfiler

TWO_NODES = """
nodes:
  - {name: quick, region: ra, speed: 1.0}
  - {name: slow, region: ra, speed: 0.25}
regions: [{key: ra}]
links:
  - {from: ra, to: ra, rtt_ms: 1, bandwidth_mbps: 800}
"""


async def profiled_on(node: str, app_root: Path, cluster_file: Path, scratch: Path) -> dict:
    app = load_app(app_root)
    cluster = load_cluster(cluster_file)
    async with TaskRunner(app) as runner:
        profiler = ExecutionProfiler(
            node, app, cluster, runner, Monitor(node), scratch, max_body_bytes=1 << 20
        )
        # The chain's output of `load`, as the home shares it before `run_all`.
        (scratch / "samples").mkdir(parents=True, exist_ok=True)
        (scratch / "outputs").mkdir(parents=True, exist_ok=True)
        (scratch / "samples" / "load").write_bytes(b"x" * 100)
        figures = await profiler.run_all(repeats=1)
    return figures["profiled"]


@pytest.mark.e2e
def test_compute_is_stretched_and_a_wait_is_not(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"load": [], "nap": ["load"]})
    cluster = write_cluster(tmp_path / "cluster.yaml", TWO_NODES)
    quick = asyncio.run(profiled_on("quick", app, cluster, tmp_path / "quick"))
    slow = asyncio.run(profiled_on("slow", app, cluster, tmp_path / "slow"))
    # `load` spins 20 ms of CPU: four times that on the quarter-speed node.
    assert slow["load"]["seconds"] >= 4 * 0.02 * 0.95
    assert quick["load"]["seconds"] >= 0.02 * 0.95
    # `nap` sleeps 0.2 s on its CPU budget of nearly nothing: the same on both nodes, not the
    # 0.8 s a stretched wall time would make it on `slow`.
    assert 0.19 <= slow["nap"]["seconds"] < 0.5
    assert 0.19 <= quick["nap"]["seconds"] < 0.5
