"""Partial schedules: some tasks keep their nodes, some nodes are gone, place the rest.

This is re-mapping after a node is lost mid-stream (after SAGA's `existing_schedule`): the
tasks of the lost node are displaced, every other task keeps its node, and the mapper
places only the displaced ones, on the surviving nodes. A partial schedule is expressed
with what every mapper already honours: the kept tasks become pins, and the excluded nodes
are removed from the problem. So the algorithms themselves do not change; they see fewer
nodes (their averages, such as HEFT's ranks, are over the surviving cluster) and more pins.

`compile_partial` does this when compiling the arrays (the built-ins); `reduced_problem` does
it on a `SchedulingProblem`, for plugin mappers that only take `schedule(problem)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from jupiter.errors import JupiterError
from jupiter.mapper.arrays import ProblemArrays, compile_problem
from jupiter.mapper.problem import SchedulingProblem


class PartialScheduleError(JupiterError):
    """A partial schedule that cannot be completed on this problem (one clear line)."""


@dataclass(frozen=True)
class Partial:
    """Tasks kept where they are (`existing`: task -> node) and nodes that take nothing."""

    existing: Mapping[str, str]
    exclude: frozenset[str]

    @classmethod
    def of(cls, existing: Mapping[str, str] | None, exclude: Collection[str]) -> Partial | None:
        """The partial schedule, or None when nothing is kept or excluded (a full one)."""
        if isinstance(exclude, str):
            # A bare name would be read as a set of one-letter nodes.
            raise TypeError(f"exclude must be a collection of node names, not the str {exclude!r}")
        if not existing and not exclude:
            return None
        return cls(dict(existing or {}), frozenset(exclude))

    def check(self, problem: SchedulingProblem) -> None:
        """Raise PartialScheduleError unless some valid schedule completes this one."""
        message = _first_problem(self, problem)
        if message is not None:
            raise PartialScheduleError(f"cannot complete the partial schedule: {message}")

    def survivors(self, nodes: list[str]) -> list[str]:
        return [n for n in nodes if n not in self.exclude]

    def pins(self, problem: SchedulingProblem) -> dict[str, str]:
        """The problem's own pins and the kept tasks, as one pin table."""
        return {**problem.pinned, **self.existing}


def _first_problem(partial: Partial, problem: SchedulingProblem) -> str | None:
    nodes, tasks = set(problem.nodes), set(problem.tasks)
    unknown = sorted(partial.exclude - nodes)
    if unknown:
        return f"exclude names unknown node {unknown[0]!r}"
    if not partial.survivors(problem.nodes):
        return "every node is excluded; no node is left to run the tasks"
    for task, node in partial.existing.items():
        if task not in tasks:
            return f"existing names unknown task {task!r}"
        if node not in nodes:
            return f"existing places task {task!r} on unknown node {node!r}"
        if node in partial.exclude:
            return f"existing places task {task!r} on {node!r}, which is excluded"
        pin = problem.pinned.get(task)
        if pin is not None and pin != node:
            return f"existing places task {task!r} on {node!r}, but the problem pins it to {pin!r}"
    for task, node in problem.pinned.items():
        if node in partial.exclude:
            return (
                f"task {task!r} is pinned to {node!r}, which is excluded; a pinned task cannot move"
            )
    cap = problem.max_tasks_per_node
    if cap is None:
        return None
    left = len(partial.survivors(problem.nodes))
    if cap * left < len(problem.tasks):
        return f"{cap} per node on {left} remaining nodes cannot hold {len(problem.tasks)} tasks"
    for node, count in Counter(partial.pins(problem).values()).items():
        if count > cap:
            return f"{count} tasks are kept or pinned on {node!r}, more than the cap of {cap}"
    return None


def compile_partial(
    problem: SchedulingProblem,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> ProblemArrays:
    """The problem's arrays over the surviving nodes, with the kept tasks pinned.

    Without a partial schedule this is `compile_problem(problem)`, untouched.
    """
    partial = Partial.of(existing, exclude)
    if partial is None:
        return compile_problem(problem)
    partial.check(problem)
    return compile_problem(
        problem, nodes=partial.survivors(problem.nodes), pinned=partial.pins(problem)
    )


def reduced_problem(
    problem: SchedulingProblem,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> SchedulingProblem:
    """The same partial schedule as a whole problem: kept tasks pinned, excluded nodes gone.

    Any schedule of it that honours its pins completes the partial schedule on `problem`.
    """
    partial = Partial.of(existing, exclude)
    if partial is None:
        return problem
    partial.check(problem)
    survivors = partial.survivors(problem.nodes)
    return replace(
        problem,
        nodes=survivors,
        compute={t: {n: problem.compute[t][n] for n in survivors} for t in problem.tasks},
        links={a: {b: problem.links[a][b] for b in survivors if b != a} for a in survivors},
        pinned=partial.pins(problem),
        load={n: figures for n, figures in problem.load.items() if n not in partial.exclude},
    )
