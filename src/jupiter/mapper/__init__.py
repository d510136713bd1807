"""Task mappers: decide which node runs each task of the application DAG.

`SchedulingProblem` (PROBLEM.json) in, `Schedule` out. Algorithms (HEFT, CPOP, WAVE and
baselines) are found by name through `get_mapper`, including those that other packages
add through the `jupiter.mappers` entry point group; every one of them can also complete a
partial schedule (tasks kept on their nodes, lost nodes excluded; see partial.py and
docs/mappers.md).
"""

from jupiter.mapper.partial import PartialScheduleError
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.registry import available_mappers, get_mapper
from jupiter.mapper.schedule import Assignment, Schedule, ScheduleError

__all__ = [
    "Assignment",
    "Edge",
    "LinkModel",
    "PartialScheduleError",
    "Schedule",
    "ScheduleError",
    "SchedulingProblem",
    "available_mappers",
    "get_mapper",
]
