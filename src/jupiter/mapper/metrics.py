"""Schedule quality: the schedule length ratio of the HEFT paper."""

from __future__ import annotations

from jupiter.mapper.arrays import ProblemArrays, compile_problem
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Schedule


def critical_path_lower_bound(problem: SchedulingProblem | ProblemArrays) -> float:
    """Longest path when every task takes its least compute time and transfers are free.
    No schedule can be shorter."""
    a = problem if isinstance(problem, ProblemArrays) else compile_problem(problem)
    fastest = a.compute.min(axis=1).tolist()
    longest = [0.0] * a.n_tasks
    for t in reversed(a.topo):
        tail = max((longest[c] for c in a.children[t]), default=0.0)
        longest[t] = fastest[t] + tail
    return max(longest, default=0.0)


def schedule_length_ratio(schedule: Schedule, lower_bound: float) -> float:
    """Makespan over the critical-path lower bound (>= 1; inf when the bound is 0 but the
    makespan is not, 1 when both are 0)."""
    makespan = schedule.makespan
    if lower_bound > 0:
        return makespan / lower_bound
    return 1.0 if makespan == 0 else float("inf")
