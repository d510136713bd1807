"""Start and finish times for a fixed mapping, as the runtime would produce them.

Every node runs one task at a time, first come first served: among the tasks whose inputs
are all computed, the one that can start earliest starts next (ties: earlier in the
topological order). No task is slipped into an earlier gap; that is what the mappers that
only choose nodes (WAVE, the baselines) get from the real executors too.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from jupiter.mapper.arrays import ProblemArrays, compile_problem
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Assignment, Schedule


def simulate(
    problem: SchedulingProblem,
    mapping: Mapping[str, str],
    algorithm: str,
    arrays: ProblemArrays | None = None,
) -> Schedule:
    a = arrays if arrays is not None else compile_problem(problem)
    node_of = [a.node_index[mapping[t]] for t in a.tasks]
    return simulate_indices(a, node_of, algorithm)


def simulate_indices(a: ProblemArrays, node_of: list[int], algorithm: str) -> Schedule:
    compute = a.compute.tolist()
    p, q, r = a.p.tolist(), a.q.tolist(), a.r.tolist()
    pos = a.topo_pos.tolist()
    ready = [0.0] * a.n_tasks
    waiting = [int(ps.size) for ps in a.parents]
    free = [0.0] * a.n_nodes
    start = [0.0] * a.n_tasks
    finish = [0.0] * a.n_tasks

    heap = [(0.0, pos[t], t) for t in range(a.n_tasks) if waiting[t] == 0]
    heapq.heapify(heap)
    while heap:
        key, _, t = heapq.heappop(heap)
        node = node_of[t]
        # Keys are lower bounds that go stale as nodes fill up; re-queue until current.
        begin = max(ready[t], free[node])
        if begin > key:
            heapq.heappush(heap, (begin, pos[t], t))
            continue
        end = begin + compute[t][node]
        start[t], finish[t] = begin, end
        free[node] = end
        for c, nbytes in zip(a.children[t], a.child_bytes[t], strict=True):
            dst = node_of[c]
            arrival = end
            if dst != node:
                arrival += p[node][dst] + q[node][dst] * nbytes + r[node][dst] * nbytes * nbytes
            if arrival > ready[c]:
                ready[c] = arrival
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(heap, (max(ready[c], free[dst]), pos[c], c))

    return Schedule(
        algorithm,
        {
            name: Assignment(name, a.nodes[node_of[i]], start[i], finish[i])
            for i, name in enumerate(a.tasks)
        },
    )
