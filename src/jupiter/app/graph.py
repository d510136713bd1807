"""Task-graph ordering: a deterministic topological order, and the cycle when there is none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx


class CycleError(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle  # in data-flow order, first task repeated at the end
        super().__init__(" -> ".join(cycle))


def topological_order(parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Order the tasks so each comes after its parents.

    Ties go to the task declared first, so the order is stable and reads like the file.
    `parents` maps every task to its parent tasks (all of which must be keys).
    """
    position = {name: i for i, name in enumerate(parents)}
    graph = nx.DiGraph()
    graph.add_nodes_from(parents)
    graph.add_edges_from((parent, name) for name, ps in parents.items() for parent in ps)
    try:
        return list(nx.lexicographical_topological_sort(graph, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        raise CycleError(_named_cycle(graph, position)) from None


def _named_cycle(graph: nx.DiGraph, position: Mapping[str, int]) -> list[str]:
    loop = [parent for parent, _ in nx.find_cycle(graph)]
    # Start at the task declared first, so the same cycle is always reported the same way.
    start = loop.index(min(loop, key=position.__getitem__))
    loop = loop[start:] + loop[:start]
    return [*loop, loop[0]]
