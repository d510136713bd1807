"""`jupiter schedule PROBLEM.json`: run one mapper, or compare them all."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from jupiter.errors import JupiterError, SpecError
from jupiter.mapper.metrics import critical_path_lower_bound, schedule_length_ratio
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import available_mappers, get_mapper
from jupiter.mapper.schedule import Schedule

ALL = "all"


class ComparisonFailed(JupiterError):
    """At least one mapper crashed or returned an invalid schedule in `--algorithm all`."""


def _load(path: Path, cap: int | None) -> SchedulingProblem:
    problem = SchedulingProblem.load(path, validate=False)
    if cap is not None:
        problem = replace(problem, max_tasks_per_node=cap)
    try:
        problem.validate()
    except SpecError as error:
        if cap is not None and error.field == "max_tasks_per_node":
            raise SpecError(None, "--max-tasks-per-node", error.message) from None
        raise
    return problem


@click.command("schedule")
@click.argument(
    "problem_file", metavar="PROBLEM.json", type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--algorithm",
    "-a",
    default="heft",
    show_default=True,
    help=f"Mapper name, or '{ALL}' to compare every registered mapper.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--max-tasks-per-node",
    type=click.IntRange(min=1),
    default=None,
    help="Cap on tasks per node (overrides the problem's max_tasks_per_node).",
)
def schedule_command(
    problem_file: Path, algorithm: str, as_json: bool, max_tasks_per_node: int | None
) -> None:
    """Map the tasks of PROBLEM.json to nodes and print the schedule."""
    mapper = None if algorithm == ALL else get_mapper(algorithm)
    problem = _load(problem_file, max_tasks_per_node)
    if mapper is None:
        _compare(problem, as_json)
        return

    began = time.perf_counter()
    schedule = mapper(problem)
    seconds = time.perf_counter() - began
    if not isinstance(schedule, Schedule):
        raise JupiterError(
            f"mapper {algorithm!r} returned {type(schedule).__name__}, not a Schedule"
        )
    schedule.check(problem)
    if as_json:
        document = {
            "algorithm": algorithm,
            "makespan": schedule.makespan,
            "seconds": seconds,
            "assignments": [a.to_dict() for a in schedule],
        }
        click.echo(json.dumps(document))
        return
    _print_schedule(algorithm, schedule, seconds, problem)


def _print_schedule(
    name: str, schedule: Schedule, seconds: float, problem: SchedulingProblem
) -> None:
    used = len({a.node for a in schedule.assignments.values()})
    table = Table(title=f"{name}: makespan {schedule.makespan:.6g} s", title_justify="left")
    table.add_column("Task")
    table.add_column("Node")
    table.add_column("Start (s)", justify="right")
    table.add_column("Finish (s)", justify="right")
    for a in schedule:
        table.add_row(a.task, a.node, f"{a.start:.6g}", f"{a.finish:.6g}")
    console = Console(highlight=False)
    console.print(table)
    console.print(
        f"{len(problem.tasks)} tasks on {used} of {len(problem.nodes)} nodes; "
        f"mapped in {seconds * 1000:.1f} ms"
    )


def _compare(problem: SchedulingProblem, as_json: bool) -> None:
    bound = critical_path_lower_bound(problem)
    rows: list[dict[str, Any]] = []
    failed = []
    for name in available_mappers():
        row: dict[str, Any] = {"algorithm": name, "makespan": None, "slr": None, "seconds": None}
        try:
            mapper = get_mapper(name)
            began = time.perf_counter()
            schedule = mapper(problem)
            row["seconds"] = time.perf_counter() - began
            problems = schedule.violations(problem)
        except Exception as error:  # one broken plugin must not hide the others' results
            row["error"] = f"{type(error).__name__}: {error}"
            failed.append(name)
        else:
            row["makespan"] = schedule.makespan
            slr = schedule_length_ratio(schedule, bound)
            row["slr"] = slr if math.isfinite(slr) else None
            if problems:
                row["error"] = f"invalid schedule: {problems[0]}"
                failed.append(name)
        rows.append(row)

    if as_json:
        click.echo(json.dumps({"lower_bound": bound, "results": rows}))
    else:
        _print_comparison(rows, bound, problem)
    if failed:
        raise ComparisonFailed(f"{', '.join(failed)} failed; see the table")


def _print_comparison(rows: list[dict[str, Any]], bound: float, problem: SchedulingProblem) -> None:
    valid = [r["makespan"] for r in rows if r["makespan"] is not None and "error" not in r]
    best = min(valid, default=None)
    table = Table(
        title=f"{len(problem.tasks)} tasks on {len(problem.nodes)} nodes", title_justify="left"
    )
    table.add_column("Algorithm")
    table.add_column("Makespan (s)", justify="right")
    table.add_column("SLR", justify="right")
    table.add_column("Time (ms)", justify="right")
    table.add_column("Note")
    for r in rows:
        makespan = "-" if r["makespan"] is None else f"{r['makespan']:.6g}"
        slr = "-" if r["slr"] is None else f"{r['slr']:.3f}"
        took = "-" if r["seconds"] is None else f"{r['seconds'] * 1000:.1f}"
        note = r.get("error", "best" if r["makespan"] == best and best is not None else "")
        table.add_row(r["algorithm"], makespan, slr, took, note)
    console = Console(highlight=False)
    console.print(table)
    console.print(
        f"SLR = makespan / critical-path lower bound ({bound:.6g} s: least compute, no transfers)"
    )
