"""Execution profiles per hardware class: `python bench/execution_profile.py` prints each
figure beside its target.

On 12 emulated nodes in 3 classes (speeds differ within each class and across them) an app
of 8 CPU-bound tasks (4 to 18 ms of CPU each) is profiled three ways, through the same
agents:

1. every node (`execution_nodes: every-node`): the per-node truth, every task timed on the
   node itself;
2. per class (the default: the slowest and the fastest node of each class), every other
   node's figure its class's scaled by speed;
3. every node again: how far two measurements of the same node apart are, the noise floor
   no estimate can beat on this machine.

It prints the error of every (task, node) figure the per-class profile took from its class
against the per-node truth (target: median within 10%, and no worse than 2x the noise
floor's median), the same for the noise floor, and the timed runs and execution profiling
seconds of each way (target: per-class runs at most classes x 2 / nodes of every-node's).

Everything runs real agent processes on this machine; nothing is simulated. The machine's
two cores are shared by every agent (at most `execution_parallel`, the core count, time at
once), so the figures move with whatever else it is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import yaml

from jupiter.app.spec import App, load_app
from jupiter.backends.agents import local_agents
from jupiter.cluster.spec import Cluster
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile

CLASSES = {
    "cpu-a": [1.0, 0.8, 0.6, 0.45, 0.3],
    "cpu-b": [0.9, 0.7, 0.5, 0.35],
    "gpu": [0.95, 0.65, 0.4],
}
# CPU milliseconds of each task: spread, so that a class's figure is checked across sizes.
TASK_CPU_MS = [4, 6, 8, 10, 12, 14, 16, 18]
TARGET_MEDIAN = 0.10
TARGET_VS_NOISE = 2.0

CODE = """
import time


def spin(inputs, output, ms):
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass
    output.write_bytes(b"".join(path.read_bytes()[:100] for path in inputs.values()) or b"x")
"""


def write_app(root: Path) -> App:
    root.mkdir(parents=True)
    code = CODE + "".join(
        f"\n\ndef t{i}(inputs, output):\n    spin(inputs, output, {ms})\n"
        for i, ms in enumerate(TASK_CPU_MS)
    )
    (root / "tasks.py").write_text(code)
    (root / "samples").mkdir()
    (root / "samples" / "0.bin").write_bytes(b"x" * 500)
    # Two chains of four: a DAG with parents, so the chain and sharing are exercised.
    tasks = {}
    for i in range(len(TASK_CPU_MS)):
        parents = [] if i % 4 == 0 else [f"t{i - 1}"]
        tasks[f"t{i}"] = {"python": f"tasks.py:t{i}", "parents": parents}
    spec = {
        "name": "classes-bench",
        "sources": [{"name": "input", "feeds": ["t0", "t4"], "inputs": ["samples/*.bin"]}],
        "tasks": tasks,
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_app(root)


def three_classes() -> Cluster:
    nodes = [
        {"name": f"{kind}-{i}", "region": "sfo", "speed": speed, "class": kind}
        for kind, speeds in CLASSES.items()
        for i, speed in enumerate(speeds)
    ]
    return Cluster.from_dict({"nodes": nodes})


def errors(estimate: Profile, truth: Profile, only: str | None) -> list[float]:
    """Relative error of each (task, node) figure of `estimate` against `truth`; `only`:
    the figures of that source alone."""
    found = []
    for task, row in estimate.compute.items():
        for node, seconds in row.items():
            if only is None or estimate.source_of(task, node) == only:
                found.append(seconds / truth.compute[task][node] - 1.0)
    return found


def summary(values: list[float]) -> str:
    size = sorted(abs(v) for v in values)
    p95 = size[min(len(size) - 1, round(0.95 * (len(size) - 1)))]
    within = sum(v <= 0.10 for v in size)
    return (
        f"median {statistics.median(size):.1%}, p95 {p95:.1%}, worst {size[-1]:.1%}, "
        f"{within}/{len(size)} within 10%"
    )


async def profile_three_ways(root: Path, repeats: int) -> dict[str, Profile]:
    app = write_app(root / "app")
    cluster = three_classes()
    base = ProfileSettings(network=False, execution_repeats=repeats, execution_budget=10.0)
    ways = {
        "every node (truth)": "every-node",
        "per class": "per-class",
        "every node (again)": "every-node",
    }
    profiles: dict[str, Profile] = {}
    async with local_agents(app, cluster) as agents:
        for name, nodes in ways.items():
            settings = ProfileSettings(**{**vars(base), "execution_nodes": nodes})
            profiles[name] = await gather_profile(
                agents.session, agents.urls, app, cluster, agents.auth, settings
            )
    return profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per task and node")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-classes-") as folder:
        profiles = asyncio.run(profile_three_ways(Path(folder), args.repeats))
    truth, per_class, again = profiles.values()
    nodes = len(truth.nodes)
    classes = len(set(per_class.classes.values()))
    print(
        f"{nodes} emulated nodes in {classes} classes, {len(TASK_CPU_MS)} CPU-bound tasks, "
        f"up to {args.repeats} timed runs per task and node"
    )
    for name, profile in profiles.items():
        execution = profile.settings["execution"]
        timed = sum(len(group) for group in execution["timed"].values())
        print(
            f"  {name:20} {execution['runs']:4d} timed runs on {timed:2d} nodes, "
            f"execution profiling {profile.timings['execution']:.1f} s"
        )
    scaled = errors(per_class, truth, "from-class")
    measured = errors(per_class, truth, "measured")
    noise = errors(again, truth, None)
    print(f"from-class figures vs the node's own ({len(scaled)}): {summary(scaled)}")
    print(f"per-class measured figures vs truth ({len(measured)}): {summary(measured)}")
    print(f"noise floor, every node twice ({len(noise)}): {summary(noise)}")
    median = statistics.median(abs(v) for v in scaled)
    floor = statistics.median(abs(v) for v in noise)
    runs_ratio = per_class.settings["execution"]["runs"] / truth.settings["execution"]["runs"]
    target_ratio = classes * 2 / nodes
    print(
        f"from-class median error {median:.1%} (target <= {TARGET_MEDIAN:.0%}): "
        f"{'ok' if median <= TARGET_MEDIAN else 'MISSED'}; "
        f"{median / floor if floor else float('inf'):.1f}x the noise floor "
        f"(target <= {TARGET_VS_NOISE:g}x): "
        f"{'ok' if median <= TARGET_VS_NOISE * floor else 'MISSED'}"
    )
    print(
        f"runs per class / every node: {runs_ratio:.2f} (target <= {target_ratio:.2f}): "
        f"{'ok' if runs_ratio <= target_ratio + 1e-9 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
