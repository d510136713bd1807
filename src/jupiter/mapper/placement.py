"""Placement state of a list scheduler: where and when each placed task runs.

Shared by HEFT and CPOP. `earliest_finish` is the vectorised insertion-based EFT over all
nodes; ties in finish time go to the node listed first in `nodes`. `earliest_on` is the same
search on one node, for a task that has only one choice: a pinned task, or a task a partial
schedule keeps where it is (most of the tasks when one node's tasks are re-mapped).
"""

from __future__ import annotations

import numpy as np

from jupiter.mapper.arrays import ProblemArrays
from jupiter.mapper.capacity import Capacity
from jupiter.mapper.schedule import Assignment, Schedule
from jupiter.mapper.timeline import Timelines


class Placement:
    def __init__(self, arrays: ProblemArrays) -> None:
        self.a = arrays
        n_tasks, n_nodes = arrays.n_tasks, arrays.n_nodes
        self.node_of = np.full(n_tasks, -1, dtype=np.int64)
        self.start = np.zeros(n_tasks)
        self.finish = np.zeros(n_tasks)
        self.timelines = Timelines(n_nodes)
        self.capacity = Capacity(arrays)
        self._zeros = np.zeros(n_nodes)
        self._zeros.flags.writeable = False

    def data_ready(self, task: int) -> np.ndarray:
        """Time at which all inputs of `task` could be on each node (vector over nodes)."""
        a = self.a
        parents = a.parents[task]
        if parents.size == 0:
            return self._zeros
        src = self.node_of[parents]
        nbytes = a.parent_bytes[task]
        if parents.size == 1:
            s, b = src[0], nbytes[0]
            ready = self.finish[parents[0]] + a.q[s] * b
            if a.has_p:
                ready += a.p[s]
            if a.has_r:
                ready += a.r[s] * (b * b)
            return ready
        arrival = a.q[src] * nbytes[:, None]
        if a.has_p:
            arrival += a.p[src]
        if a.has_r:
            arrival += a.r[src] * (nbytes * nbytes)[:, None]
        arrival += self.finish[parents][:, None]
        return arrival.max(axis=0)

    def earliest_finish(self, task: int) -> tuple[int, float, int]:
        """(node, start, slot) minimising the finish time of `task`, insertion allowed."""
        timelines = self.timelines
        ready = self.data_ready(task)
        duration = self.a.compute[task]
        start = np.maximum(ready, timelines.end)
        finish = start + duration
        allowed = self.capacity.allowed(task)
        if self.capacity.constrained:
            finish = np.where(allowed, finish, np.inf)
        best = finish.min()
        # Only nodes that are busy past `ready` and have a long enough gap can do better
        # than appending, and only if even starting at `ready` would beat the best append.
        maybe = (
            (ready < timelines.end) & (timelines.max_gap >= duration) & (ready + duration <= best)
        )
        if self.capacity.constrained:
            maybe &= allowed
        slots: dict[int, int] = {}
        for node in np.flatnonzero(maybe).tolist():
            begin, slot = timelines.earliest_start(node, float(ready[node]), float(duration[node]))
            if begin < start[node]:
                start[node] = begin
                finish[node] = begin + duration[node]
                slots[node] = slot
        node = int(np.argmin(finish))
        if not np.isfinite(finish[node]):
            raise AssertionError("no node has room; the problem should have failed validation")
        slot = slots.get(node, len(timelines.starts[node]))
        return node, float(start[node]), slot

    def ready_on(self, task: int, node: int) -> float:
        """`data_ready(task)[node]` without the other nodes: the same operations in the same
        order, so the same bits, for a task that can only go to `node` (pinned or kept)."""
        a = self.a
        parents = a.parents[task]
        if parents.size == 0:
            return 0.0
        src = self.node_of[parents]
        nbytes = a.parent_bytes[task]
        if parents.size == 1:
            s, b = src[0], nbytes[0]
            ready = self.finish[parents[0]] + a.q[s, node] * b
            if a.has_p:
                ready += a.p[s, node]
            if a.has_r:
                ready += a.r[s, node] * (b * b)
            return float(ready)
        arrival = a.q[src, node] * nbytes
        if a.has_p:
            arrival += a.p[src, node]
        if a.has_r:
            arrival += a.r[src, node] * (nbytes * nbytes)
        arrival += self.finish[parents]
        return float(arrival.max())

    def earliest_on(self, task: int, node: int) -> tuple[float, int]:
        """(start, slot) of the earliest insertion-based start of `task` on `node`."""
        ready = self.ready_on(task, node)
        return self.timelines.earliest_start(node, ready, float(self.a.compute[task, node]))

    def place(self, task: int, node: int, start: float, slot: int) -> None:
        finish = start + float(self.a.compute[task, node])
        self.node_of[task] = node
        self.start[task] = start
        self.finish[task] = finish
        self.timelines.insert(node, slot, start, finish)
        self.capacity.take(task, node)

    def schedule(self, algorithm: str) -> Schedule:
        nodes = self.a.nodes
        # tolist() once: Python ints and floats, the same values, without a numpy scalar each.
        a = self.a
        rows = zip(
            a.tasks, self.node_of.tolist(), self.start.tolist(), self.finish.tolist(), strict=True
        )
        return Schedule(
            algorithm,
            {t: Assignment(t, nodes[node], start, finish) for t, node, start, finish in rows},
        )
