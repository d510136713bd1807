"""Round robin baseline: tasks in topological order, nodes in turn.

A pinned task goes to its node without taking a turn; a node at the cap is passed over.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from jupiter.mapper.capacity import Capacity
from jupiter.mapper.partial import compile_partial
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.simulate import simulate_indices

NAME = "round-robin"


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> Schedule:
    a = compile_partial(problem, existing, exclude)
    capacity = Capacity(a)
    node_of = [0] * a.n_tasks
    turn = 0
    for task in a.topo:
        pin = capacity.pin(task)
        if pin is not None:
            node = pin
        else:
            while not capacity.has_room(task, turn % a.n_nodes):
                turn += 1
            node = turn % a.n_nodes
            turn += 1
        capacity.take(task, node)
        node_of[task] = node
    return simulate_indices(a, node_of, NAME)
