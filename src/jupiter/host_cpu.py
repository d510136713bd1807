"""This machine's CPUs as a run sees them: how many it may use, and how busy they are now.

Both `--time-dilation auto` (planning/cpu_demand.py: the cores other work keeps busy) and
the profiler on the local backend (profiler/home.py: the cores idle agents leave to their
probes) read the same thing, only the CPUs this process may run on.
"""

from __future__ import annotations

import os

import psutil


def host_cores() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def busy_cores(sample_s: float) -> float:
    """Cores of those CPUs busy over the next `sample_s` seconds (blocks that long)."""
    per_cpu = psutil.cpu_percent(interval=sample_s, percpu=True)
    try:
        mine = os.sched_getaffinity(0)
    except AttributeError:
        mine = set(range(len(per_cpu)))
    return sum(per_cpu[cpu] for cpu in mine if cpu < len(per_cpu)) / 100.0
