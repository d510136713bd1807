"""Upward and downward ranks (Topcuoglu, Hariri and Wu, TPDS 2002, section 4.1).

Costs are averaged the paper's way: the mean compute time of a task over all nodes, and the
mean transfer time of an edge over ordered pairs of distinct nodes.
"""

from __future__ import annotations

import numpy as np

from jupiter.mapper.arrays import ProblemArrays

# Ranks equal in exact arithmetic can differ in the last bits after float sums along
# different paths (the paper's own example has two ranks of exactly 80). Comparing them
# at 12 significant digits lets the documented tie-break decide instead of rounding noise.
SIGNIFICANT_DIGITS = 12


def upward_ranks(a: ProblemArrays) -> list[float]:
    mean_compute = a.compute.mean(axis=1).tolist()
    mp, mq, mr = a.mean_link()
    rank = [0.0] * a.n_tasks
    for t in reversed(a.topo):
        tail = 0.0
        for c, nbytes in zip(a.children[t], a.child_bytes[t], strict=True):
            via = mp + mq * nbytes + mr * nbytes * nbytes + rank[c]
            if via > tail:
                tail = via
        rank[t] = mean_compute[t] + tail
    return rank


def downward_ranks(a: ProblemArrays) -> list[float]:
    mean_compute = a.compute.mean(axis=1).tolist()
    mp, mq, mr = a.mean_link()
    rank = [0.0] * a.n_tasks
    for t in a.topo:
        head = rank[t] + mean_compute[t]
        for c, nbytes in zip(a.children[t], a.child_bytes[t], strict=True):
            via = head + mp + mq * nbytes + mr * nbytes * nbytes
            if via > rank[c]:
                rank[c] = via
    return rank


def comparable(values: list[float]) -> list[float]:
    """Values rounded to SIGNIFICANT_DIGITS, for comparisons that should see exact ties."""
    return [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values]


def by_decreasing(values: list[float], a: ProblemArrays) -> list[int]:
    """Task indices by decreasing value; ties go to the earlier task in `a.topo`.

    With non-negative costs a parent's upward rank is never below its child's, and the
    topological tie-break keeps the order a valid one even where they are equal.
    """
    keys = np.array(comparable(values))
    return np.lexsort((a.topo_pos, -keys)).tolist()
