"""The rules of a scheduling problem that tie its fields together.

Each field on its own is checked by the pydantic shape (problem_file.py); here: every name
is known and listed once, every task has seconds on every node, every pair of nodes has a
link model, the edges form no cycle, and the cap can hold the tasks and the pins.
Rules are checked in the order of the fields in the file, and the first broken one is
reported as (field location, message).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupiter.mapper.problem_file import EdgeFile, ProblemShape

Loc = tuple[str | int, ...]
Broken = tuple[Loc, str]


def first_broken_rule(doc: ProblemShape) -> Broken | None:
    return next(_broken_rules(doc), None)


def find_cycle(tasks: list[str], edges: list[EdgeFile]) -> list[str]:
    """One cycle as a list of tasks in data-flow order (empty when the graph is acyclic)."""
    # Imported here: agents import this module, and only validating a problem file needs it.
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(tasks)
    graph.add_edges_from((edge.src, edge.dst) for edge in edges)
    # find_cycle walks the whole graph when there is no cycle; the topological sort is
    # quicker to say so on big acyclic problems, the common case.
    if nx.is_directed_acyclic_graph(graph):
        return []
    return [src for src, _ in nx.find_cycle(graph)]


def _broken_rules(doc: ProblemShape) -> Iterator[Broken]:
    # Lazy: checking stops at the first broken rule, so later rules may assume earlier ones.
    yield from _listed_once(doc.tasks, "tasks", "task")
    yield from _listed_once(doc.nodes, "nodes", "node")
    tasks, nodes = set(doc.tasks), set(doc.nodes)
    yield from _compute(doc, tasks, nodes)
    yield from _edges(doc, tasks)
    cycle = find_cycle(doc.tasks, doc.edges)
    if cycle:
        yield ("edges",), "cycle: " + " -> ".join([*cycle, cycle[0]])
    yield from _links(doc, nodes)
    yield from _pinned(doc, tasks, nodes)
    yield from _cap(doc)
    for node in doc.load:
        if node not in nodes:
            yield ("load", node), f"unknown node {node!r}"


def _listed_once(names: list[str], field: str, what: str) -> Iterator[Broken]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield (field, i), f"{what} {name!r} is listed twice"
        seen.add(name)


def _compute(doc: ProblemShape, tasks: set[str], nodes: set[str]) -> Iterator[Broken]:
    for task in doc.compute:
        if task not in tasks:
            yield ("compute", task), f"unknown task {task!r}"
    for task in doc.tasks:
        row = doc.compute.get(task)
        if row is None:
            yield ("compute", task), "missing: every task needs seconds on every node"
            continue
        if row.keys() == nodes:  # the common case, decided in one set comparison
            continue
        for node in row:
            if node not in nodes:
                yield ("compute", task, node), f"unknown node {node!r}"
        for node in doc.nodes:
            if node not in row:
                yield (
                    ("compute", task, node),
                    f"missing: no seconds for task {task!r} on node {node!r}",
                )


def _edges(doc: ProblemShape, tasks: set[str]) -> Iterator[Broken]:
    seen: set[tuple[str, str]] = set()
    for i, edge in enumerate(doc.edges):
        if edge.src not in tasks:
            yield ("edges", i, "from"), f"unknown task {edge.src!r}"
        if edge.dst not in tasks:
            yield ("edges", i, "to"), f"unknown task {edge.dst!r}"
        if (edge.src, edge.dst) in seen:
            yield ("edges", i), f"edge {edge.src} -> {edge.dst} is listed twice"
        seen.add((edge.src, edge.dst))


def _links(doc: ProblemShape, nodes: set[str]) -> Iterator[Broken]:
    for src, row in doc.links.items():
        if src not in nodes:
            yield ("links", src), f"unknown node {src!r}"
        for dst, model in row.items():
            if dst not in nodes:
                yield ("links", src, dst), f"unknown node {dst!r}"
            if dst == src and any(model.values()):
                yield (
                    ("links", src, dst),
                    "a transfer on the same node always takes 0 s; remove this entry",
                )
    for src in doc.nodes:
        row = doc.links.get(src, {})
        if nodes <= row.keys() | {src}:  # the common case, decided in one set comparison
            continue
        for dst in doc.nodes:
            if dst != src and dst not in row:
                yield ("links", src, dst), f"missing link model from {src!r} to {dst!r}"


def _pinned(doc: ProblemShape, tasks: set[str], nodes: set[str]) -> Iterator[Broken]:
    for task, node in doc.pinned.items():
        if task not in tasks:
            yield ("pinned", task), f"unknown task {task!r}"
        if node not in nodes:
            yield ("pinned", task), f"unknown node {node!r}"


def _cap(doc: ProblemShape) -> Iterator[Broken]:
    cap = doc.max_tasks_per_node
    if cap is None:
        return
    if cap * len(doc.nodes) < len(doc.tasks):
        yield (
            ("max_tasks_per_node",),
            f"{cap} per node on {len(doc.nodes)} nodes cannot hold {len(doc.tasks)} tasks",
        )
    for node, count in Counter(doc.pinned.values()).items():
        if count > cap:
            yield ("max_tasks_per_node",), f"{count} tasks are pinned to {node!r}, more than {cap}"
