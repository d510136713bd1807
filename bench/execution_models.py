"""Execution models benchmark: `python bench/execution_models.py` prints, for execution model
1 (`all`: an executor on every node) and 2 (`mapped`: executors only on the nodes the
mapping uses), at 16 and 106 emulated nodes:

- deploy time: the deploy phase (every agent started and registered: the same in both, as
  every node runs its profiler) and the dispatch phase (model 2: executors started on the
  mapped nodes and stopped on the others, then the mapping pushed to the running ones);
- memory: the PSS and RSS of every agent process and its task workers, sampled mid-stream
  (PSS shares each page among the processes that map it: agents forked from one launcher
  share most of theirs, so PSS is what they cost together);
- executors and task workers alive mid-stream, from every agent's GET /circe/role.

Target: model 2 holds less memory than model 1 (its unused nodes keep no task worker) and
deploys in about the same time. Real agent processes; the run profiles task execution on
every node (network probing off, to keep 106 nodes short), which leaves a warm task worker
on each, as a run does; every output is checked against the same inputs' outputs under
model 1.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunContext, RunOptions, RunResult, run
from jupiter.logs import configure
from jupiter.planning.settings import ExecutionModel
from jupiter.profiler.home import ProfileSettings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "anomaly-detection"
MIB = 1024 * 1024
INTERVAL_S = 0.25
HEARTBEAT_TIMEOUT_S = 30.0


@dataclass
class Memory:
    pss: int = 0
    rss: int = 0
    agents: int = 0
    workers: int = 0
    executors: int = 0


@dataclass
class Figures:
    model: ExecutionModel
    nodes: int
    deploy_s: float
    dispatch_s: float
    memory: Memory
    mean_makespan: float
    outputs: dict[int, dict[str, bytes]]


def _memory_of(pids: list[int]) -> Memory:
    memory = Memory()
    for pid in pids:
        try:
            agent = psutil.Process(pid)
            processes = [agent, *agent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        memory.agents += 1
        for process in processes:
            try:
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            memory.pss += info.pss
            memory.rss += info.rss
            memory.workers += process.pid != pid
    return memory


def _sampler(sampled: list[Memory]):  # type: ignore[no-untyped-def]
    async def sample(context: RunContext) -> None:
        # Mid-stream: the first input is through, the executors have started their workers.
        while not context.state.deliveries.done(0):
            await asyncio.sleep(0.05)
        pids = list(context.state.registry.pids.values())
        memory = await asyncio.to_thread(_memory_of, pids)
        agents = context.agents()
        roles = await asyncio.gather(*(agents.role(node) for node in agents.urls))
        memory.executors = sum(role.running for role in roles)
        sampled.append(memory)

    return sample


def example_for(cluster: Cluster, scratch: Path) -> Path:
    """The example, its sources pinned to the same regions' nodes of this cluster (past 100
    nodes the names have three digits)."""
    app = scratch / f"app-{len(cluster.nodes)}"
    if not app.exists():
        shutil.copytree(EXAMPLE, app)
        spec = app / "app.yaml"
        text = spec.read_text()
        for index in (0, 5, 6):
            text = text.replace(f"node: n{index:02d}", f"node: {cluster.node_names[index]}")
        spec.write_text(text)
    return app


def measure(model: ExecutionModel, nodes: int, inputs: int, scratch: Path) -> Figures:
    sampled: list[Memory] = []
    cluster = Cluster.default(nodes)
    options = RunOptions(
        app=example_for(cluster, scratch),
        cluster=cluster,
        backend=LocalBackend(),
        inputs=inputs,
        # Paced, so that the stream outlasts reading the memory of 100+ processes.
        interval=INTERVAL_S,
        max_in_flight=2,
        profiling=True,
        profile_settings=ProfileSettings(network=False),
        timeout=900,
        out_dir=scratch / f"{model}-{nodes}",
        execution_model=model,
        on_stream=_sampler(sampled),
        # 100+ agents on a shared machine: a heartbeat may come late without the agent dying.
        heartbeat_timeout=HEARTBEAT_TIMEOUT_S,
    )
    result: RunResult = asyncio.run(run(options))
    if not sampled:
        raise SystemExit(f"{model} at {nodes} nodes: the stream ended before it was sampled")
    outputs = {
        k: {task: Path(path).read_bytes() for task, path in by_task.items()}
        for k, by_task in result.outputs.items()
    }
    return Figures(
        model=model,
        nodes=nodes,
        deploy_s=result.phases["deploy"],
        dispatch_s=result.phases["dispatch"],
        memory=sampled[0],
        mean_makespan=statistics.fmean(result.makespans.values()),
        outputs=outputs,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[16, 106])
    parser.add_argument("--inputs", type=int, default=40)
    args = parser.parse_args()
    configure("error")
    console = Console(width=150)
    table = Table(title="execution models: model 1 (all) against model 2 (mapped)")
    for column in (
        "nodes",
        "model",
        "deploy (s)",
        "dispatch (s)",
        "executors",
        "task workers",
        "PSS (MiB)",
        "RSS (MiB)",
        "mean makespan (s)",
    ):
        table.add_column(column, justify="right")
    verdicts: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-models-") as folder:
        for nodes in args.nodes:
            pair = {m: measure(m, nodes, args.inputs, Path(folder)) for m in ("all", "mapped")}
            for figures in pair.values():
                m = figures.memory
                table.add_row(
                    str(nodes),
                    figures.model,
                    f"{figures.deploy_s:.2f}",
                    f"{figures.dispatch_s:.3f}",
                    f"{m.executors} of {m.agents}",
                    str(m.workers),
                    f"{m.pss / MIB:.0f}",
                    f"{m.rss / MIB:.0f}",
                    f"{figures.mean_makespan:.3f}",
                )
            one, two = pair["all"], pair["mapped"]
            same = one.outputs == two.outputs and sorted(one.outputs) == list(range(args.inputs))
            saved = 1 - two.memory.pss / one.memory.pss
            less = two.memory.pss < one.memory.pss
            ok = ok and same and less
            verdicts.append(
                f"{nodes} nodes: model 2 holds {saved:.0%} less PSS than model 1 "
                f"({(one.memory.pss - two.memory.pss) / MIB:.0f} MiB; target: less) "
                f"{'ok' if less else 'MISSED'}; deploy+dispatch "
                f"{one.deploy_s + one.dispatch_s:.2f} s against "
                f"{two.deploy_s + two.dispatch_s:.2f} s; outputs identical: "
                f"{'yes' if same else 'NO'}"
            )
    console.print(table)
    for line in verdicts:
        console.print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
