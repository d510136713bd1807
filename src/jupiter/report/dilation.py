"""A time-dilated run's figures, put back on the emulated clock: the one place it happens.

Under time dilation K (`jupiter run --time-dilation`, docs/emulation.md) everything the run
measured or predicted is on the host's clock, K times the emulated duration: the mapper's
schedule (built on the dilated cluster), the profile (measured through dilated links and
stretches), every task record and every input's makespan. The report shows emulated time, so
durations are divided by K, and Unix times are mapped onto an emulated clock that agrees with
the host's at the stream's first injection: `origin + (t - origin) / K`. A task's `cpu` stays
the host's CPU seconds. Phases other than the stream (deploy, profile, map, dispatch,
teardown) are the tool's own work and stay in host seconds; so do a recovery's detection and
re-mapping times.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jupiter.controller.recovery import EpochChange
from jupiter.controller.run import RunResult
from jupiter.mapper.schedule import Assignment, Schedule
from jupiter.profiler.model import LinkProfile, Profile
from jupiter.profiler.refine import RuntimeFigures

# Records' Unix times and spans (circe/monitor.py).
_RECORD_TIMES = ("enter", "ready", "start", "finish")
_RECORD_SPANS = ("waiting", "queued", "duration", "elapse")


def in_emulated_time(result: RunResult) -> RunResult:
    """`result` with every emulated duration and time divided back by its dilation."""
    factor = result.cluster.dilation
    if factor == 1.0:
        return result
    origin = min(result.injected_at.values(), default=result.started_at)

    def at(t: float) -> float:
        return origin + (t - origin) / factor

    return dataclasses.replace(
        result,
        schedule=None if result.schedule is None else _schedule(result.schedule, factor),
        phases={
            name: seconds / factor if name == "stream" else seconds
            for name, seconds in result.phases.items()
        },
        injected_at={k: at(t) for k, t in result.injected_at.items()},
        completed_at={k: at(t) for k, t in result.completed_at.items()},
        stats=[_record(record, at, factor) for record in result.stats],
        profile=None if result.profile is None else _profile(result.profile, factor),
        figures=None if result.figures is None else _figures(result.figures, factor),
        failed=[dataclasses.replace(f, failed_at=at(f.failed_at)) for f in result.failed],
        recovery=[_epoch(change, at) for change in result.recovery],
        conditions=[
            dataclasses.replace(
                c, at=at(c.at), stream_s=None if c.stream_s is None else c.stream_s / factor
            )
            for c in result.conditions
        ],
        executors_started=[dataclasses.replace(s, at=at(s.at)) for s in result.executors_started],
    )


def _schedule(schedule: Schedule, factor: float) -> Schedule:
    return Schedule(
        schedule.algorithm,
        {
            task: Assignment(a.task, a.node, a.start / factor, a.finish / factor)
            for task, a in schedule.assignments.items()
        },
    )


def _record(record: dict[str, Any], at: Any, factor: float) -> dict[str, Any]:
    converted = dict(record)
    for key in _RECORD_TIMES:
        if converted.get(key) is not None:
            converted[key] = at(converted[key])
    for key in _RECORD_SPANS:
        if converted.get(key) is not None:
            converted[key] = converted[key] / factor
    return converted


def _profile(profile: Profile, factor: float) -> Profile:
    links = {
        a: {b: _fit(fit, factor) for b, fit in row.items()} for a, row in profile.links.items()
    }
    compute = {
        task: {node: seconds / factor for node, seconds in row.items()}
        for task, row in profile.compute.items()
    }
    return profile.model_copy(update={"links": links, "compute": compute})


def _figures(figures: RuntimeFigures, factor: float) -> RuntimeFigures:
    def divided(matrix: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return {task: {n: s / factor for n, s in row.items()} for task, row in matrix.items()}

    return dataclasses.replace(
        figures, seconds=divided(figures.seconds), profiled=divided(figures.profiled)
    )


def _fit(fit: LinkProfile, factor: float) -> LinkProfile:
    # Every coefficient of p + q*bytes + r*bytes^2 is in seconds per something.
    return fit.model_copy(update={"p": fit.p / factor, "q": fit.q / factor, "r": fit.r / factor})


def _epoch(change: EpochChange, at: Any) -> EpochChange:
    return dataclasses.replace(change, at=at(change.at), decided_at=at(change.decided_at))
