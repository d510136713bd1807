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

# Used where the app declares nothing; reported as such so nobody mistakes it for a measurement.
DEFAULT_TASK_SECONDS = 0.1
DEFAULT_OUTPUT_BYTES = 1024


@dataclass
class BuiltProblem:
    problem: SchedulingProblem
    sources: dict[str, str] = field(default_factory=dict)


def build_problem(app: App, cluster: Cluster) -> BuiltProblem:
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


def _known_node(cluster: Cluster, node: str, field_name: str) -> str:
    if node not in cluster.node_names:
        raise SpecError(
            "app.yaml",
            field_name,
            f"unknown node {node!r}; the cluster has "
            f"{', '.join(cluster.node_names[:8])}{' ...' if len(cluster.node_names) > 8 else ''}",
        )
    return node
