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

One input alone is not spread evenly over its makespan either: a wide level of the DAG runs
on many nodes at once. `peak` is the most cores the schedule's tasks use at any instant
(each running task uses 1 / stretch of a core), and auto fits that into `PEAK_CORE_SHARE`
of the free cores: otherwise the level's tasks, and the transfers between them, queue for
the host's cores exactly when the input is in a hurry. A 30-task app on 106 nodes at K = 5
(its average demand's) measured its transfers at eight times the links', its makespan 1.33x
the prediction; at K = 10 (its peak's) 1.11x.

The home's own requests (handing each input to its sources' nodes, and its outputs home)
use the host's CPU too, and take its time: about a millisecond each on one machine, as long
as a small task. They count in the demand (`host_per_input`), and `auto` also picks K so
that they stay below `HOST_OVERHEAD_SHARE` of one input's emulated makespan: they are this
host's cost, not the emulated cluster's, and dilation divides them as it divides any host
figure. Otherwise an app of millisecond tasks would be measured at twice its model.

A busy host has fewer cores to give: `--time-dilation auto` samples, before anything of the
run starts, how many cores other work keeps busy (`cores_busy_elsewhere`) and fits the
demand into what is left, so the emulation stays faithful on a shared machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jupiter.cluster.spec import Cluster
from jupiter.host_cpu import busy_cores, host_cores
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import FullMapper
from jupiter.mapper.schedule import Schedule

# `--time-dilation auto` keeps the emulation's CPU demand below this share of the cores:
# the agents' own transfers, hashing and heartbeats need the rest.
AUTO_CORE_SHARE = 0.8
# However busy the host, auto counts on at least this share of its cores: other work yields
# some CPU to the run, and a near-zero figure would pick an absurd dilation.
MIN_FREE_SHARE = 0.25
# ... and the tasks of one input running at once to this share: the agents' transfers and
# event loops need the rest at exactly those moments.
PEAK_CORE_SHARE = 0.5
# `--time-dilation auto` keeps the home's requests per input below this share of one
# input's emulated makespan.
HOST_OVERHEAD_SHARE = 0.1
# How long `cores_busy_elsewhere` watches the host's CPUs.
BUSY_SAMPLE_S = 0.3


@dataclass(frozen=True)
class CpuDemand:
    # Host cores the emulation needs at dilation 1.
    demand: float
    # Host CPU seconds one input's tasks use.
    cpu_per_input: float
    # Emulated seconds between inputs at the limiting rate.
    period: float
    cores: int
    # Cores other work kept busy when the run began (sampled for `auto` only, else 0).
    busy_elsewhere: float = 0.0
    # Host seconds of the home's requests per input (inside `cpu_per_input` too).
    host_per_input: float = 0.0
    # One input's makespan alone, emulated seconds.
    makespan: float = 0.0
    # Most host cores the tasks of one input use at once, at dilation 1.
    peak: float = 0.0

    @property
    def free_cores(self) -> float:
        """The cores this run can count on: those other work leaves, with a floor."""
        return max(MIN_FREE_SHARE * self.cores, self.cores - self.busy_elsewhere)

    def dilation_for(
        self, share: float = AUTO_CORE_SHARE, host_share: float = HOST_OVERHEAD_SHARE
    ) -> int:
        """The least whole dilation K that brings the demand to `share` of the free cores
        and the home's requests per input to `host_share` of its emulated makespan."""
        cores = math.ceil(self.demand / (share * self.free_cores) - 1e-9)
        peak = math.ceil(self.peak / (PEAK_CORE_SHARE * self.free_cores) - 1e-9)
        host = 1
        if self.host_per_input > 0 and self.makespan > 0:
            host = math.ceil(self.host_per_input / (host_share * self.makespan) - 1e-9)
        return max(1, cores, peak, host)


def cores_busy_elsewhere(sample_s: float = BUSY_SAMPLE_S) -> float:
    """Cores busy with work other than this run, from the host's CPU use over `sample_s`
    (call it before the run starts anything, so that all of that use is other work)."""
    return busy_cores(sample_s)


def estimate_cpu_demand(
    schedule: Schedule,
    cluster: Cluster,
    interval: float,
    max_in_flight: int | None,
    cores: int | None = None,
    busy_elsewhere: float = 0.0,
    host_per_input: float = 0.0,
) -> CpuDemand:
    """The CPU demand of streaming inputs through `schedule` (its predicted times are on the
    host's clock of `cluster`), injected every `interval` emulated seconds (0: as fast as
    allowed) with at most `max_in_flight` at once (None: no limit), each input also taking
    `host_per_input` host seconds of the home's requests."""
    cpu_per_input = host_per_input
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
    peak = peak_cores(schedule, cluster) * dilation
    return CpuDemand(
        demand=demand,
        cpu_per_input=cpu_per_input,
        period=period / dilation,
        cores=host_cores() if cores is None else cores,
        busy_elsewhere=busy_elsewhere,
        host_per_input=host_per_input,
        makespan=schedule.makespan / dilation,
        peak=peak,
    )


def peak_cores(schedule: Schedule, cluster: Cluster) -> float:
    """The most host cores `schedule`'s tasks use at one instant on `cluster`'s clock: a
    task running on a node of stretch s uses 1 / s of a core while it runs."""
    changes: list[tuple[float, float]] = []
    for assignment in schedule.assignments.values():
        if assignment.finish <= assignment.start:
            continue
        stretch = cluster.stretch(assignment.node) if cluster.emulate else 1.0
        changes.append((assignment.start, 1.0 / stretch))
        changes.append((assignment.finish, -1.0 / stretch))
    # At one instant, what ends goes before what starts.
    changes.sort(key=lambda change: (change[0], change[1]))
    running = peak = 0.0
    for _, change in changes:
        running += change
        peak = max(peak, running)
    return peak


def choose_dilation(
    requested: float | str,
    problem: SchedulingProblem,
    mapper: FullMapper,
    cluster: Cluster,
    interval: float,
    max_in_flight: int | None,
    busy_elsewhere: float = 0.0,
    host_per_input: float = 0.0,
) -> float:
    """The time dilation a run uses: `requested` (>= 1), or for "auto" the least whole K
    that fits the demand of `mapper`'s schedule of `problem` (built on `cluster`, undilated)
    into `AUTO_CORE_SHARE` of the cores that `busy_elsewhere` leaves free, and the home's
    `host_per_input` seconds of requests into `HOST_OVERHEAD_SHARE` of an input's makespan."""
    if requested != "auto":
        return float(requested)
    demand = estimate_cpu_demand(
        mapper(problem),
        cluster,
        interval,
        max_in_flight,
        busy_elsewhere=busy_elsewhere,
        host_per_input=host_per_input,
    )
    return float(demand.dilation_for())
