"""Random baseline: each task on a node drawn uniformly among those with room.

Seeded (seed 0 by default), so the same problem always gives the same schedule.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping

import numpy as np

from jupiter.mapper.capacity import Capacity
from jupiter.mapper.partial import compile_partial
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.simulate import simulate_indices

NAME = "random"


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    seed: int = 0,
) -> Schedule:
    a = compile_partial(problem, existing, exclude)
    rng = random.Random(seed)
    capacity = Capacity(a)
    node_of = [0] * a.n_tasks
    for task in a.topo:
        if capacity.constrained:
            node = rng.choice(np.flatnonzero(capacity.allowed(task)).tolist())
        else:
            node = rng.randrange(a.n_nodes)
        capacity.take(task, node)
        node_of[task] = node
    return simulate_indices(a, node_of, NAME)
