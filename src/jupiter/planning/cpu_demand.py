"""How many of this host's cores an emulated run needs, and the time dilation that fits it.

Each emulated node runs its tasks on the host's CPUs and then waits out its stretch
(`Cluster.stretch`), so what the host must supply is the CPU the tasks use, not their
stretched time: per input, the sum over tasks of their compute on the mapped node divided
by that node's stretch. At a rate of r inputs per second the host needs r times that many
cores. The rate is the slowest of what limits the stream: the injection interval, the
in-flight limit over one input's makespan, and the busiest node's compute per input (one
slot per node). Link time is left out, so the figure is an upper bound when links are the
bottleneck.

Everything is on the host's clock of the given cluster; `demand` is then multiplied back by
its dilation, so it is the demand at real time (dilation 1) whatever dilation the cluster
has, and `dilation_for` divides it by the one to pick.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from jupiter.cluster.spec import Cluster
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import FullMapper
from jupiter.mapper.schedule import Schedule

# `--time-dilation auto` keeps the emulation's CPU demand below this share of the cores:
# the agents' own transfers, hashing and heartbeats need the rest.
AUTO_CORE_SHARE = 0.8


def host_cores() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CpuDemand:
    # Host cores the emulation needs at dilation 1.
    demand: float
    # Host CPU seconds one input's tasks use.
    cpu_per_input: float
    # Emulated seconds between inputs at the limiting rate.
    period: float
    cores: int

    def dilation_for(self, share: float = AUTO_CORE_SHARE) -> int:
        """The least whole dilation K that brings the demand to `share` of the cores."""
        return max(1, math.ceil(self.demand / (share * self.cores) - 1e-9))


def estimate_cpu_demand(
    schedule: Schedule,
    cluster: Cluster,
    interval: float,
    max_in_flight: int | None,
    cores: int | None = None,
) -> CpuDemand:
    """The CPU demand of streaming inputs through `schedule` (its predicted times are on the
    host's clock of `cluster`), injected every `interval` emulated seconds (0: as fast as
    allowed) with at most `max_in_flight` at once (None: no limit)."""
    cpu_per_input = 0.0
    busy: dict[str, float] = {}
    for assignment in schedule.assignments.values():
        seconds = assignment.finish - assignment.start
        busy[assignment.node] = busy.get(assignment.node, 0.0) + seconds
        stretch = cluster.stretch(assignment.node) if cluster.emulate else 1.0
        cpu_per_input += seconds / stretch
    dilation = cluster.dilation
    limits = [max(busy.values(), default=0.0)]
    if interval > 0:
        limits.append(interval * dilation)
    if max_in_flight is not None:
        limits.append(schedule.makespan / max_in_flight)
    period = max(limits)
    demand = cpu_per_input * dilation / period if period > 0 else 0.0
    return CpuDemand(
        demand=demand,
        cpu_per_input=cpu_per_input,
        period=period / dilation,
        cores=host_cores() if cores is None else cores,
    )


def choose_dilation(
    requested: float | str,
    problem: SchedulingProblem,
    mapper: FullMapper,
    cluster: Cluster,
    interval: float,
    max_in_flight: int | None,
) -> float:
    """The time dilation a run uses: `requested` (>= 1), or for "auto" the least whole K
    that fits the demand of `mapper`'s schedule of `problem` (built on `cluster`, undilated)
    into `AUTO_CORE_SHARE` of this host's cores."""
    if requested != "auto":
        return float(requested)
    demand = estimate_cpu_demand(mapper(problem), cluster, interval, max_in_flight)
    return float(demand.dilation_for())
