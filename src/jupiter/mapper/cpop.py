"""CPOP: Critical Path On a Processor (Topcuoglu, Hariri and Wu, TPDS 2002).

Priority = upward rank + downward rank. The critical path starts at the entry task of
highest priority and follows, at each step, a child whose priority equals it; the
critical-path node is the one with the least total compute over that path. Ready tasks
are taken by decreasing priority: critical-path tasks go to the critical-path node
(insertion-based earliest start there), the others to their insertion-based earliest
finish node, as in HEFT.

Tie-breaks: equal priorities (to 12 significant digits) -> earlier in the topological
order that takes the ready task listed first in `tasks`; this also picks among several
entry tasks or children on the critical path. Equal totals for the critical-path node and
equal finish times -> the node listed first in `nodes`.

Pins win over the critical-path node; when the critical-path node is at the cap, a
critical-path task falls back to its earliest-finish node among those with room. A partial
schedule pins the kept tasks and removes the excluded nodes, so the critical path and its
node are chosen among the surviving nodes.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping

import numpy as np

from jupiter.mapper.arrays import ProblemArrays
from jupiter.mapper.partial import compile_partial
from jupiter.mapper.placement import Placement
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.ranks import comparable, downward_ranks, upward_ranks
from jupiter.mapper.schedule import Schedule

NAME = "cpop"


def critical_path(a: ProblemArrays, priority: list[float]) -> list[int]:
    entries = [t for t in a.topo if a.parents[t].size == 0]
    head = max(entries, key=lambda t: (priority[t], -a.topo_pos[t]))
    length = priority[head]
    path = [head]
    while True:
        on_path = [c for c in a.children[path[-1]] if priority[c] == length]
        if not on_path:
            return path
        path.append(min(on_path, key=lambda c: a.topo_pos[c]))


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> Schedule:
    """CPOP; `existing` tasks keep their nodes, `exclude`d nodes take nothing (partial.py)."""
    a = compile_partial(problem, existing, exclude)
    exact = [u + d for u, d in zip(upward_ranks(a), downward_ranks(a), strict=True)]
    priority = comparable(exact)
    path = critical_path(a, priority)
    on_path = np.zeros(a.n_tasks, dtype=bool)
    on_path[path] = True
    path_node = int(np.argmin(a.compute[path].sum(axis=0)))

    placement = Placement(a)
    capacity = placement.capacity
    waiting = [int(ps.size) for ps in a.parents]
    ready = [(-priority[t], int(a.topo_pos[t]), t) for t in range(a.n_tasks) if waiting[t] == 0]
    heapq.heapify(ready)
    while ready:
        _, _, task = heapq.heappop(ready)
        pin = capacity.pin(task)
        if pin is not None:
            start, slot = placement.earliest_on(task, pin)
            placement.place(task, pin, start, slot)
        elif on_path[task] and capacity.has_room(task, path_node):
            start, slot = placement.earliest_on(task, path_node)
            placement.place(task, path_node, start, slot)
        else:
            node, start, slot = placement.earliest_finish(task)
            placement.place(task, node, start, slot)
        for child in a.children[task]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (-priority[child], int(a.topo_pos[child]), child))
    return placement.schedule(NAME)
