"""A schedule (node, start and finish of every task) and the check that it is feasible."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from jupiter.errors import JupiterError
from jupiter.mapper.problem import SchedulingProblem

# Times come from floating-point sums along different paths; a schedule that is late by
# one part in a billion of its makespan is still the schedule the algorithm meant.
RELATIVE_TOLERANCE = 1e-9

# The message names this many violations; `ScheduleError.violations` has them all.
SHOWN_VIOLATIONS = 10


class ScheduleError(JupiterError):
    """A schedule that breaks the problem's rules; `violations` lists every broken rule."""

    def __init__(self, algorithm: str, violations: list[str]) -> None:
        self.algorithm = algorithm
        self.violations = violations
        shown = "; ".join(violations[:SHOWN_VIOLATIONS])
        more = len(violations) - SHOWN_VIOLATIONS
        suffix = f"; and {more} more" if more > 0 else ""
        count = len(violations)
        super().__init__(
            f"schedule from {algorithm!r} is invalid ({count} violations): {shown}{suffix}"
        )


@dataclass(frozen=True)
class Assignment:
    task: str
    node: str
    start: float
    finish: float

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "node": self.node, "start": self.start, "finish": self.finish}


@dataclass
class Schedule:
    algorithm: str
    assignments: dict[str, Assignment]

    @property
    def makespan(self) -> float:
        return max((a.finish for a in self.assignments.values()), default=0.0)

    def node_of(self, task: str) -> str:
        return self.assignments[task].node

    @property
    def mapping(self) -> dict[str, str]:
        return {task: a.node for task, a in self.assignments.items()}

    def __iter__(self) -> Iterator[Assignment]:
        """Assignments by start time (then finish, then task name), the order a Gantt shows."""
        return iter(sorted(self.assignments.values(), key=lambda a: (a.start, a.finish, a.task)))

    def by_node(self) -> dict[str, list[Assignment]]:
        lanes: dict[str, list[Assignment]] = {}
        for assignment in self:
            lanes.setdefault(assignment.node, []).append(assignment)
        return lanes

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "makespan": self.makespan,
            "assignments": [a.to_dict() for a in self],
        }

    def violations(
        self,
        problem: SchedulingProblem,
        *,
        existing: Mapping[str, str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[str]:
        return _violations(self, problem) + _partial_violations(self, existing or {}, exclude)

    def check(
        self,
        problem: SchedulingProblem,
        *,
        existing: Mapping[str, str] | None = None,
        exclude: Collection[str] = (),
    ) -> None:
        """Raise ScheduleError listing every violated rule; return quietly when feasible.

        With a partial schedule (`existing` tasks kept on their nodes, `exclude`d nodes
        taking nothing) the schedule must also complete it.
        """
        found = self.violations(problem, existing=existing, exclude=exclude)
        if found:
            raise ScheduleError(self.algorithm, found)


def _violations(schedule: Schedule, problem: SchedulingProblem) -> list[str]:
    found: list[str] = []
    known_nodes = set(problem.nodes)
    tasks = set(problem.tasks)
    scale = max(1.0, *(abs(a.finish) for a in schedule.assignments.values()), 0.0)
    eps = RELATIVE_TOLERANCE * scale

    for task in problem.tasks:
        if task not in schedule.assignments:
            found.append(f"task {task!r} is not scheduled")
    placed: dict[str, Assignment] = {}
    for key, a in schedule.assignments.items():
        if key not in tasks:
            found.append(f"unknown task {key!r} is scheduled")
            continue
        if a.task != key:
            found.append(f"assignment under {key!r} names task {a.task!r}")
            continue
        if a.node not in known_nodes:
            found.append(f"task {key!r} is on unknown node {a.node!r}")
            continue
        placed[key] = a
        if a.start < -eps:
            found.append(f"task {key!r} starts before 0 (at {a.start:g})")
        seconds = problem.compute[key][a.node]
        if abs((a.finish - a.start) - seconds) > eps + RELATIVE_TOLERANCE * seconds:
            found.append(
                f"task {key!r} runs {a.finish - a.start:g} s on {a.node!r} "
                f"but needs {seconds:g} s there"
            )

    for edge in problem.edges:
        parent, child = placed.get(edge.src), placed.get(edge.dst)
        if parent is None or child is None:
            continue
        arrival = parent.finish + problem.transfer_seconds(parent.node, child.node, edge.bytes)
        if child.start < arrival - eps:
            found.append(
                f"task {edge.dst!r} starts at {child.start:g} before the data of {edge.src!r} "
                f"arrives at {arrival:g}"
            )

    lanes: dict[str, list[Assignment]] = {}
    for a in placed.values():
        lanes.setdefault(a.node, []).append(a)
    for node, lane in lanes.items():
        lane.sort(key=lambda a: (a.start, a.finish))
        for before, after in pairwise(lane):
            if after.start < before.finish - eps:
                found.append(
                    f"tasks {before.task!r} and {after.task!r} overlap on {node!r} "
                    f"({before.start:g}-{before.finish:g} and {after.start:g}-{after.finish:g})"
                )
        cap = problem.max_tasks_per_node
        if cap is not None and len(lane) > cap:
            found.append(f"node {node!r} runs {len(lane)} tasks, more than the cap of {cap}")

    for task, node in problem.pinned.items():
        a = placed.get(task)
        if a is not None and a.node != node:
            found.append(f"task {task!r} is pinned to {node!r} but runs on {a.node!r}")
    return found


def _partial_violations(
    schedule: Schedule, existing: Mapping[str, str], exclude: Collection[str]
) -> list[str]:
    found: list[str] = []
    for task, node in existing.items():
        a = schedule.assignments.get(task)
        if a is not None and a.node != node:
            found.append(f"task {task!r} was kept on {node!r} but runs on {a.node!r}")
    lost = frozenset(exclude)
    if lost:
        for key, a in schedule.assignments.items():
            if a.node in lost:
                found.append(f"task {key!r} runs on excluded node {a.node!r}")
    return found
