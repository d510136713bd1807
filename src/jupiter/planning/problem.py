"""From an app and a cluster to the mapper's SchedulingProblem.

Sources become zero-cost tasks pinned where their inputs enter, so the mapper sees the cost
of moving each input from its origin to the first task. Figures come from the app's declared
estimates and the cluster's link model until measured profiles replace them; `sources` says
which was used for what, and the report repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jupiter.app.spec import App
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.profiler.model import Profile

# Used where the app declares nothing; reported as such so nobody mistakes it for a measurement.
DEFAULT_TASK_SECONDS = 0.1
DEFAULT_OUTPUT_BYTES = 1024


@dataclass
class BuiltProblem:
    problem: SchedulingProblem
    sources: dict[str, str] = field(default_factory=dict)


def build_problem(app: App, cluster: Cluster, profile: Profile | None = None) -> BuiltProblem:
    """The problem from `profile` where it has figures, else from estimates and the link model.

    The profile must match the app and cluster (`Profile.check_matches`).
    """
    built = _from_estimates(app, cluster)
    return built if profile is None else _overlay_profile(built, app, cluster, profile)


def _from_estimates(app: App, cluster: Cluster) -> BuiltProblem:
    nodes = cluster.node_names
    stretch = {node: cluster.stretch(node) if cluster.emulate else 1.0 for node in nodes}
    compute: dict[str, dict[str, float]] = {}
    edges: list[Edge] = []
    pinned: dict[str, str] = {}
    defaulted: list[str] = []

    for name, source in app.sources.items():
        compute[name] = dict.fromkeys(nodes, 0.0)
        samples = app.sample_inputs(name)
        size = sum(path.stat().st_size for path in samples) / len(samples)
        edges.extend(Edge(name, task, size) for task in source.feeds)
        if source.node is not None:
            pinned[name] = _known_node(cluster, source.node, f"sources.{name}.node")

    for name in app.topological_order():
        task = app.tasks[name]
        seconds = task.estimate_seconds
        if seconds is None:
            seconds = DEFAULT_TASK_SECONDS
            defaulted.append(name)
        compute[name] = {node: seconds * stretch[node] for node in nodes}
        size = task.estimate_output_bytes
        size = DEFAULT_OUTPUT_BYTES if size is None else size
        edges.extend(Edge(name, child, size) for child in app.downstream(name))
        if task.node is not None:
            pinned[name] = _known_node(cluster, task.node, f"tasks.{name}.node")

    links: dict[str, dict[str, LinkModel]] = {}
    for a in nodes:
        links[a] = {}
        for b in nodes:
            if a == b:
                links[a][b] = LinkModel(0.0, 0.0, 0.0)
            else:
                link = cluster.link(a, b)
                links[a][b] = LinkModel(link.latency, 1.0 / link.bandwidth, 0.0)

    problem = SchedulingProblem(
        tasks=list(compute),
        nodes=nodes,
        compute=compute,
        edges=edges,
        links=links,
        pinned=pinned,
    )
    problem.validate()
    compute_source = "declared estimates"
    if defaulted:
        compute_source += f" (default {DEFAULT_TASK_SECONDS} s for: {', '.join(defaulted)})"
    return BuiltProblem(
        problem,
        {
            "compute": compute_source + (", stretched by node speed" if cluster.emulate else ""),
            "data_sizes": "declared estimates; source inputs: mean sample file size",
            "links": "cluster link model (latency, bandwidth)",
        },
    )


def _overlay_profile(
    built: BuiltProblem, app: App, cluster: Cluster, profile: Profile
) -> BuiltProblem:
    problem, sources = built.problem, dict(built.sources)
    nodes = cluster.node_names
    # A profile taken under another time dilation: its host seconds, on this run's host clock.
    rescale = cluster.dilation / profile.dilation
    if profile.compute:
        for task in app.tasks:
            problem.compute[task] = {node: profile.compute[task][node] * rescale for node in nodes}
        problem.edges = [
            Edge(e.src, e.dst, profile.output_bytes[e.src]) if e.src in app.tasks else e
            for e in problem.edges
        ]
        repeats = profile.settings.get("execution", {}).get("repeats", "?")
        sources["compute"] = (
            f"execution profile: median of up to {repeats} timed runs per task and node on "
            "sample input 0" + (", stretched by node speed" if profile.emulated else "")
        ) + _from_classes(profile, nodes)
        sources["data_sizes"] = (
            "execution profile: output sizes on sample input 0; source inputs: mean sample "
            "file size"
        )
    if profile.links:
        fallback = unresolved = 0
        for a in nodes:
            for b in nodes:
                if a == b:
                    continue
                fit = profile.links.get(a, {}).get(b)
                if fit is None:
                    fallback += 1
                elif not fit.resolved:
                    # One size probed so far (a big cluster's first round), or sizes that
                    # took the same time within the noise: keep the measured latency, but a
                    # per-byte cost of zero is no bandwidth anyone has.
                    unresolved += 1
                    problem.links[a][b] = LinkModel(
                        fit.p * rescale, 1.0 / cluster.link(a, b).bandwidth
                    )
                else:
                    problem.links[a][b] = LinkModel(
                        fit.p * rescale, fit.q * rescale, fit.r * rescale
                    )
        total = len(nodes) * (len(nodes) - 1)
        sources["links"] = (
            f"network profile: quadratic fits of timed transfers, {total - fallback} of "
            f"{total} links"
            + (f"; {fallback} from the cluster link model" if fallback else "")
            + (
                f"; bandwidth from the cluster link model on {unresolved} whose probes have "
                "not resolved it yet"
                if unresolved
                else ""
            )
            + _inferred_links(profile)
        )
    if rescale != 1.0:
        sources["profile_dilation"] = (
            f"profile measured under time dilation {profile.dilation:g}, rescaled to "
            f"{cluster.dilation:g}"
        )
    if profile.resources:
        # On emulated nodes sharing one machine, only the agent's own processes tell the
        # nodes apart; on real nodes the machine's figure is the node's.
        problem.load = {
            node: {
                "cpu": sample.node_cpu_percent if profile.emulated else sample.cpu_percent,
                "memory": sample.memory_percent,
            }
            for node, sample in profile.resources.items()
            if node in nodes
        }
        sources["load"] = "resource profile: " + (
            "agent process CPU %, machine memory %" if profile.emulated else "node CPU %, memory %"
        )
    problem.validate()
    return BuiltProblem(problem, sources)


def _from_classes(profile: Profile, nodes: list[str]) -> str:
    """What figure_sources' compute line adds for figures taken from a node's class."""
    scaled = sum(
        profile.source_of(task, node) == "from-class" for task in profile.compute for node in nodes
    )
    if not scaled:
        return ""
    timed = sorted(
        {
            n
            for group in profile.settings.get("execution", {}).get("timed", {}).values()
            for n in group
        }
    )
    classes = len(set(profile.classes.values()))
    return (
        f"; timed on {len(timed)} of {len(nodes)} nodes ({classes} hardware "
        f"class{'es' if classes != 1 else ''}), {scaled} figures from the node's class "
        "scaled by speed"
    )


def _known_node(cluster: Cluster, node: str, field_name: str) -> str:
    if node not in cluster.node_names:
        raise SpecError(
            "app.yaml",
            field_name,
            f"unknown node {node!r}; the cluster has "
            f"{', '.join(cluster.node_names[:8])}{' ...' if len(cluster.node_names) > 8 else ''}",
        )
    return node


def _inferred_links(profile: Profile) -> str:
    """How the sampled network strategy filled the links it did not probe, in a clause."""
    inference = profile.network_inference
    if inference is None:
        return ""
    held = inference.held_out
    error = (
        f", held-out error median {held.median:.1%}, p90 {held.p90:.1%} on {held.links} links"
        if held is not None
        else ""
    )
    pairs = sum(len(links) for links in inference.representatives.values())
    return (
        f"; sampled: {inference.measured_links} links measured, latency inferred on "
        f"{inference.latency_inferred} ({inference.latency_model}{error}), bandwidth on "
        f"{inference.bandwidth_inferred} from {pairs} representative links of "
        f"{len(inference.representatives)} {inference.groups_by} pairs"
    )
