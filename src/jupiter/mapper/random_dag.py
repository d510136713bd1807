"""Random DAGs with the parameters of the HEFT paper (Topcuoglu et al., TPDS 2002, 5.1).

- `v` tasks, laid out in levels: level widths are drawn uniformly with mean alpha*sqrt(v)
  (from 1 to 2*alpha*sqrt(v) - 1) until `v` tasks are placed, so the height has mean
  sqrt(v)/alpha. Small `alpha`: long thin graphs; large `alpha`: short wide ones.
- Every task sends to `out_degree` distinct tasks of the next level (all of it if
  narrower); a task left without a parent gets one from the level above.
- Mean compute `mean_compute` (w_DAG); each task's mean w_i ~ U[0, 2 w_DAG]; with the
  paper's model its time on node j is ~ U[w_i (1 - beta/2), w_i (1 + beta/2)].
- Each edge costs ~ U[0, 2 CCR w_DAG] seconds on the average link, so the
  communication-to-computation ratio is CCR.

Without a network the links are the paper's (1 s per byte, so bytes = cost). With a
`Network` the machines are related instead: compute = w_i / speed and the bytes are set so
the mean transfer over the network's links matches the drawn cost (`beta` is then unused).
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from jupiter.mapper.network import Network
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem


def random_levels(v: int, alpha: float, rng: np.random.Generator) -> list[list[int]]:
    mean_width = alpha * math.sqrt(v)
    widest = max(1, round(2 * mean_width - 1))
    levels: list[list[int]] = []
    placed = 0
    while placed < v:
        width = min(int(rng.integers(1, widest + 1)), v - placed)
        levels.append(list(range(placed, placed + width)))
        placed += width
    return levels


def random_edges(
    levels: list[list[int]], out_degree: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    edges: list[tuple[int, int]] = []
    for upper, lower in pairwise(levels):
        has_parent: set[int] = set()
        k = min(out_degree, len(lower))
        for task in upper:
            for child in sorted(rng.choice(lower, size=k, replace=False).tolist()):
                edges.append((task, child))
                has_parent.add(child)
        for child in lower:
            if child not in has_parent:
                edges.append((int(rng.choice(upper)), child))
    return edges


def random_problem(
    v: int,
    nodes: int,
    *,
    ccr: float = 1.0,
    alpha: float = 1.0,
    out_degree: int = 3,
    beta: float = 0.5,
    mean_compute: float | None = None,
    network: Network | None = None,
    seed: int = 0,
) -> SchedulingProblem:
    if v < 1 or out_degree < 1 or alpha <= 0 or ccr < 0 or not 0 <= beta <= 2:
        raise ValueError("need v >= 1, out_degree >= 1, alpha > 0, ccr >= 0, 0 <= beta <= 2")
    if network is not None and len(network.nodes) != nodes:
        raise ValueError(f"network has {len(network.nodes)} nodes, not {nodes}")
    rng = np.random.default_rng(seed)
    w_dag = float(rng.uniform(10, 100)) if mean_compute is None else mean_compute
    levels = random_levels(v, alpha, rng)
    pairs = random_edges(levels, out_degree, rng)
    width = len(str(v))
    tasks = [f"t{i + 1:0{width}d}" for i in range(v)]
    mean_w = rng.uniform(0, 2 * w_dag, size=v)
    costs = rng.uniform(0, 2 * ccr * w_dag, size=len(pairs))

    if network is None:
        node_names = [f"p{j + 1:0{len(str(nodes))}d}" for j in range(nodes)]
        spread = rng.uniform(1 - beta / 2, 1 + beta / 2, size=(v, nodes))
        compute = mean_w[:, None] * spread
        unit = LinkModel(0.0, 1.0, 0.0)
        links = {a: {b: unit for b in node_names if b != a} for a in node_names}
        nbytes = costs
    else:
        node_names = list(network.nodes)
        speed = np.array([network.speeds[n] for n in node_names])
        compute = mean_w[:, None] / speed[None, :]
        # Rescale so that the mean over tasks of their mean compute stays w_dag.
        compute *= w_dag / max(compute.mean(), 1e-300)
        links = {a: dict(row) for a, row in network.links.items()}
        models = [links[a][b] for a in node_names for b in node_names if a != b]
        mean_p = float(np.mean([m.p for m in models])) if models else 0.0
        mean_q = float(np.mean([m.q for m in models])) if models else 0.0
        nbytes = np.maximum(costs - mean_p, 0.0) / mean_q if mean_q > 0 else np.zeros_like(costs)

    return SchedulingProblem(
        tasks=tasks,
        nodes=node_names,
        compute={
            t: dict(zip(node_names, row.tolist(), strict=True))
            for t, row in zip(tasks, compute, strict=True)
        },
        edges=[Edge(tasks[s], tasks[d], float(b)) for (s, d), b in zip(pairs, nbytes, strict=True)],
        links=links,
    )
