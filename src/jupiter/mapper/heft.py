"""HEFT: Heterogeneous Earliest Finish Time (Topcuoglu, Hariri and Wu, TPDS 2002).

Tasks by decreasing upward rank; each goes to the node where it finishes earliest, using
the earliest idle gap long enough for it (insertion-based policy).

Tie-breaks: equal ranks (to 12 significant digits) -> earlier in the topological order
that always takes the ready task listed first in `tasks`; equal finish times -> the node
listed first in `nodes`.

Pins and `max_tasks_per_node` are honoured ("HEFT balanced"): a pinned task only considers
its node, and a node at the cap (counting seats held for pinned tasks still to come) is
skipped.

A partial schedule pins the kept tasks and removes the excluded nodes: the displaced tasks go
to their earliest finish node, with the kept tasks, placed in the same rank order, occupying
their nodes' timelines.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from jupiter.mapper.partial import compile_partial
from jupiter.mapper.placement import Placement
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.ranks import by_decreasing, upward_ranks
from jupiter.mapper.schedule import Schedule

NAME = "heft"


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    max_tasks_per_node: int | None = None,
) -> Schedule:
    """HEFT schedule; `max_tasks_per_node` overrides the problem's own cap when given.

    `existing` tasks keep their nodes and `exclude`d nodes take nothing (see partial.py).
    """
    if max_tasks_per_node is not None:
        problem = replace(problem, max_tasks_per_node=max_tasks_per_node)
        problem.validate()
    arrays = compile_partial(problem, existing, exclude)
    placement = Placement(arrays)
    pinned = arrays.pinned.tolist()
    for task in by_decreasing(upward_ranks(arrays), arrays):
        pin = pinned[task]
        if pin >= 0:
            # The one allowed node: the same start as the search over all nodes would find.
            start, slot = placement.earliest_on(task, pin)
            placement.place(task, pin, start, slot)
        else:
            node, start, slot = placement.earliest_finish(task)
            placement.place(task, node, start, slot)
    return placement.schedule(NAME)
