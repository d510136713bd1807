"""Scheduling problems from a workflow DAG and a network (related machines).

Compute time of a task on a node = its runtime in the trace / the node's speed factor; an
edge carries the bytes of the files the parent writes and the child reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from jupiter.mapper.network import Network, random_network
from jupiter.mapper.problem import Edge, SchedulingProblem
from jupiter.workflows.wfcommons import Workflow, load_workflow


def problem_from_dag(
    runtimes: Mapping[str, float], edges: Sequence[Edge], network: Network
) -> SchedulingProblem:
    return SchedulingProblem(
        tasks=list(runtimes),
        nodes=list(network.nodes),
        compute={t: {n: w / network.speeds[n] for n in network.nodes} for t, w in runtimes.items()},
        edges=list(edges),
        links={a: dict(row) for a, row in network.links.items()},
    )


def problem_from_workflow(workflow: Workflow, network: Network) -> SchedulingProblem:
    return problem_from_dag(
        {t.id: t.runtime for t in workflow.tasks},
        [Edge(e.src, e.dst, float(e.bytes)) for e in workflow.edges],
        network,
    )


def problem_from_trace(path: str | Path, nodes: int = 16, *, seed: int = 0) -> SchedulingProblem:
    """A WfCommons trace on `random_network(nodes, seed=seed)`."""
    return problem_from_workflow(load_workflow(path), random_network(nodes, seed=seed))
