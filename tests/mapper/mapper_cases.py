"""Problem generators and an independent reference HEFT for the mapper tests."""

from __future__ import annotations

import heapq
import random
from pathlib import Path

from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.schedule import Assignment, Schedule

WORKFLOWS = Path("/work/shared/workflows")
TRACES = sorted(WORKFLOWS.glob("*.json"))


def random_case(
    seed: int, *, integral: bool = False, constrained: bool = True
) -> SchedulingProblem:
    """A small random problem with the awkward corners switched on at random: zero compute,
    zero-byte edges, latency and quadratic link terms, asymmetric links, pins, a tight cap,
    several entry and exit tasks, and a single node."""
    rng = random.Random(seed)
    n_tasks = rng.randint(1, 30)
    n_nodes = rng.choice([1, 2, 3, 4, 6])
    tasks = [f"t{i}" for i in range(n_tasks)]
    nodes = [f"n{j}" for j in range(n_nodes)]

    def value(high: float) -> float:
        if rng.random() < 0.1:
            return 0.0
        return float(rng.randint(1, int(high))) if integral else rng.uniform(0, high)

    compute = {t: {n: value(20) for n in nodes} for t in tasks}
    density = rng.uniform(0.05, 0.4)
    edges = [
        Edge(tasks[i], tasks[j], value(30))
        for i in range(n_tasks)
        for j in range(i + 1, n_tasks)
        if rng.random() < density
    ]
    # Shuffle the task list so that list order is not the topological order.
    rng.shuffle(tasks)
    links: dict[str, dict[str, LinkModel]] = {}
    for a in nodes:
        links[a] = {}
        for b in nodes:
            if a != b:
                p = value(3) if rng.random() < 0.5 else 0.0
                q = value(2)
                r = (value(1) / 100 if not integral else 0.0) if rng.random() < 0.2 else 0.0
                links[a][b] = LinkModel(p, q, r)
    pinned: dict[str, str] = {}
    cap = None
    load: dict[str, dict[str, float]] = {}
    if constrained:
        if rng.random() < 0.3:
            cap = -(-n_tasks // n_nodes) + rng.randint(0, 2)
        for t in tasks:
            if rng.random() < 0.1:
                node = rng.choice(nodes)
                if cap is None or sum(1 for v in pinned.values() if v == node) < cap:
                    pinned[t] = node
        if rng.random() < 0.5:
            load = {n: {"cpu": rng.uniform(0, 100), "memory": rng.uniform(0, 100)} for n in nodes}
    problem = SchedulingProblem(tasks, nodes, compute, edges, links, pinned, cap, load)
    problem.validate()
    return problem


def _topological_positions(problem: SchedulingProblem) -> dict[str, int]:
    index = {t: i for i, t in enumerate(problem.tasks)}
    waiting = {t: 0 for t in problem.tasks}
    for e in problem.edges:
        waiting[e.dst] += 1
    ready = [index[t] for t, w in waiting.items() if w == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        t = problem.tasks[heapq.heappop(ready)]
        order.append(t)
        for e in problem.edges:
            if e.src == t:
                waiting[e.dst] -= 1
                if waiting[e.dst] == 0:
                    heapq.heappush(ready, index[e.dst])
    return {t: i for i, t in enumerate(order)}


def reference_heft(problem: SchedulingProblem) -> Schedule:
    """HEFT written the slow, obvious way, straight from the paper: for every node, scan
    every gap. No pins, no cap. Same documented tie-breaks as jupiter.mapper.heft."""
    nodes = problem.nodes
    pairs = [(a, b) for a in nodes for b in nodes if a != b]

    def mean_comm(nbytes: float) -> float:
        if not pairs:
            return 0.0
        return sum(problem.links[a][b].seconds(nbytes) for a, b in pairs) / len(pairs)

    rank: dict[str, float] = {}

    def upward(t: str) -> float:
        if t not in rank:
            mean_w = sum(problem.compute[t][n] for n in nodes) / len(nodes)
            tail = max(
                (mean_comm(e.bytes) + upward(e.dst) for e in problem.edges if e.src == t),
                default=0.0,
            )
            rank[t] = mean_w + tail
        return rank[t]

    pos = _topological_positions(problem)
    order = sorted(problem.tasks, key=lambda t: (-float(f"{upward(t):.12g}"), pos[t]))
    busy: dict[str, list[tuple[float, float]]] = {n: [] for n in nodes}
    placed: dict[str, Assignment] = {}
    for t in order:
        best: tuple[float, float, str] | None = None
        for n in nodes:
            ready = 0.0
            for e in problem.edges:
                if e.dst == t:
                    parent = placed[e.src]
                    arrival = parent.finish + problem.transfer_seconds(parent.node, n, e.bytes)
                    ready = max(ready, arrival)
            w = problem.compute[t][n]
            start = None
            previous_end = 0.0
            for s, f in sorted(busy[n]):
                candidate = max(ready, previous_end)
                if candidate + w <= s:
                    start = candidate
                    break
                previous_end = f
            if start is None:
                start = max(ready, previous_end)
            if best is None or start + w < best[1]:
                best = (start, start + w, n)
        assert best is not None
        start, finish, node = best
        busy[node].append((start, finish))
        placed[t] = Assignment(t, node, start, finish)
    return Schedule("reference-heft", placed)
