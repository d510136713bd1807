"""`jupiter run --dry-run`: everything a run checks and plans before its first agent starts,
printed; then nothing else (no agent, no --out, no report)."""

from __future__ import annotations

from typing import Any

import click

from jupiter.cli.config import ChosenSettings
from jupiter.controller.run import RunOptions, predict_run_stream, prepare_run


def dry_run(options: RunOptions, chosen: ChosenSettings) -> None:
    options, app, mapper, built = prepare_run(options)
    schedule = mapper(built.problem)
    schedule.check(built.problem)
    # The problem is on the host's clock; under time dilation K the run reports emulated time.
    dilation = options.cluster.dilation
    if options.profile is not None:
        basis = f"the profile {options.profile_source}"
    elif options.profiling:
        basis = "the app's declared estimates (a run profiles first, and may map otherwise)"
    else:
        basis = "the app's declared estimates"
    echo = click.echo
    echo(f"mapping ({options.mapper}, from {basis}):")
    lanes = schedule.by_node()
    width = max((len(node) for node in lanes), default=0)
    for node in options.cluster.node_names:
        if node in lanes:
            tasks = ", ".join(assignment.task for assignment in lanes[node])
            echo(f"  {node:<{width}}  {tasks}")
    echo(f"predicted makespan, one input: {schedule.makespan / dilation:.3f} s")
    prediction = predict_run_stream(options, app, built.problem, schedule).divided(dilation)
    throughput = prediction.throughput
    echo(
        f"predicted stream, {options.inputs} inputs: mean makespan "
        f"{prediction.mean_makespan:.3f} s, last output at {prediction.span:.3f} s"
        + (f", {throughput:.2f} inputs/s" if throughput is not None else "")
    )
    if dilation != 1.0:
        echo(f"time dilation: {dilation:g}")
    echo("settings:")
    names = sorted(chosen.values)
    width = max((len(name) for name in names), default=0)
    for name in names:
        echo(f"  {name:<{width}}  {_value(chosen.values[name])}  ({chosen.source(name)})")
    echo("dry run: no agent started, nothing written")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict) and not value:
        return "{}"
    return str(value)
