"""The problem as index arrays, so that algorithms work on all nodes at once with numpy.

Compiling does not re-validate (that costs as much as HEFT itself on big problems); when
compiling trips over bad input it runs `validate()` so the user still gets the clear message.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from jupiter.mapper.problem import ZERO_LINK, SchedulingProblem

FloatArray = np.ndarray
IntArray = np.ndarray


@dataclass
class ProblemArrays:
    problem: SchedulingProblem
    tasks: list[str]
    nodes: list[str]
    task_index: dict[str, int]
    node_index: dict[str, int]
    compute: FloatArray  # (tasks, nodes) seconds
    p: FloatArray  # (nodes, nodes) link latency term, zero on the diagonal
    q: FloatArray  # per byte
    r: FloatArray  # per byte squared
    has_p: bool
    has_r: bool
    parents: list[IntArray]  # parent task indices, in edge order
    parent_bytes: list[FloatArray]
    children: list[list[int]]
    child_bytes: list[list[float]]
    topo: list[int]  # Kahn's order, taking the ready task listed first in `tasks`
    topo_pos: IntArray  # position of each task in `topo`
    pinned: IntArray  # node index, or -1
    cap: int | None

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def mean_link(self) -> tuple[float, float, float]:
        """Mean p, q, r over ordered pairs of distinct nodes (DESIGN.md: ranks use this)."""
        n = self.n_nodes
        if n < 2:
            return 0.0, 0.0, 0.0
        pairs = n * (n - 1)
        # Diagonals are zero, so the sum over all entries is the sum over distinct pairs.
        return float(self.p.sum() / pairs), float(self.q.sum() / pairs), float(self.r.sum() / pairs)

    def mean_transfer(self, nbytes: float) -> float:
        mp, mq, mr = self.mean_link()
        return mp + mq * nbytes + mr * nbytes * nbytes

    def transfer(self, src: int, dst: int, nbytes: float) -> float:
        return float(
            self.p[src, dst] + self.q[src, dst] * nbytes + self.r[src, dst] * nbytes * nbytes
        )


def compile_problem(problem: SchedulingProblem) -> ProblemArrays:
    try:
        arrays = _compile(problem)
    except (KeyError, TypeError, ValueError, AttributeError):
        problem.validate()  # raises the precise SpecError
        raise
    if len(arrays.topo) != arrays.n_tasks:
        problem.validate()  # names the cycle
        raise AssertionError("validate() accepted a cyclic problem")
    return arrays


def _compile(problem: SchedulingProblem) -> ProblemArrays:
    tasks = list(problem.tasks)
    nodes = list(problem.nodes)
    task_index = {t: i for i, t in enumerate(tasks)}
    node_index = {n: i for i, n in enumerate(nodes)}
    if len(task_index) != len(tasks) or len(node_index) != len(nodes) or not nodes:
        raise ValueError("duplicate or missing names")

    # itemgetter fetches a whole row in C: this loop is most of compile time on big problems.
    row_of = itemgetter(*nodes) if len(nodes) > 1 else (lambda row: (row[nodes[0]],))
    compute = np.array([row_of(problem.compute[t]) for t in tasks], dtype=float)
    compute = compute.reshape(len(tasks), len(nodes))

    n = len(nodes)
    models = [[problem.links[a][b] if a != b else ZERO_LINK for b in nodes] for a in nodes]
    p = np.array([[m.p for m in row] for row in models], dtype=float).reshape(n, n)
    q = np.array([[m.q for m in row] for row in models], dtype=float).reshape(n, n)
    r = np.array([[m.r for m in row] for row in models], dtype=float).reshape(n, n)

    parent_lists: list[list[int]] = [[] for _ in tasks]
    children: list[list[int]] = [[] for _ in tasks]
    child_bytes: list[list[float]] = [[] for _ in tasks]
    src = np.empty(len(problem.edges), dtype=np.int64)
    dst = np.empty(len(problem.edges), dtype=np.int64)
    nbytes_all = np.empty(len(problem.edges), dtype=float)
    for k, edge in enumerate(problem.edges):
        s, d = task_index[edge.src], task_index[edge.dst]
        nbytes = float(edge.bytes)
        src[k], dst[k], nbytes_all[k] = s, d, nbytes
        parent_lists[d].append(s)
        children[s].append(d)
        child_bytes[s].append(nbytes)
    # Parents of each task as views into one array sorted by child (stable: edge order kept).
    by_dst = np.argsort(dst, kind="stable")
    sorted_src, sorted_bytes = src[by_dst], nbytes_all[by_dst]
    bounds = np.searchsorted(dst[by_dst], np.arange(len(tasks) + 1)).tolist()
    parents = [sorted_src[bounds[i] : bounds[i + 1]] for i in range(len(tasks))]
    parent_bytes = [sorted_bytes[bounds[i] : bounds[i + 1]] for i in range(len(tasks))]

    topo = _kahn(parent_lists, children)
    topo_pos = np.full(len(tasks), len(tasks), dtype=np.int64)
    topo_pos[topo] = np.arange(len(topo))

    pinned = np.full(len(tasks), -1, dtype=np.int64)
    for task, node in problem.pinned.items():
        pinned[task_index[task]] = node_index[node]

    if not np.isfinite(compute).all() or (compute < 0).any():
        raise ValueError("bad compute")

    return ProblemArrays(
        problem=problem,
        tasks=tasks,
        nodes=nodes,
        task_index=task_index,
        node_index=node_index,
        compute=compute,
        p=p,
        q=q,
        r=r,
        has_p=bool(p.any()),
        has_r=bool(r.any()),
        parents=parents,
        parent_bytes=parent_bytes,
        children=children,
        child_bytes=child_bytes,
        topo=topo,
        topo_pos=topo_pos,
        pinned=pinned,
        cap=problem.max_tasks_per_node,
    )


def _kahn(parents: list[list[int]], children: list[list[int]]) -> list[int]:
    waiting = [len(ps) for ps in parents]
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, c)
    return order
