"""`jupiter generate-app` and `jupiter import-wfcommons`: synthetic apps to test mappers and
runs on many DAG shapes, random or recorded."""

from __future__ import annotations

from pathlib import Path

import click

from jupiter.app.generator import (
    DEFAULT_SOURCES,
    DEFAULT_TIME_SCALE,
    GenerateParams,
    generate_app,
    realised_ccr,
    reference_bandwidth,
)
from jupiter.app.synthetic_plan import AppPlan
from jupiter.app.wfcommons_import import (
    DEFAULT_SIZE_SCALE,
    import_trace,
)
from jupiter.app.wfcommons_import import DEFAULT_TIME_SCALE as TRACE_TIME_SCALE
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.errors import SpecError
from jupiter.planning.app_problem import app_problem, plan_problem

DEFAULT_PROBLEM_NODES = 8


@click.command("generate-app")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
# The paper's dummy apps (Table 1): M tasks in M/10 levels of 2 to 15, CCR 0.5.
@click.option("--tasks", type=int, default=30, show_default=True, help="Number of tasks.")
@click.option("--depth", type=int, help="Number of levels.  [default: tasks / 10, at least 2]")
@click.option(
    "--min-width", type=int, default=2, show_default=True, help="Fewest tasks in a level."
)
@click.option("--max-width", type=int, default=15, show_default=True, help="Most tasks in a level.")
@click.option(
    "--ccr",
    type=float,
    default=0.5,
    show_default=True,
    help="Mean communication time / mean computation time (at the reference bandwidth).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same seed, same app, byte for byte."
)
@click.option(
    "--time-scale",
    type=float,
    default=DEFAULT_TIME_SCALE,
    show_default=True,
    help="CPU seconds per cost unit; task costs are 0.5..1.5 units.",
)
@click.option(
    "--sources", type=int, default=DEFAULT_SOURCES, show_default=True, help="Input sources."
)
@click.option("--force", is_flag=True, help="Replace the app already in OUT.")
def generate_app_command(
    out: Path,
    tasks: int,
    depth: int | None,
    min_width: int,
    max_width: int,
    ccr: float,
    seed: int,
    time_scale: float,
    sources: int,
    force: bool,
) -> None:
    """Write a random layered DAG app to folder OUT, ready for `jupiter run OUT`.

    Every task burns CPU for its cost and writes an output whose size follows the CCR;
    outputs are deterministic (expected.json lists them) and every task declares its
    estimate, so a run can skip profiling.
    """
    if depth is None:
        depth = max(2, tasks // 10)
    params = GenerateParams(
        tasks=tasks,
        depth=depth,
        min_width=min_width,
        max_width=max_width,
        ccr=ccr,
        seed=seed,
        time_scale=time_scale,
        sources=sources,
    )
    plan = generate_app(out, params, force=force)
    widths: dict[int, int] = {}
    level = {t.name: 0 for t in plan.tasks}
    for t in plan.tasks:
        level[t.name] = max((level[p] + 1 for p in t.parents), default=0)
        widths[level[t.name]] = widths.get(level[t.name], 0) + 1
    bandwidth = reference_bandwidth()
    click.echo(
        f"wrote {out}: {len(plan.tasks)} tasks in {depth} levels "
        f"(widths {' '.join(str(widths[i]) for i in sorted(widths))}), "
        f"{len(plan.sources)} source(s) x {plan.samples} samples"
    )
    _describe(plan)
    click.echo(
        f"  CCR:     {realised_ccr(plan, bandwidth):.3f} at {bandwidth / 1e6:.1f} MB/s "
        "(median bandwidth of the default emulated links)"
    )
    click.echo(f"  run it:  jupiter run {out} --nodes 4")


@click.command("import-wfcommons")
@click.argument("trace", metavar="TRACE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--time-scale",
    type=float,
    default=TRACE_TIME_SCALE,
    show_default=True,
    help="CPU seconds of a task per second of runtime in the trace.",
)
@click.option(
    "--size-scale",
    type=float,
    default=DEFAULT_SIZE_SCALE,
    show_default=True,
    help="Bytes written per byte in the trace.",
)
@click.option("--force", is_flag=True, help="Replace the app already in OUT.")
@click.option(
    "--problem",
    "problem_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also (or, without OUT, only) write the scheduling problem for a cluster.",
)
@click.option(
    "--nodes",
    type=int,
    help=f"With --problem: the default emulated cluster of N nodes [{DEFAULT_PROBLEM_NODES}].",
)
@click.option(
    "--cluster",
    "cluster_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --problem: a cluster.yaml instead of the default cluster.",
)
@click.option("--seed", type=int, help="With --problem --nodes: seed of the node speeds [0].")
def import_wfcommons_command(
    trace: Path,
    out: Path | None,
    time_scale: float,
    size_scale: float,
    force: bool,
    problem_file: Path | None,
    nodes: int | None,
    cluster_file: Path | None,
    seed: int | None,
) -> None:
    """Turn the WfCommons trace TRACE.json into a runnable app in folder OUT.

    With --problem, write the scheduling problem `jupiter run` would map for that app on a
    cluster (for `jupiter schedule`); OUT is then optional.
    """
    if out is None and problem_file is None:
        raise SpecError(None, "OUT", "give an app folder to write, --problem FILE, or both")
    cluster = _problem_cluster(problem_file, nodes, cluster_file, seed)
    imported = import_trace(trace, out, time_scale=time_scale, size_scale=size_scale, force=force)
    plan = imported.plan
    entries = len(plan.sources[0].feeds)
    if out is not None:
        click.echo(
            f"wrote {out}: {plan.name}, {len(plan.tasks)} tasks, {len(plan.edges())} edges, "
            f"{entries} entry task(s) fed by {plan.sources[0].name}"
        )
        _describe(plan)
        if imported.renamed:
            shown = ", ".join(
                f"{old!r} -> {new}" for old, new in list(imported.renamed.items())[:3]
            )
            more = len(imported.renamed) - 3
            click.echo(
                f"  renamed: {len(imported.renamed)} task(s): {shown}"
                + (f" and {more} more" if more > 0 else "")
                + " (app.yaml comments keep the trace names)"
            )
    if cluster is not None and problem_file is not None:
        problem = app_problem(out, cluster) if out is not None else plan_problem(plan, cluster)
        problem_file.parent.mkdir(parents=True, exist_ok=True)
        problem.save(problem_file)
        click.echo(
            f"wrote {problem_file}: {len(problem.tasks)} tasks ({len(plan.tasks)} + source "
            f"{plan.sources[0].name}), {len(problem.edges)} edges, {len(problem.nodes)} nodes"
        )
        click.echo(f"  schedule it: jupiter schedule {problem_file} --algorithm heft")


def _problem_cluster(
    problem_file: Path | None, nodes: int | None, cluster_file: Path | None, seed: int | None
) -> Cluster | None:
    if problem_file is None:
        for option, value in (("--nodes", nodes), ("--cluster", cluster_file), ("--seed", seed)):
            if value is not None:
                raise SpecError(None, option, "only means something with --problem")
        return None
    if cluster_file is not None:
        if nodes is not None:
            raise SpecError(None, "--nodes/--cluster", "give one of them, not both")
        if seed is not None:
            raise SpecError(None, "--seed", "sets the default cluster's speeds; not with --cluster")
        return load_cluster(cluster_file)
    if nodes is not None and nodes < 1:
        raise SpecError(None, "--nodes", f"must be at least 1, got {nodes}")
    return Cluster.default(nodes or DEFAULT_PROBLEM_NODES, seed or 0)


def _describe(plan: AppPlan) -> None:
    seconds = [t.seconds for t in plan.tasks]
    sizes = [t.output_bytes for t in plan.tasks]
    click.echo(
        f"  compute: {min(seconds):g}..{max(seconds):g} s of CPU per task, "
        f"{sum(seconds):.3g} s in all"
    )
    click.echo(
        f"  data:    {min(sizes)}..{max(sizes)} bytes per output, "
        f"{sum(sizes) / 1e6:.3g} MB in all per input"
    )
