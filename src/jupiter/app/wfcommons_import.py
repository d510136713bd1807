"""A WfCommons workflow trace as a runnable synthetic app, or as a scheduling problem.

The DAG is the trace's (parents and children). A task computes for its recorded runtime
times `time_scale` (CPU seconds, see synthetic_task.py) and writes one output. In the trace
a task writes several files and each child reads some of them; a Jupiter task has one
output, which goes to every child, so its size is that of the files the task writes that at
least one child reads (an exit: all the files it writes), times `size_scale`, and at least
MIN_OUTPUT_BYTES. The entry tasks (no parents) are fed by one source whose generated samples
are as large as the entry tasks' inputs are on average, times `size_scale`.

Scaling both by the same factor keeps the trace's communication-to-computation ratio; the
defaults (1/100 of the time, 1/1000 of the data) divide it by ten, so that a typical trace
runs in seconds and its data fits in a few megabytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from jupiter.app.graph import CycleError, topological_order
from jupiter.app.synthetic_names import app_names, python_names
from jupiter.app.synthetic_plan import MIN_OUTPUT_BYTES, AppPlan, PlannedSource, PlannedTask
from jupiter.app.synthetic_writer import check_out_dir, write_app
from jupiter.errors import SpecError
from jupiter.workflows.wfcommons import Workflow, load_workflow

DEFAULT_TIME_SCALE = 0.01
DEFAULT_SIZE_SCALE = 1e-3
SOURCE_NAME = "trace_input"


@dataclass(frozen=True)
class ImportedTrace:
    plan: AppPlan
    workflow: Workflow
    renamed: dict[str, str]  # trace task id -> app task name, where they differ


def check_scales(time_scale: float, size_scale: float) -> None:
    for option, value in (("--time-scale", time_scale), ("--size-scale", size_scale)):
        if not math.isfinite(value) or value <= 0:
            raise SpecError(None, option, f"must be a positive number, got {value!r}")


def plan_from_workflow(
    workflow: Workflow,
    *,
    time_scale: float = DEFAULT_TIME_SCALE,
    size_scale: float = DEFAULT_SIZE_SCALE,
    trace_label: str = "TRACE",
) -> ImportedTrace:
    check_scales(time_scale, size_scale)
    if not workflow.tasks:
        raise SpecError(trace_label, "workflow.tasks", "the trace has no tasks")
    parents: dict[str, list[str]] = {t.id: [] for t in workflow.tasks}
    shared: dict[str, set[str]] = {t.id: set() for t in workflow.tasks}
    for edge in workflow.edges:
        parents[edge.dst].append(edge.src)
        shared[edge.src].update(edge.files)
    has_children = {edge.src for edge in workflow.edges}
    by_id = {task.id: task for task in workflow.tasks}
    try:
        order = topological_order(parents)
    except CycleError as cycle:
        raise SpecError(trace_label, "workflow", f"cycle in the task graph: {cycle}") from None

    names = app_names(order, reserved=[SOURCE_NAME])
    functions = python_names(names[i] for i in order)
    tasks: list[PlannedTask] = []
    for task_id in order:
        task = by_id[task_id]
        files = shared[task_id] if task_id in has_children else set(task.outputs)
        raw_bytes = sum(task.outputs[f] for f in files if f in task.outputs)
        label = f"trace task {json.dumps(task.id)}"
        if task.name != task.id:
            label += f" named {json.dumps(task.name)}"
        if task.category:
            label += f", category {json.dumps(task.category)}"
        tasks.append(
            PlannedTask(
                name=names[task_id],
                parents=tuple(names[p] for p in parents[task_id]),
                seconds=round(task.runtime * time_scale, 6),
                output_bytes=max(MIN_OUTPUT_BYTES, round(raw_bytes * size_scale)),
                function=functions[names[task_id]],
                comment=f"{label}: {task.runtime:g} s, {raw_bytes} bytes out",
            )
        )

    entries = [task_id for task_id in order if not parents[task_id]]
    entry_input = sum(sum(by_id[e].inputs.values()) for e in entries) / len(entries)
    title = workflow.name or "trace"
    plan = AppPlan(
        name=app_names([title])[title],
        description=(
            f"WfCommons trace {workflow.name} (schema {workflow.schema_version}): "
            f"{len(order)} tasks, {len(workflow.edges)} edges; runtimes x {time_scale!r}, "
            f"data sizes x {size_scale!r}"
        ),
        tasks=tasks,
        sources=[
            PlannedSource(
                name=SOURCE_NAME,
                feeds=tuple(names[e] for e in entries),
                sample_bytes=max(MIN_OUTPUT_BYTES, round(entry_input * size_scale)),
                salt=f"import-wfcommons/{workflow.name}",
            )
        ],
        header=[
            f"Imported by: jupiter import-wfcommons {trace_label} OUT "
            f"--time-scale {time_scale!r} --size-scale {size_scale!r}",
            f"From the WfCommons trace of {workflow.name!r} (schema {workflow.schema_version}).",
            f"Each task hashes for its trace runtime x {time_scale!r} seconds of CPU time, then",
            "writes one output derived from its inputs (tasks/dag.py), as large as the files it",
            f"writes for its children (an exit: all its files) x {size_scale!r}. The comment",
            "above each task gives its id, runtime and output bytes in the trace.",
            f"Source {SOURCE_NAME} feeds the {len(entries)} entry task(s) a sample as large as",
            f"their mean input in the trace x {size_scale!r}. expected.json has the sha256 of",
            "every exit's output for each sample input.",
            "",
        ],
    )
    renamed = {task_id: name for task_id, name in names.items() if task_id != name}
    return ImportedTrace(plan, workflow, renamed)


def import_trace(
    trace: Path,
    out: Path | None,
    *,
    time_scale: float = DEFAULT_TIME_SCALE,
    size_scale: float = DEFAULT_SIZE_SCALE,
    force: bool = False,
) -> ImportedTrace:
    """Read the trace and, if `out` is given, write it there as an app folder."""
    check_scales(time_scale, size_scale)
    if out is not None:
        check_out_dir(out, force)
    imported = plan_from_workflow(
        load_workflow(trace), time_scale=time_scale, size_scale=size_scale, trace_label=trace.name
    )
    if out is not None:
        write_app(imported.plan, out, force=force)
    return imported
