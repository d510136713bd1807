"""`jupiter profile`: start the agents, profile links, nodes and tasks, save the profile."""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Literal

import click
from rich.console import Console
from rich.table import Table

from jupiter.app.spec import App, load_app
from jupiter.backends.agents import local_agents
from jupiter.cli.run import cluster_from_options
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.planning.problem import build_problem
from jupiter.profiler.cache import ProfileCache
from jupiter.profiler.home import ProfileSettings
from jupiter.profiler.model import Profile
from jupiter.profiler.sizes import app_transfer_sizes, parse_sizes, probe_sizes


async def take_profile(app: App, cluster: Cluster, settings: ProfileSettings) -> Profile:
    async with local_agents(app, cluster) as agents:
        return await agents.gather(app, cluster, settings)


@click.command("profile")
@click.argument("app_path", metavar="APP", type=click.Path(path_type=Path))
@click.option("--nodes", type=int, help="Emulate N nodes over the 8 default regions.")
@click.option("--cluster", "cluster_file", type=click.Path(path_type=Path), help="cluster.yaml")
@click.option("--save", type=click.Path(path_type=Path), help="Write the profile (JSON) here.")
@click.option(
    "--problem",
    type=click.Path(path_type=Path),
    help="Also write the SchedulingProblem built from it (for `jupiter schedule`).",
)
@click.option(
    "--sizes",
    help="Probe sizes, e.g. 4K,32K,256K,1M,4M (default: spanning the app's own transfers).",
)
@click.option("--repeats", default=3, show_default=True, help="Timed runs per task and node.")
@click.option(
    "--execution",
    "execution_nodes",
    type=click.Choice(["per-class", "every-node"]),
    default="per-class",
    show_default=True,
    help="Time tasks on a few nodes of each hardware class (the others scaled by speed), "
    "or on every node.",
)
@click.option("--emulation/--no-emulation", default=True, help="Apply the link model.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def profile_command(
    app_path: Path,
    nodes: int | None,
    cluster_file: Path | None,
    save: Path | None,
    problem: Path | None,
    sizes: str | None,
    repeats: int,
    execution_nodes: Literal["per-class", "every-node"],
    emulation: bool,
    quiet: bool,
) -> None:
    """Measure links, nodes and APP's tasks on the cluster; save the profile for later runs."""
    app = load_app(app_path)
    cluster = cluster_from_options(nodes, cluster_file, emulation)
    if repeats < 1:
        raise SpecError(None, "--repeats", "must be at least 1")
    settings = ProfileSettings(execution_repeats=repeats, execution_nodes=execution_nodes)
    cache = ProfileCache(app, cluster)
    if sizes is not None:
        settings.sizes = parse_sizes(sizes, "--sizes")
    else:
        settings.sizes = probe_sizes(app_transfer_sizes(app, cache.measured_output_bytes()))
    console = Console(stderr=True, quiet=quiet)
    with console.status(f"profiling {len(cluster.nodes)} nodes"):
        profile = asyncio.run(take_profile(app, cluster, settings))
    out = Console(quiet=quiet)
    print_profile(profile, out)
    out.print(f"cached: {cache.store(profile)} (later runs reuse it: --profile cached)")
    if save is not None:
        out.print(f"profile: {profile.save(save)}")
    if problem is not None:
        built = build_problem(app, cluster, profile)
        problem.parent.mkdir(parents=True, exist_ok=True)
        problem.write_text(json.dumps(built.problem.to_dict(), indent=1))
        out.print(f"problem: {problem}")


def print_profile(profile: Profile, console: Console) -> None:
    fits = [fit for row in profile.links.values() for fit in row.values()]
    expected = len(profile.nodes) * (len(profile.nodes) - 1)
    timings = "  ".join(f"{name} {seconds:.2f}s" for name, seconds in profile.timings.items())
    console.print(f"{profile.app} on {len(profile.nodes)} nodes — {timings}")
    if fits:
        latencies = [fit.p * 1000 for fit in fits]
        console.print(
            f"links: {len(fits)} of {expected} fitted; latency {min(latencies):.1f}.."
            f"{max(latencies):.1f} ms (median {statistics.median(latencies):.1f})"
        )
        rates = [fit.bandwidth / 1e6 for fit in fits if fit.resolved]
        if rates:
            console.print(
                f"bandwidth {min(rates):.1f}..{max(rates):.1f} MB/s "
                f"(median {statistics.median(rates):.1f}) on {len(rates)} links"
            )
        inference = profile.network_inference
        if inference is not None:
            held = inference.held_out
            console.print(
                f"sampled: {inference.measured_links} links probed, latency inferred on "
                f"{inference.latency_inferred} ({inference.latency_model}"
                + (
                    f"; held-out error median {held.median:.1%}, p90 {held.p90:.1%} on "
                    f"{held.links} links"
                    if held is not None
                    else ""
                )
                + f"), bandwidth on {inference.bandwidth_inferred} from "
                f"{len(inference.representatives)} {inference.groups_by} pairs"
            )
        if len(rates) < len(fits):
            console.print(
                f"bandwidth not resolved yet on {len(fits) - len(rates)} links (one probe "
                "size so far: later rounds add the others)"
            )
    if profile.compute:
        execution = profile.settings.get("execution", {})
        timed = [node for group in execution.get("timed", {}).values() for node in group]
        if timed:
            scaled = sum(
                profile.source_of(task, node) == "from-class"
                for task in profile.compute
                for node in profile.nodes
            )
            classes = len(set(profile.classes.values()))
            console.print(
                f"execution: {execution.get('runs', '?')} timed runs on {len(timed)} of "
                f"{len(profile.nodes)} nodes ({classes} hardware class"
                f"{'es' if classes != 1 else ''}); {scaled} figures from the node's class"
            )
        table = Table(title="execution (seconds per run)")
        for column in ("task", "fastest", "slowest", "output bytes"):
            table.add_column(column, justify="left" if column == "task" else "right")
        for task, row in profile.compute.items():
            table.add_row(
                task,
                f"{min(row.values()):.4f} ({min(row, key=row.__getitem__)})",
                f"{max(row.values()):.4f} ({max(row, key=row.__getitem__)})",
                str(profile.output_bytes.get(task, "")),
            )
        console.print(table)
