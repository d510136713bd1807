""" "All on the fastest node" baseline: no transfers, no parallelism.

The fastest node is the one with the least total compute over all tasks (ties: first in
`nodes`). Pinned tasks stay on their nodes; with a cap, the fastest node takes tasks in
topological order until full and the next fastest takes the rest, and so on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from jupiter.mapper.capacity import Capacity
from jupiter.mapper.partial import compile_partial
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.simulate import simulate_indices

NAME = "fastest"


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> Schedule:
    a = compile_partial(problem, existing, exclude)
    by_speed = np.argsort(a.compute.sum(axis=0), kind="stable").tolist()
    capacity = Capacity(a)
    node_of = [0] * a.n_tasks
    for task in a.topo:
        pin = capacity.pin(task)
        node = pin if pin is not None else next(n for n in by_speed if capacity.has_room(task, n))
        capacity.take(task, node)
        node_of[task] = node
    return simulate_indices(a, node_of, NAME)
