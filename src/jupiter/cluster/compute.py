"""How long an emulated node takes to compute: the rule the executor holds a task's slot by.

A node of stretch `s` (`Cluster.stretch`: max speed / its speed, times the run's time
dilation) takes `s` times the CPU the task used on this host. CPU time, not wall time: with
many nodes' tasks sharing a few cores, a task's wall time grows with the others' work, and
stretching it would multiply the contention into the emulated node. A task never takes less
than its real wall time, so one that waits (on I/O, a sleep, a subprocess it does not wait
for) keeps its wait. A task that ran on several cores at once (its CPU time above its wall
time) is stretched from its wall time: a node's speed scales how fast it computes, not how
many cores it has.
"""

from __future__ import annotations


def emulated_compute(wall: float, cpu: float, stretch: float) -> float:
    """Host seconds a task that took `wall` seconds and `cpu` CPU seconds holds its slot."""
    return max(wall, min(cpu, wall) * stretch)
