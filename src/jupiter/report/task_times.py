"""Per task, predicted against measured: how long it ran, how long its data took to arrive.

Predicted, from the mapper's schedule (one input, idle cluster): run = finish - start;
transfer = start - the latest parent's finish (the data's latency and serialising time, plus
any wait for the node the mapper planned). Measured, the mean over the inputs that ran it:
run = start -> finish; transfer = the latest parent's finish -> the task's ready (including a
wait for a busy link, which the records cannot tell apart); queueing = ready -> start.
A task whose parents all ran on its own node has a transfer of (about) 0.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import NamedTuple

from jupiter.report.model import Report


@dataclass(frozen=True)
class TaskTimes:
    task: str
    node: str
    predicted_run: float | None
    measured_run: float | None
    predicted_transfer: float | None
    measured_transfer: float | None
    measured_queueing: float | None
    runs: int

    @property
    def ratio(self) -> float | None:
        """Measured over predicted run time; None when either is missing or 0."""
        if not self.predicted_run or self.measured_run is None:
            return None
        return self.measured_run / self.predicted_run


class _Run(NamedTuple):
    """One finished (task, input) (a tuple: a long stream has hundreds of thousands)."""

    node: str
    ready: float
    start: float
    finish: float


def _finished_runs(report: Report) -> dict[tuple[str, int], _Run]:
    done: dict[tuple[str, int], _Run] = {}
    for r in report.stats:
        if r.start is None or r.finish is None or r.failed is not None:
            continue
        key = (r.task, r.input_id)
        # After a re-mapping a task may have run twice: its first finish is what went on.
        if key not in done or r.finish < done[key].finish:
            ready = r.ready if r.ready is not None else r.start
            done[key] = _Run(r.node, ready, r.start, r.finish)
    return done


def task_times(report: Report) -> list[TaskTimes]:
    """One row per task (not the sources), by predicted start, then those never planned."""
    sources = set(report.sources)
    dag = report.dag or {}
    planned = {a.task: a for a in report.predicted_schedule}
    done = _finished_runs(report)
    tasks = [a.task for a in report.predicted_schedule if a.task not in sources]
    tasks += sorted({t for t, _ in done if t not in sources} - set(tasks))
    by_task: dict[str, list[tuple[int, _Run]]] = {}
    for (task, k), run in done.items():
        by_task.setdefault(task, []).append((k, run))
    rows = []
    for task in tasks:
        plan = planned.get(task)
        parents = dag.get(task, [])
        predicted_transfer = None
        if plan is not None and dag:
            finishes = [planned[p].finish for p in parents if p in planned]
            predicted_transfer = max(plan.start - max(finishes, default=0.0), 0.0)
        runs = by_task.get(task, [])
        ran_on = ", ".join(sorted({r.node for _, r in runs}))
        transfers = []
        for k, run in runs:
            arrived = [done[(p, k)].finish for p in parents if (p, k) in done]
            if arrived:
                transfers.append(max(run.ready - max(arrived), 0.0))
        rows.append(
            TaskTimes(
                task=task,
                node=plan.node if plan is not None else ran_on,
                predicted_run=plan.finish - plan.start if plan is not None else None,
                measured_run=_mean([r.finish - r.start for _, r in runs]),
                predicted_transfer=predicted_transfer,
                measured_transfer=_mean(transfers),
                measured_queueing=_mean([r.start - r.ready for _, r in runs]),
                runs=len(runs),
            )
        )
    return rows


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None
