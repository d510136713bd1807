"""The dummy application generator: a random layered DAG as a runnable app folder.

Like the original Jupiter's generator, it takes the number of tasks, the depth, the minimum
and maximum width and the communication-to-computation ratio (CCR), and adds a seed (same
seed, byte-identical app), a time scale and the number of sources.

Costs. A task's cost is drawn uniformly from 0.5..1.5 cost units; one unit is `time_scale`
seconds of CPU, which is both what the task burns (see synthetic_task.py) and its declared
estimate. Output sizes are drawn with the same spread around a mean chosen so that

    CCR = mean over edges (output bytes of the edge's parent / REFERENCE bandwidth)
          / mean over tasks (estimate seconds)

where the reference bandwidth is the median bandwidth of the default emulated links (the 56
ordered pairs of distinct default regions; about 21.3 MB/s). Latency is left out: it does
not grow with the data, and the CCR is about data. Sizes are rounded to whole bytes and
never below MIN_OUTPUT_BYTES, so the realised CCR of the declared estimates matches the
asked one up to rounding, unless outputs would be tiny.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from jupiter.app.dag_shape import layered_dag, level_widths
from jupiter.app.synthetic_names import python_names
from jupiter.app.synthetic_plan import MIN_OUTPUT_BYTES, AppPlan, PlannedSource, PlannedTask
from jupiter.app.synthetic_writer import check_out_dir, write_app
from jupiter.cluster.links import default_link_table
from jupiter.cluster.regions import DEFAULT_REGIONS
from jupiter.errors import SpecError

DEFAULT_TIME_SCALE = 0.1
DEFAULT_SOURCES = 1
COST_SPREAD = (0.5, 1.5)  # cost units per task and relative output size, both uniform
# A single output this large means a CCR or time scale that would fill the disk.
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
# Far beyond what a run on one machine can stream; a typo like 10**9 should not hang.
MAX_TASKS = 100_000
MAX_SOURCES = 1_000


def reference_bandwidth() -> float:
    """Median bandwidth (bytes/s) over the ordered pairs of distinct default regions."""
    table = default_link_table(region.key for region in DEFAULT_REGIONS)
    return statistics.median(
        link.bandwidth for a, row in table.items() for b, link in row.items() if a != b
    )


@dataclass(frozen=True)
class GenerateParams:
    tasks: int
    depth: int
    min_width: int
    max_width: int
    ccr: float
    seed: int
    time_scale: float = DEFAULT_TIME_SCALE
    sources: int = DEFAULT_SOURCES

    def command_line(self) -> str:
        return (
            f"--tasks {self.tasks} --depth {self.depth} --min-width {self.min_width} "
            f"--max-width {self.max_width} --ccr {self.ccr!r} --seed {self.seed} "
            f"--time-scale {self.time_scale!r} --sources {self.sources}"
        )


def check_params(params: GenerateParams) -> None:
    """Raise a SpecError naming the first option out of range."""

    def fail(option: str, message: str) -> SpecError:
        return SpecError(None, option, message)

    for option, value in (
        ("--tasks", params.tasks),
        ("--depth", params.depth),
        ("--min-width", params.min_width),
        ("--max-width", params.max_width),
        ("--sources", params.sources),
    ):
        if value < 1:
            raise fail(option, f"must be at least 1, got {value}")
    for option, value, limit in (
        ("--tasks", params.tasks, MAX_TASKS),
        ("--sources", params.sources, MAX_SOURCES),
    ):
        if value > limit:
            raise fail(option, f"at most {limit}, got {value}")
    for option, number in (("--ccr", params.ccr), ("--time-scale", params.time_scale)):
        if not math.isfinite(number) or number <= 0:
            raise fail(option, f"must be a positive number, got {number!r}")
    if params.min_width > params.max_width:
        raise fail("--min-width", f"{params.min_width} is above --max-width {params.max_width}")
    if params.depth > params.tasks:
        raise fail(
            "--depth",
            f"{params.depth} levels need at least {params.depth} tasks, got --tasks {params.tasks}",
        )
    low, high = params.depth * params.min_width, params.depth * params.max_width
    if not low <= params.tasks <= high:
        raise fail(
            "--tasks",
            f"{params.tasks} tasks cannot fill {params.depth} levels of "
            f"{params.min_width}..{params.max_width} tasks (that takes {low}..{high})",
        )


def plan_generated_app(params: GenerateParams, bandwidth: float | None = None) -> AppPlan:
    check_params(params)
    bandwidth = reference_bandwidth() if bandwidth is None else bandwidth
    rng = random.Random(params.seed)
    widths = level_widths(rng, params.tasks, params.depth, params.min_width, params.max_width)
    dag = layered_dag(rng, widths)
    digits = max(2, len(str(params.tasks - 1)))
    names = [f"t{i:0{digits}d}" for i in range(params.tasks)]
    functions = python_names(names)
    seconds = [round(params.time_scale * rng.uniform(*COST_SPREAD), 6) for _ in names]
    spread = [rng.uniform(*COST_SPREAD) for _ in names]

    edges = [(p, i) for i in range(params.tasks) for p in dag.parents[i]]
    mean_seconds = statistics.fmean(seconds)
    # Mean bytes per edge = mean_size * (mean spread over the edges' parents).
    edge_spread = statistics.fmean(spread[p] for p, _ in edges) if edges else 1.0
    mean_size = params.ccr * mean_seconds * bandwidth / edge_spread
    sizes = [max(MIN_OUTPUT_BYTES, round(f * mean_size)) for f in spread]
    if max(sizes) > MAX_OUTPUT_BYTES:
        raise SpecError(
            None,
            "--ccr",
            f"{params.ccr!r} with --time-scale {params.time_scale!r} makes outputs of up to "
            f"{max(sizes) / 1e6:.0f} MB (limit {MAX_OUTPUT_BYTES / 1e6:.0f} MB); lower one",
        )

    first_in_level = {level[0]: (n, len(level)) for n, level in enumerate(dag.levels)}
    tasks = [
        PlannedTask(
            name=names[i],
            parents=tuple(names[p] for p in dag.parents[i]),
            seconds=seconds[i],
            output_bytes=sizes[i],
            function=functions[names[i]],
            comment=(
                f"level {first_in_level[i][0]}: {first_in_level[i][1]} tasks"
                if i in first_in_level
                else ""
            ),
        )
        for i in range(params.tasks)
    ]
    return AppPlan(
        name=f"dag-t{params.tasks}-d{params.depth}-w{params.min_width}-{params.max_width}"
        f"-s{params.seed}",
        description=(
            f"Random layered DAG: {params.tasks} tasks in {params.depth} levels of "
            f"{params.min_width}..{params.max_width}, CCR {params.ccr!r}, seed {params.seed}"
        ),
        tasks=tasks,
        sources=_sources(params, [names[i] for i in dag.levels[0]], max(1, round(mean_size))),
        header=[
            f"Generated by: jupiter generate-app OUT {params.command_line()}",
            f"Level widths: {' '.join(map(str, widths))}; the exits are the last level.",
            "Each task hashes for its estimate's seconds of CPU time, then writes output_bytes",
            "bytes derived from its inputs (tasks/dag.py); expected.json has the sha256 of",
            "every exit's output for each sample input. Regenerate rather than edit.",
            f"CCR = mean over edges of (parent's output_bytes / {bandwidth:.0f} bytes/s, the",
            "median bandwidth of the default emulated links) / mean estimate seconds.",
            "",
        ],
    )


def _sources(params: GenerateParams, entries: list[str], size: int) -> list[PlannedSource]:
    """Sources split the first level between them; spare sources share an entry task."""
    count = params.sources
    names = ["input"] if count == 1 else [f"input{j}" for j in range(count)]
    return [
        PlannedSource(
            name=name,
            feeds=tuple(e for i, e in enumerate(entries) if i % count == j)
            or (entries[j % len(entries)],),
            sample_bytes=max(MIN_OUTPUT_BYTES, size),
            salt=f"generate-app/seed{params.seed}",
        )
        for j, name in enumerate(names)
    ]


def realised_ccr(plan: AppPlan, bandwidth: float | None = None) -> float:
    """The CCR of a plan's declared estimates, by the definition above."""
    bandwidth = reference_bandwidth() if bandwidth is None else bandwidth
    sizes = {t.name: t.output_bytes for t in plan.tasks}
    edges = plan.edges()
    comm = (
        statistics.fmean(sizes[p] / bandwidth for p, _ in edges)
        if edges
        else statistics.fmean(size / bandwidth for size in sizes.values())
    )
    return comm / statistics.fmean(t.seconds for t in plan.tasks)


def generate_app(out: Path, params: GenerateParams, *, force: bool = False) -> AppPlan:
    """Check everything, then write the app folder `out`; returns what was written."""
    check_params(params)
    check_out_dir(out, force)
    plan = plan_generated_app(params)
    write_app(plan, out, force=force)
    return plan
