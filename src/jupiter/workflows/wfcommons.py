"""WfCommons workflow traces as a neutral DAG: tasks with runtimes, edges with bytes.

Reads the WfFormat JSON of real workflow executions: schema 1.4 and earlier (tasks under
`workflow.tasks`, each with `parents`/`children`, `runtimeInSeconds` and `files` marked
input|output) and 1.5+ (`workflow.specification` holds tasks with `inputFiles`/
`outputFiles` ids and a `files` list with sizes; `workflow.execution` holds runtimes).

The edge parent -> child carries the files the parent outputs and the child inputs; an
edge with no such file still orders the two tasks and carries 0 bytes. Nothing here knows
about nodes or mapping: the mapper and the app importer build on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupiter.errors import SpecError


@dataclass(frozen=True)
class WorkflowTask:
    id: str  # unique in the workflow; 1.4 traces use the name, 1.5 the id
    name: str
    runtime: float  # seconds, as measured in the trace
    inputs: dict[str, int] = field(default_factory=dict)  # file -> bytes
    outputs: dict[str, int] = field(default_factory=dict)
    category: str | None = None


@dataclass(frozen=True)
class WorkflowEdge:
    src: str
    dst: str
    bytes: int
    files: tuple[str, ...] = ()


@dataclass
class Workflow:
    name: str
    schema_version: str
    tasks: list[WorkflowTask]
    edges: list[WorkflowEdge]

    def task(self, task_id: str) -> WorkflowTask:
        return self._by_id()[task_id]

    def parents(self, task_id: str) -> list[str]:
        return [e.src for e in self.edges if e.dst == task_id]

    def children(self, task_id: str) -> list[str]:
        return [e.dst for e in self.edges if e.src == task_id]

    def sources(self) -> list[str]:
        has_parent = {e.dst for e in self.edges}
        return [t.id for t in self.tasks if t.id not in has_parent]

    def sinks(self) -> list[str]:
        has_child = {e.src for e in self.edges}
        return [t.id for t in self.tasks if t.id not in has_child]

    def _by_id(self) -> dict[str, WorkflowTask]:
        return {t.id: t for t in self.tasks}


def load_workflow(path: str | Path) -> Workflow:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(path, None, "no such file") from None
    except json.JSONDecodeError as error:
        raise SpecError(
            path, None, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    return parse_workflow(data, path)


def parse_workflow(data: Any, source: str | Path | None = None) -> Workflow:
    return _Reader(str(source) if source is not None else None).workflow(data)


class _Reader:
    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(self.source, where, message)

    def need(self, obj: Any, key: str, where: str) -> Any:
        if not isinstance(obj, dict):
            raise self.fail(where, "must be a JSON object")
        if key not in obj:
            raise self.fail(f"{where}.{key}" if where else key, "missing")
        return obj[key]

    def listing(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "must be a list")
        return value

    def size(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(where, f"must be a non-negative number of bytes, got {value!r}")
        return int(value)

    def seconds(self, value: Any, where: str) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise self.fail(where, f"must be a non-negative number of seconds, got {value!r}")
        return float(value)

    def workflow(self, data: Any) -> Workflow:
        body = self.need(data, "workflow", "")
        name = str(data.get("name", self.source or "workflow"))
        version = str(data.get("schemaVersion", "unknown"))
        if isinstance(body, dict) and "specification" in body:
            tasks, links = self.v15(body)
        else:
            tasks, links = self.v14(body)
        return Workflow(name, version, tasks, self.edges(tasks, links))

    def v14(self, body: Any) -> tuple[list[WorkflowTask], list[tuple[str, str]]]:
        entries = self.listing(self.need(body, "tasks", "workflow"), "workflow.tasks")
        tasks: list[WorkflowTask] = []
        links: list[tuple[str, str]] = []
        for i, entry in enumerate(entries):
            where = f"workflow.tasks[{i}]"
            name = str(self.need(entry, "name", where))
            runtime = entry.get("runtimeInSeconds", entry.get("runtime"))
            if runtime is None:
                raise self.fail(f"{where}.runtimeInSeconds", "missing")
            inputs: dict[str, int] = {}
            outputs: dict[str, int] = {}
            for j, f in enumerate(self.listing(entry.get("files", []), f"{where}.files")):
                fwhere = f"{where}.files[{j}]"
                link = self.need(f, "link", fwhere)
                fname = str(self.need(f, "name", fwhere))
                nbytes = self.size(self.need(f, "sizeInBytes", fwhere), f"{fwhere}.sizeInBytes")
                if link == "input":
                    inputs[fname] = nbytes
                elif link == "output":
                    outputs[fname] = nbytes
                else:
                    raise self.fail(f"{fwhere}.link", f"must be input or output, got {link!r}")
            tasks.append(
                WorkflowTask(
                    id=name,
                    name=name,
                    runtime=self.seconds(runtime, f"{where}.runtimeInSeconds"),
                    inputs=inputs,
                    outputs=outputs,
                    category=entry.get("category"),
                )
            )
            links.extend(
                (str(p), name) for p in self.listing(entry.get("parents", []), f"{where}.parents")
            )
            # Some 1.4 traces list only parents; others both. The union is the DAG.
            links.extend(
                (name, str(c)) for c in self.listing(entry.get("children", []), f"{where}.children")
            )
        return tasks, links

    def v15(self, body: dict[str, Any]) -> tuple[list[WorkflowTask], list[tuple[str, str]]]:
        spec = body["specification"]
        entries = self.listing(
            self.need(spec, "tasks", "workflow.specification"), "workflow.specification.tasks"
        )
        sizes: dict[str, int] = {}
        for j, f in enumerate(self.listing(spec.get("files", []), "workflow.specification.files")):
            fwhere = f"workflow.specification.files[{j}]"
            sizes[str(self.need(f, "id", fwhere))] = self.size(
                self.need(f, "sizeInBytes", fwhere), f"{fwhere}.sizeInBytes"
            )
        execution = body.get("execution") or {}
        runtimes: dict[str, Any] = {}
        for k, run in enumerate(
            self.listing(execution.get("tasks", []), "workflow.execution.tasks")
        ):
            runtimes[str(self.need(run, "id", f"workflow.execution.tasks[{k}]"))] = run.get(
                "runtimeInSeconds"
            )

        tasks: list[WorkflowTask] = []
        links: list[tuple[str, str]] = []
        for i, entry in enumerate(entries):
            where = f"workflow.specification.tasks[{i}]"
            task_id = str(self.need(entry, "id", where))
            runtime = runtimes.get(task_id)
            if runtime is None:
                raise self.fail(
                    "workflow.execution.tasks", f"no runtimeInSeconds for task {task_id!r}"
                )

            tasks.append(
                WorkflowTask(
                    id=task_id,
                    name=str(entry.get("name", task_id)),
                    runtime=self.seconds(
                        runtime, f"workflow.execution.tasks[{task_id}].runtimeInSeconds"
                    ),
                    inputs=self.file_sizes(entry, "inputFiles", where, sizes),
                    outputs=self.file_sizes(entry, "outputFiles", where, sizes),
                    category=entry.get("category"),
                )
            )
            links.extend(
                (str(p), task_id)
                for p in self.listing(entry.get("parents", []), f"{where}.parents")
            )
            links.extend(
                (task_id, str(c))
                for c in self.listing(entry.get("children", []), f"{where}.children")
            )
        return tasks, links

    def file_sizes(
        self, entry: dict[str, Any], key: str, where: str, sizes: dict[str, int]
    ) -> dict[str, int]:
        ids = self.listing(entry.get(key, []), f"{where}.{key}")
        unknown = [f for f in ids if f not in sizes]
        if unknown:
            raise self.fail(
                f"{where}.{key}", f"file {unknown[0]!r} is not in workflow.specification.files"
            )
        return {str(f): sizes[f] for f in ids}

    def edges(self, tasks: list[WorkflowTask], links: list[tuple[str, str]]) -> list[WorkflowEdge]:
        by_id: dict[str, WorkflowTask] = {}
        for task in tasks:
            if task.id in by_id:
                raise self.fail("workflow", f"task {task.id!r} appears twice")
            by_id[task.id] = task
        edges: list[WorkflowEdge] = []
        seen: set[tuple[str, str]] = set()
        for src, dst in links:
            for end in (src, dst):
                if end not in by_id:
                    raise self.fail("workflow", f"edge {src} -> {dst} names unknown task {end!r}")
            if src == dst:
                raise self.fail("workflow", f"task {src!r} is its own parent")
            if (src, dst) in seen:
                continue
            seen.add((src, dst))
            outputs, inputs = by_id[src].outputs, by_id[dst].inputs
            shared = tuple(f for f in outputs if f in inputs)
            edges.append(WorkflowEdge(src, dst, sum(outputs[f] for f in shared), shared))
        return edges
