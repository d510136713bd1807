"""Task-graph ordering: a deterministic topological order, and the cycle when there is none.

Hand-written rather than networkx on purpose: every agent imports this module, and networkx
would cost each of a hundred forked agents about 1.2 MiB of private memory (bench/runtime.py)
and every `jupiter` command 0.1 s of start-up; this is also 3.7x faster on 5,000 tasks."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence


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
    children: dict[str, list[str]] = {name: [] for name in parents}
    waiting = {name: len(set(ps)) for name, ps in parents.items()}
    for name, ps in parents.items():
        for parent in dict.fromkeys(ps):
            children[parent].append(name)
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    if len(order) < len(parents):
        raise CycleError(_find_cycle(parents, set(parents) - set(order)))
    return order


def _find_cycle(parents: Mapping[str, Sequence[str]], stuck: set[str]) -> list[str]:
    # Every task left over by Kahn's algorithm has a parent that is also left over, so
    # walking up through left-over parents must revisit a task: that loop is a cycle.
    name = min(stuck, key=list(parents).index)
    path: list[str] = []
    seen: dict[str, int] = {}
    while name not in seen:
        seen[name] = len(path)
        path.append(name)
        name = next(p for p in parents[name] if p in stuck)
    loop = path[seen[name] :]
    loop.reverse()  # we walked child -> parent; report parent -> child
    # Start at the task declared first, so the same cycle is always reported the same way.
    order = list(parents)
    start = loop.index(min(loop, key=order.index))
    loop = loop[start:] + loop[:start]
    return [*loop, loop[0]]
