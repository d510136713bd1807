"""The problem as index arrays, so that algorithms work on all nodes at once with numpy.

Compiling does not re-validate (that costs as much as HEFT itself on big problems); when
compiling trips over bad input it runs `validate()` so the user still gets the clear message.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np

from jupiter.mapper.problem import ZERO_LINK, LinkModel, SchedulingProblem

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


def compile_problem(
    problem: SchedulingProblem,
    *,
    nodes: Sequence[str] | None = None,
    pinned: Mapping[str, str] | None = None,
) -> ProblemArrays:
    """The problem as arrays. `nodes` (a subset of the problem's, in its order) and `pinned`
    replace the problem's own; partial.py uses them for the surviving nodes and the kept
    tasks, and must have checked that the pins name only those nodes."""
    try:
        arrays = _compile(
            problem,
            problem.nodes if nodes is None else nodes,
            problem.pinned if pinned is None else pinned,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        problem.validate()  # raises the precise SpecError
        raise
    if len(arrays.topo) != arrays.n_tasks:
        problem.validate()  # names the cycle
        raise AssertionError("validate() accepted a cyclic problem")
    return arrays


def _compile(
    problem: SchedulingProblem, node_names: Sequence[str], pins: Mapping[str, str]
) -> ProblemArrays:
    tasks = list(problem.tasks)
    nodes = list(node_names)
    task_index = {t: i for i, t in enumerate(tasks)}
    node_index = {n: i for i, n in enumerate(nodes)}
    if len(task_index) != len(tasks) or len(node_index) != len(nodes) or not nodes:
        raise ValueError("duplicate or missing names")

    # itemgetter fetches a whole row in C: this loop is most of compile time on big problems.
    row_of = itemgetter(*nodes) if len(nodes) > 1 else (lambda row: (row[nodes[0]],))
    rows = [row_of(problem.compute[t]) for t in tasks]
    size = len(tasks) * len(nodes)
    compute = np.fromiter(chain.from_iterable(rows), dtype=float, count=size)
    compute = compute.reshape(len(tasks), len(nodes))

    n = len(nodes)
    # Row by row with the same itemgetter, the diagonal set to the zero link (whatever the
    # row says about it): one flat list of n*n models, read three times.
    models: list[LinkModel] = []
    for a in nodes:
        row = dict(problem.links.get(a, {}))  # a lone node needs no row at all
        row[a] = ZERO_LINK
        models.extend(row_of(row))
    p = np.fromiter([m.p for m in models], dtype=float, count=n * n).reshape(n, n)
    q = np.fromiter([m.q for m in models], dtype=float, count=n * n).reshape(n, n)
    r = np.fromiter([m.r for m in models], dtype=float, count=n * n).reshape(n, n)

    parent_lists: list[list[int]] = [[] for _ in tasks]
    children: list[list[int]] = [[] for _ in tasks]
    child_bytes: list[list[float]] = [[] for _ in tasks]
    # Python lists first: storing into numpy arrays one item at a time is slower.
    src_list = [task_index[edge.src] for edge in problem.edges]
    dst_list = [task_index[edge.dst] for edge in problem.edges]
    bytes_list = [float(edge.bytes) for edge in problem.edges]
    for s, d, nbytes in zip(src_list, dst_list, bytes_list, strict=True):
        parent_lists[d].append(s)
        children[s].append(d)
        child_bytes[s].append(nbytes)
    src = np.array(src_list, dtype=np.int64)
    dst = np.array(dst_list, dtype=np.int64)
    nbytes_all = np.array(bytes_list, dtype=float)
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
    for task, node in pins.items():
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
