"""Stream-aware mapping: the least bottleneck period within a makespan bound, seeded from HEFT.

HEFT minimises one input's makespan on an idle cluster. A stream's throughput is set by its
*period*, the busiest resource's work per input:

- a node's period is the compute of the tasks mapped to it (a node runs one task at a time);
- a directed link's period is the time its bytes occupy it: `q*bytes + r*bytes^2` summed
  over the edges whose parent is on its source node and child on its destination node. The
  latency term `p` delays the data but does not occupy the link: links are pipelined.

In steady state a stream cannot complete more than one input per period.

The search starts from HEFT's mapping (with the same partial schedule, pins and cap) and
moves one task at a time off the bottleneck: every unpinned task on the bottleneck node (or
at either end of an edge over the bottleneck link) is tried on every other node with room.
A move is taken only if it strictly improves (period, number of resources at the period),
compared lexicographically, and the single-input makespan of the new mapping stays within
`(1 + slack)` times that of HEFT's mapping. Both makespans are those of `simulate.py` (one
task at a time per node, first come first served), as the runtime runs a mapping, so
`Schedule.makespan` is the single-input makespan and the bound is against HEFT's mapping run
the same way.

Moves are evaluated incrementally: node and link loads are kept as arrays, and a task's
move to every node at once is a few numpy rows (its node, the links of its parents and
children). Candidates are ranked by (new period, resources at it, task in `tasks` order,
node in `nodes` order); the makespan of at most MAX_CHECKS_PER_STEP of them is simulated
per step, and the first within the bound is taken. The search stops when no candidate
improves or none of those checked fits the bound.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from jupiter.mapper import heft
from jupiter.mapper.arrays import ProblemArrays
from jupiter.mapper.partial import compile_partial
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.simulate import simulate_indices

NAME = "stream"

# The makespan may grow to (1 + slack) x HEFT's: a quarter buys most of the period on the
# bench instances, and a stream's makespan is dominated by queueing at the bottleneck anyway.
DEFAULT_SLACK = 0.25

# Simulations of candidate moves per step; the best-ranked are tried first.
MAX_CHECKS_PER_STEP = 16

# The busiest loads looked at for the largest one a move leaves alone.
TOP_LOADS = 64

# Loads within this relative distance of the period count as being at the period, so that
# float noise in the incremental sums neither blocks nor fakes an improvement.
RELATIVE_TOLERANCE = 1e-9


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    slack: float = DEFAULT_SLACK,
) -> Schedule:
    """The stream-aware schedule; `existing` and `exclude` as for every built-in (partial.py).

    The makespan is at most `(1 + slack)` times that of HEFT's mapping, and the period is
    never worse than HEFT's mapping's.
    """
    if not slack >= 0.0:
        raise ValueError(f"slack must be a number >= 0, not {slack!r}")
    seed = heft.schedule(problem, existing=existing, exclude=exclude)
    arrays = compile_partial(problem, existing, exclude)
    node_of = [arrays.node_index[seed.node_of(task)] for task in arrays.tasks]
    search = _Search(arrays, node_of)
    search.improve(bound=(1.0 + slack) * max(search.finish, default=0.0))
    return simulate_indices(arrays, search.node_of, NAME)


@dataclass(frozen=True)
class Bottleneck:
    """The busiest resource of a mapping: a node, or a link as (source, destination)."""

    resource: str | tuple[str, str]
    seconds: float


def bottleneck(problem: SchedulingProblem, mapping: Mapping[str, str]) -> Bottleneck:
    """The busiest node or link of `mapping` and its work per input (ties: nodes first, in
    `nodes` order, then links by source and destination in `nodes` order)."""
    node_load = {node: 0.0 for node in problem.nodes}
    for task in problem.tasks:
        node = mapping[task]
        node_load[node] += problem.compute[task][node]
    link_load: dict[tuple[str, str], float] = {}
    for edge in problem.edges:
        src, dst = mapping[edge.src], mapping[edge.dst]
        if src != dst:
            model = problem.links[src][dst]
            busy = model.q * edge.bytes + model.r * edge.bytes * edge.bytes
            link_load[(src, dst)] = link_load.get((src, dst), 0.0) + busy
    best = Bottleneck(problem.nodes[0], node_load[problem.nodes[0]])
    for node in problem.nodes:
        if node_load[node] > best.seconds:
            best = Bottleneck(node, node_load[node])
    order = {node: i for i, node in enumerate(problem.nodes)}
    for link in sorted(link_load, key=lambda pair: (order[pair[0]], order[pair[1]])):
        if link_load[link] > best.seconds:
            best = Bottleneck(link, link_load[link])
    return best


def period(problem: SchedulingProblem, mapping: Mapping[str, str]) -> float:
    """Seconds per input of the busiest node or link: a stream's steady-state interval."""
    return bottleneck(problem, mapping).seconds


class _Search:
    """Node and link loads of one mapping, kept up to date move by move.

    `load` is one vector: the node loads first, then the link loads row by row (source,
    destination), so the period and its ties are one max over it.
    """

    def __init__(self, a: ProblemArrays, node_of: list[int]) -> None:
        self.a = a
        self.node_of = list(node_of)
        n = a.n_nodes
        self.n = n
        self.q, self.r = a.q, a.r
        self.compute = a.compute
        self.pinned = a.pinned.tolist()
        # Parents and children grouped per task as (task, bytes) lists for the updates.
        self.parents = [
            list(zip(ps.tolist(), bs.tolist(), strict=True))
            for ps, bs in zip(a.parents, a.parent_bytes, strict=True)
        ]
        self.children = [
            list(zip(cs, bs, strict=True)) for cs, bs in zip(a.children, a.child_bytes, strict=True)
        ]
        self.load = np.zeros(n + n * n)
        self.nodes_load = self.load[:n]
        self.links_load = self.load[n:].reshape(n, n)
        self.count = np.zeros(n, dtype=np.int64)
        for t, node in enumerate(self.node_of):
            self.nodes_load[node] += a.compute[t, node]
            self.count[node] += 1
        for t in range(a.n_tasks):
            for c, nbytes in self.children[t]:
                self._add_edge(self.node_of[t], self.node_of[c], nbytes, 1.0)
        # The makespan simulation reads Python lists, built once (simulate.py builds them
        # on every call, which would cost more than the search itself).
        self._compute_rows = a.compute.tolist()
        self._p, self._q, self._r = a.p.tolist(), a.q.tolist(), a.r.tolist()
        self._pos = a.topo_pos.tolist()
        self._n_parents = [int(ps.size) for ps in a.parents]
        self._entries = sorted(
            (0.0, self._pos[t], t) for t in range(a.n_tasks) if self._n_parents[t] == 0
        )
        # Finish times of the current mapping for one input, kept with each accepted move.
        self.finish = self.finish_times(self.node_of)

    # ---- loads -----------------------------------------------------------------------------

    def _busy(self, src: int, dst: int, nbytes: float) -> float:
        return float(self.q[src, dst] * nbytes + self.r[src, dst] * nbytes * nbytes)

    def _add_edge(self, src: int, dst: int, nbytes: float, sign: float) -> None:
        if src != dst:
            self.links_load[src, dst] += sign * self._busy(src, dst, nbytes)

    def move(self, t: int, to: int) -> None:
        was = self.node_of[t]
        for u, nbytes in self.parents[t]:
            self._add_edge(self.node_of[u], was, nbytes, -1.0)
        for c, nbytes in self.children[t]:
            self._add_edge(was, self.node_of[c], nbytes, -1.0)
        self.nodes_load[was] -= self.compute[t, was]
        self.count[was] -= 1
        self.node_of[t] = to
        self.nodes_load[to] += self.compute[t, to]
        self.count[to] += 1
        for u, nbytes in self.parents[t]:
            self._add_edge(self.node_of[u], to, nbytes, 1.0)
        for c, nbytes in self.children[t]:
            self._add_edge(to, self.node_of[c], nbytes, 1.0)

    # ---- the search ------------------------------------------------------------------------

    def improve(self, bound: float) -> None:
        # Each step strictly lowers (period, resources at it), so the search ends; the
        # guard only bounds a pathological float case.
        for _ in range(50 * max(1, self.a.n_tasks)):
            if not self._step(bound):
                return

    def _step(self, bound: float) -> bool:
        period = float(self.load.max())
        if period <= 0.0:
            return False
        floor = period * (1.0 - RELATIVE_TOLERANCE)
        at_period = int(np.count_nonzero(self.load >= floor))
        order = np.argsort(-self.load, kind="stable")
        top = order[: at_period + TOP_LOADS].tolist()
        tail = self._tails()
        candidates: list[tuple[float, float, int, int]] = []
        # The busiest resources in index order (nodes, then links); the first that any move
        # improves gives this step's candidates.
        for resource in order[:at_period].tolist():
            for t in self._tasks_on(resource):
                reach = self._path_through(t, tail)
                improves, new_period = self._moves(t, period, floor, at_period, top)
                improves &= reach <= bound
                candidates.extend(
                    (float(reach[x]), float(new_period[x]), t, x)
                    for x in np.flatnonzero(improves).tolist()
                )
            if candidates:
                break
        candidates.sort()
        for _, _, t, to in candidates[:MAX_CHECKS_PER_STEP]:
            was = self.node_of[t]
            self.node_of[t] = to
            finish = self.finish_times(self.node_of)
            self.node_of[t] = was
            if max(finish, default=0.0) <= bound:
                self.move(t, to)
                self.finish = finish
                return True
        return False

    def _tasks_on(self, resource: int) -> list[int]:
        """Unpinned tasks whose move changes this resource's load, in `tasks` order."""
        n = self.n
        if resource < n:
            found = [t for t, node in enumerate(self.node_of) if node == resource]
        else:
            src, dst = divmod(resource - n, n)
            ends: set[int] = set()
            for t, node in enumerate(self.node_of):
                if node == src:
                    for c, _ in self.children[t]:
                        if self.node_of[c] == dst:
                            ends.update((t, c))
            found = sorted(ends)
        return [t for t in found if self.pinned[t] < 0]

    def _moves(
        self, t: int, period: float, floor: float, at_period: int, top: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per destination node: whether moving `t` there improves, and the new period."""
        n, s = self.n, self.node_of[t]
        q, r, links = self.q, self.r, self.links_load
        into = _group(self.parents[t], self.node_of)  # parent node -> (sum b, sum b^2)
        out_of = _group(self.children[t], self.node_of)
        # Loads that drop wherever t goes: the node it leaves, the links from its parents'
        # nodes into s and from s to its children's nodes.
        dropped = [s]
        fixed = [float(self.nodes_load[s] - self.compute[t, s])]
        parent_drop: dict[int, float] = {}
        child_drop: dict[int, float] = {}
        for m, (b1, b2) in into.items():
            if m != s:
                parent_drop[m] = float(q[m, s] * b1 + r[m, s] * b2)
                dropped.append(n + m * n + s)
        for m, (b1, b2) in out_of.items():
            if m != s:
                child_drop[m] = float(q[s, m] * b1 + r[s, m] * b2)
                dropped.append(n + s * n + m)
        # Rows over the destination x: `new` holds the loads after the move (those that
        # rise, and dropped links that a collision below makes x-dependent), `old` the same
        # rising loads before it, so that each resource is counted once.
        new = [self.nodes_load + self.compute[t]]
        old = [self.nodes_load.copy()]
        for m, drop in parent_drop.items():
            row = np.full(n, links[m, s] - drop)
            # Moved onto its parent's node m, the link (m, s) also carries t's output to a
            # child left on s: the children's row below has that load.
            if s in out_of:
                row[m] = -np.inf
            new.append(row)
        for m, drop in child_drop.items():
            row = np.full(n, links[s, m] - drop)
            if s in into:
                row[m] = -np.inf
            new.append(row)
        for m, (b1, b2) in into.items():
            row = links[m] + q[m] * b1 + r[m] * b2  # the link (m, x)
            before = links[m].copy()
            if m == s:
                for c_node, drop in child_drop.items():  # (s, x) is also a dropped link
                    row[c_node] -= drop
                    before[c_node] = -np.inf
            row[m] = before[m] = -np.inf
            new.append(row)
            old.append(before)
        for m, (b1, b2) in out_of.items():
            row = links[:, m] + q[:, m] * b1 + r[:, m] * b2  # the link (x, m)
            before = links[:, m].copy()
            if m == s:
                for p_node, drop in parent_drop.items():
                    row[p_node] -= drop
                    before[p_node] = -np.inf
            row[m] = before[m] = -np.inf
            new.append(row)
            old.append(before)
        after = np.vstack(new)
        changed = np.maximum(after.max(axis=0), max(fixed))
        changed_at = np.count_nonzero(after >= floor, axis=0) + sum(v >= floor for v in fixed)
        rising_at = np.count_nonzero(np.vstack(old) >= floor, axis=0)

        # The busiest load that does not drop: its old value, a lower bound where it rises.
        skip = set(dropped)
        rest = next((float(self.load[i]) for i in top if i not in skip), None)
        if rest is None:  # every one of the busiest drops: look further
            kept = np.ones(self.load.size, dtype=bool)
            kept[dropped] = False
            rest = float(self.load[kept].max(initial=0.0))
        if rest >= floor:
            rest = period  # a tie with the period is the period
        dropped_at = sum(1 for i in skip if self.load[i] >= floor)

        new_period = np.maximum(changed, rest)
        new_at = at_period - dropped_at - rising_at + changed_at
        better = (new_period < floor) | (new_at < at_period)
        better[s] = False
        if self.a.cap is not None:
            better &= self.count < self.a.cap
        return better, new_period

    # ---- one input's makespan, as simulate.py computes it ---------------------------------

    def _tails(self) -> list[float]:
        """Per task, the longest path from its start to an exit on the current mapping."""
        node_of, compute = self.node_of, self._compute_rows
        p, q, r = self._p, self._q, self._r
        tail = [0.0] * self.a.n_tasks
        for t in reversed(self.a.topo):
            node = node_of[t]
            longest = 0.0
            for c, nbytes in self.children[t]:
                dst = node_of[c]
                via = tail[c]
                if dst != node:
                    via += p[node][dst] + q[node][dst] * nbytes + r[node][dst] * nbytes * nbytes
                longest = max(longest, via)
            tail[t] = compute[t][node] + longest
        return tail

    def _path_through(self, t: int, tail: list[float]) -> np.ndarray:
        """Per destination node, the length of the longest path through `t` moved there.

        A lower bound on the makespan after the move: t's ancestors finish before it starts,
        so the move cannot change when they do, and the chain parent, t, child, ... to an
        exit runs in sequence whatever else waits. Moves past the bound are not simulated.
        """
        finish = self.finish
        a = self.a
        start = np.zeros(self.n)
        for u, nbytes in self.parents[t]:
            m = self.node_of[u]
            arrival = finish[u] + a.p[m] + a.q[m] * nbytes + a.r[m] * nbytes * nbytes
            arrival[m] = finish[u]
            np.maximum(start, arrival, out=start)
        after = np.zeros(self.n)
        for c, nbytes in self.children[t]:
            m = self.node_of[c]
            via = tail[c] + a.p[:, m] + a.q[:, m] * nbytes + a.r[:, m] * nbytes * nbytes
            via[m] = tail[c]
            np.maximum(after, via, out=after)
        return start + self.compute[t] + after

    def makespan(self, node_of: list[int]) -> float:
        return max(self.finish_times(node_of), default=0.0)

    def finish_times(self, node_of: list[int]) -> list[float]:
        """The finish times simulate_indices gives, without building a Schedule: the same
        arithmetic in the same order, so the two agree to the last bit (a test checks it)."""
        compute, p, q, r, pos = self._compute_rows, self._p, self._q, self._r, self._pos
        children = self.a.children
        child_bytes = self.a.child_bytes
        ready = [0.0] * self.a.n_tasks
        waiting = list(self._n_parents)
        free = [0.0] * self.n
        finish = [0.0] * self.a.n_tasks
        heap = list(self._entries)  # sorted, hence a heap
        while heap:
            key, _, t = heapq.heappop(heap)
            node = node_of[t]
            begin = max(ready[t], free[node])
            if begin > key:
                heapq.heappush(heap, (begin, pos[t], t))
                continue
            end = begin + compute[t][node]
            free[node] = finish[t] = end
            for c, nbytes in zip(children[t], child_bytes[t], strict=True):
                dst = node_of[c]
                arrival = end
                if dst != node:
                    arrival += p[node][dst] + q[node][dst] * nbytes + r[node][dst] * nbytes * nbytes
                if arrival > ready[c]:
                    ready[c] = arrival
                waiting[c] -= 1
                if waiting[c] == 0:
                    heapq.heappush(heap, (max(ready[c], free[dst]), pos[c], c))
        return finish


def _group(edges: list[tuple[int, float]], node_of: list[int]) -> dict[int, tuple[float, float]]:
    """Edge bytes per node of the other end: node -> (sum of bytes, sum of bytes squared)."""
    sums: dict[int, tuple[float, float]] = {}
    for other, nbytes in edges:
        b1, b2 = sums.get(node_of[other], (0.0, 0.0))
        sums[node_of[other]] = (b1 + nbytes, b2 + nbytes * nbytes)
    return sums
