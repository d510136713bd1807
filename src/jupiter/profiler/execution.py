"""The execution profiler on one agent: each task run on the sample inputs, timed.

A task with parents needs their outputs as its inputs, so one node first runs the whole DAG
on sample input 0 (`chain`) and shares the intermediate outputs (`share`); then every node
runs every task on them (`run_all`). A run's time is what the executor makes it cost there
(cluster/compute.py: the task's CPU time times the node's stretch, never less than its wall
time); the profiler records that figure rather than sleeping it out, since waiting would only
lengthen profiling. CPU time, not wall time, is stretched: every node profiles at once on
the host's few cores, and a stretched wall time would multiply that contention into the
figure.

During a run, the executor's monitor records how long tasks really took on this node; the
figures reported here put the two side by side.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from jupiter.api import paths
from jupiter.app.runner import TaskRunner
from jupiter.app.spec import App
from jupiter.circe.monitor import Monitor
from jupiter.circe.transfer import receive_file, send_file
from jupiter.cluster.compute import emulated_compute
from jupiter.cluster.emulator import LinkEmulator
from jupiter.cluster.spec import Cluster

log = logging.getLogger(__name__)

SAMPLE_INPUT_ID = 0
DEFAULT_REPEATS = 3
# Timed runs of one task stop early once they add up to this much wall time.
DEFAULT_BUDGET_S = 0.5


class ExecutionProfiler:
    def __init__(
        self,
        node: str,
        app: App,
        cluster: Cluster,
        runner: TaskRunner,
        monitor: Monitor,
        scratch: Path,
        max_body_bytes: int,
    ) -> None:
        self.node = node
        self.app = app
        self.runner = runner
        self.monitor = monitor
        self.samples = scratch / "samples"
        self.outputs = scratch / "outputs"
        self.max_body_bytes = max_body_bytes
        self.stretch = cluster.stretch(node) if cluster.emulate else 1.0
        # task -> timed wall seconds of each run, and the output size of the last one.
        self.walls: dict[str, list[float]] = {}
        # task -> what each timed run costs on this emulated node (cluster/compute.py).
        self.costs: dict[str, list[float]] = {}
        self.output_bytes: dict[str, int] = {}
        # The task being run now, so that the home can name the one that hangs.
        self.running: str | None = None
        self._lock = asyncio.Lock()

    # -- producing and sharing the sample intermediates ------------------------------------

    async def chain(self, input_id: int = SAMPLE_INPUT_ID) -> dict[str, Any]:
        """Run the DAG once, here, on one sample input; keep every output as a sample."""
        async with self._lock:
            await self._warm_up()
            sizes: dict[str, int] = {}
            seconds: dict[str, float] = {}
            for task in self.app.topological_order():
                output = self.samples / task
                began = time.perf_counter()
                await self._run(task, self._inputs(task, input_id), output)
                seconds[task] = time.perf_counter() - began
                sizes[task] = output.stat().st_size
            return {
                "node": self.node,
                "input_id": input_id,
                "output_bytes": sizes,
                "wall_seconds": seconds,
            }

    async def share(
        self,
        peers: dict[str, str],
        session: aiohttp.ClientSession,
        auth: dict[str, str],
        concurrency: int,
    ) -> int:
        """Send the sample outputs that some task consumes to every peer; returns files sent."""
        needed = [task for task in self.app.topological_order() if self.app.downstream(task)]
        missing = [task for task in needed if not (self.samples / task).is_file()]
        if missing:
            raise LookupError(f"no sample output of {missing}: run the chain first")
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str, task: str) -> None:
            async with gate:
                # Setting the stage, not a measurement: no link emulation to wait out.
                await send_file(
                    session,
                    url + paths.fill(paths.PROFILER_EXECUTION_SAMPLE, task=task),
                    self.samples / task,
                    LinkEmulator(None),
                    auth,
                )

        jobs = [
            one(url, task) for peer, url in peers.items() if peer != self.node for task in needed
        ]
        await asyncio.gather(*jobs)
        return len(jobs)

    async def receive_sample(self, request: web.Request, task: str) -> int:
        if task not in self.app.tasks:
            raise web.HTTPNotFound(text=f"unknown task {task!r}")
        return await receive_file(request, self.samples / task, self.max_body_bytes)

    # -- timing every task here ------------------------------------------------------------

    async def run_all(
        self, repeats: int = DEFAULT_REPEATS, budget: float = DEFAULT_BUDGET_S
    ) -> dict[str, Any]:
        """Run every task on the sample inputs: a warm-up, then up to `repeats` timed runs."""
        async with self._lock:
            inputs = {task: self._inputs(task, SAMPLE_INPUT_ID) for task in self.app.tasks}
            await self._warm_up()
            order = self.app.topological_order()
            warmed: set[str] = set()
            for task in order:
                spec = self.app.tasks[task]
                # A Python file's first call pays its imports; only a command has nothing
                # to warm. Later tasks from the same file start warm.
                if spec.python_file is not None and spec.python_file not in warmed:
                    await self._run(task, inputs[task], self.outputs / task)
                    warmed.add(spec.python_file)
            walls: dict[str, list[float]] = {task: [] for task in order}
            costs: dict[str, list[float]] = {task: [] for task in order}
            # Round by round, every task once a round in the DAG's order, as a stream runs
            # them: a task timed over and over on its own runs with the caches it just
            # warmed, and a small one measured that way ran 1.4x faster than in the stream.
            for _ in range(repeats):
                for task in order:
                    done = walls[task]
                    if done and sum(done) >= budget:
                        continue
                    began = time.perf_counter()
                    cpu = await self._run(task, inputs[task], self.outputs / task)
                    done.append(time.perf_counter() - began)
                    costs[task].append(emulated_compute(done[-1], cpu, self.stretch))
            for task in order:
                output = self.outputs / task
                self.walls[task] = walls[task]
                self.costs[task] = costs[task]
                self.output_bytes[task] = output.stat().st_size
                log.info(
                    "profiled task %s: %d timed runs, median %.6f s",
                    task,
                    len(walls[task]),
                    statistics.median(walls[task]),
                    extra={"task": task},
                )
                output.unlink(missing_ok=True)
            return self.figures()

    async def _run(self, task: str, inputs: dict[str, Path], output: Path) -> float:
        """One run of `task`; the CPU seconds it used."""
        # The runner applies the task's own `timeout:`: a hung task fails profiling at once.
        self.running = task
        try:
            return await self.runner.run(task, inputs, output)
        finally:
            self.running = None

    async def _warm_up(self) -> None:
        # A Python worker's start-up must not be timed as the first task's run.
        if any(spec.python is not None for spec in self.app.tasks.values()):
            await self.runner.warm_up()

    def _inputs(self, task: str, input_id: int) -> dict[str, Path]:
        inputs: dict[str, Path] = {}
        for name in self.app.upstream(task):
            if name in self.app.sources:
                inputs[name] = self.app.input_for(name, input_id)
            else:
                path = self.samples / name
                if not path.is_file():
                    raise LookupError(
                        f"no sample output of {name!r} on {self.node}: the home must share "
                        "the chain's outputs first"
                    )
                inputs[name] = path
        return inputs

    # -- what this node knows --------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        profiled = {
            task: {
                "seconds": statistics.median(self.costs[task]),
                "runs": len(walls),
                "wall_seconds": walls,
                "output_bytes": self.output_bytes[task],
            }
            for task, walls in self.walls.items()
        }
        durations: dict[str, list[float]] = {}
        for record in self.monitor.snapshot():
            done = record["failed"] is None and record["duration"] is not None
            if done and record["task"] in self.app.tasks:
                durations.setdefault(record["task"], []).append(record["duration"])
        runtime = {
            task: {
                "runs": len(values),
                "median": statistics.median(values),
                "mean": statistics.fmean(values),
                "last": values[-1],
            }
            for task, values in durations.items()
        }
        return {
            "node": self.node,
            "stretch": self.stretch,
            "profiled": profiled,
            "runtime": runtime,
            "running": self.running,
        }
