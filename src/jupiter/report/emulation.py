"""The report's `emulation` section and its summary line: could this host keep up?

Two figures say whether the emulated nodes competed for the host's cores: the demand
estimated from the mapping (planning/cpu_demand.py) and the load the tasks' measured CPU
seconds put on the host during the stream. The estimate tells by how much a run is
oversubscribed; the measured load cannot (it is capped by the cores), but it catches what
the estimate missed. Either one over the line marks the run contended, and the summary then
says so and suggests a time dilation.
"""

from __future__ import annotations

import math

from jupiter.controller.run import RunResult
from jupiter.host_cpu import host_cores
from jupiter.planning.cpu_demand import AUTO_CORE_SHARE
from jupiter.report.model import EmulationSection

# Measured load at or above this share of the cores: the tasks saturated the host.
SATURATED_SHARE = 0.9


def emulation_section(result: RunResult) -> EmulationSection | None:
    """The section for `result` as measured, on the host's clock (before report/dilation.py
    converts the rest); None for a run without emulation."""
    cluster = result.cluster
    if not cluster.emulate:
        return None
    estimate = result.cpu_demand
    cores = estimate.cores if estimate is not None else host_cores()
    cpu = sum(record.get("cpu") or 0.0 for record in result.stats)
    load = _measured_load(result, cpu)
    free = cores if estimate is None else estimate.free_cores
    contended = (estimate is not None and estimate.demand / cluster.dilation > free) or (
        load is not None and load >= SATURATED_SHARE * free
    )
    return EmulationSection(
        cores=cores,
        busy_elsewhere=0.0 if estimate is None else estimate.busy_elsewhere,
        dilation=cluster.dilation,
        demand=None if estimate is None else estimate.demand,
        cpu_per_input=None if estimate is None else estimate.cpu_per_input,
        peak=None if estimate is None else estimate.peak,
        host_per_input=None if estimate is None else estimate.host_per_input,
        measured_cpu=cpu,
        measured_load=load,
        contended=contended,
    )


def _measured_load(result: RunResult, cpu: float) -> float | None:
    if not result.completed_at:
        return None
    first = min(result.injected_at[k] for k in result.completed_at)
    span = max(result.completed_at.values()) - first
    return cpu / span if span > 0 else None


def emulation_line(section: EmulationSection | None) -> str | None:
    """One line for the summary when the emulation was contended or dilated, else None."""
    if section is None:
        return None
    demand = section.demand
    if demand is None and section.measured_load is not None:
        demand = section.measured_load * section.dilation
    shown = "?" if demand is None else f"{demand:.1f}"
    dilated = section.dilation > 1.0
    on = f"{section.cores}"
    if section.busy_elsewhere >= 0.1:
        on += f" ({section.busy_elsewhere:.1f} busy with other work)"
    if section.contended:
        advice = "try --time-dilation auto"
        if dilated and demand is not None:
            wanted = math.ceil(demand / (AUTO_CORE_SHARE * section.cores))
            advice = f"try --time-dilation {max(wanted, section.dilation + 1):g} or auto"
        under = f" under time dilation {section.dilation:g}" if dilated else ""
        return (
            f"emulated CPU demand {shown} cores on {on}{under}: times are stretched "
            f"by contention; {advice}"
        )
    if dilated:
        return (
            f"time dilation {section.dilation:g}: emulated CPU demand {shown} cores on "
            f"{on}; the host ran {section.dilation:g}x slower, every time shown "
            "is emulated"
        )
    return None
