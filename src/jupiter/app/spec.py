"""The application model: `load_app(path)` reads and validates an app folder into an `App`.

An App is what every other part of Jupiter works with: the mapper reads its graph, agents
receive it as JSON (`to_dict`/`from_dict`) and run its tasks with a TaskRunner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from jupiter.app.document import AppDoc, SourceSpec, TaskLimits, parse_document
from jupiter.app.locate import Locator
from jupiter.app.validate import check_files, check_structure, sample_files, split_python_target
from jupiter.app.yamlio import load_yaml
from jupiter.errors import SpecError
from jupiter.specfile import read_spec_text

__all__ = ["App", "SourceSpec", "TaskLimits", "TaskSpec", "load_app"]

SPEC_FILE = "app.yaml"


class TaskSpec(BaseModel):
    """One validated task. Exactly one of `python` ("file.py:function") and `command` is set."""

    model_config = ConfigDict(frozen=True)

    name: str
    parents: list[str]
    python: str | None = None
    command: str | None = None
    estimate_seconds: float | None = None
    estimate_output_bytes: int | None = None
    node: str | None = None
    # Seconds one attempt may run (None: no limit of its own) and retries after a failure.
    timeout: float | None = None
    retries: int = 0
    # Limits on each process of a run of it (None: none): writable memory in bytes
    # (RLIMIT_DATA) and CPU seconds (RLIMIT_CPU). See app.yaml's `resources:`.
    memory_limit: int | None = None
    cpu_limit: int | None = None

    @property
    def has_resource_limits(self) -> bool:
        return self.memory_limit is not None or self.cpu_limit is not None

    @property
    def kind(self) -> str:
        return "python" if self.python is not None else "command"

    @property
    def python_file(self) -> str | None:
        """The code file, relative to the app folder."""
        target = split_python_target(self.python) if self.python else None
        return target[0] if target else None

    @property
    def python_function(self) -> str | None:
        target = split_python_target(self.python) if self.python else None
        return target[1] if target else None

    @property
    def has_estimate(self) -> bool:
        return self.estimate_seconds is not None and self.estimate_output_bytes is not None


class App:
    """A validated application: its tasks (in topological order), sources and exits."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        root: Path,
        tasks: dict[str, TaskSpec],
        sources: dict[str, SourceSpec],
        exits: list[str],
    ) -> None:
        self.name = name
        self.description = description
        self.root = root
        self.tasks = tasks
        self.sources = sources
        self.exits = exits
        self._children: dict[str, list[str]] = {name: [] for name in tasks}
        for task in tasks.values():  # topological order, so children lists are too
            for parent in task.parents:
                self._children[parent].append(task.name)
        self._samples: dict[str, list[Path]] = {}

    # -- graph -------------------------------------------------------------------------

    def topological_order(self) -> list[str]:
        return list(self.tasks)

    def upstream(self, task: str) -> list[str]:
        """The names whose outputs `task` consumes: its parents, then the sources feeding it."""
        spec = self._task(task)
        fed_by = [s.name for s in self.sources.values() if task in s.feeds]
        return [*spec.parents, *fed_by]

    def downstream(self, name: str) -> list[str]:
        """The tasks that consume the output of a task, or the input of a source."""
        if name in self.tasks:
            return list(self._children[name])
        if name in self.sources:
            return list(self.sources[name].feeds)
        raise KeyError(f"app {self.name!r} has no task or source named {name!r}")

    def entry_tasks(self) -> list[str]:
        """Tasks fed by at least one source, in topological order."""
        fed = {task for source in self.sources.values() for task in source.feeds}
        return [name for name in self.tasks if name in fed]

    @property
    def has_estimates(self) -> bool:
        """True when every task declares an estimate, so a run may skip execution profiling."""
        return all(task.has_estimate for task in self.tasks.values())

    def _task(self, name: str) -> TaskSpec:
        try:
            return self.tasks[name]
        except KeyError:
            raise KeyError(f"app {self.name!r} has no task named {name!r}") from None

    # -- inputs ------------------------------------------------------------------------

    def sample_inputs(self, source: str) -> list[Path]:
        """The files matched by a source's `inputs` patterns, sorted by path in the folder."""
        if source not in self._samples:
            spec = self.sources.get(source)
            if spec is None:
                raise KeyError(f"app {self.name!r} has no source named {source!r}")
            self._samples[source] = sample_files(self.root, spec.inputs)
        return list(self._samples[source])

    def input_for(self, source: str, k: int) -> Path:
        """The file for input id k at a source: sample k mod n, so any K inputs can be sent."""
        samples = self.sample_inputs(source)
        if not samples:
            raise FileNotFoundError(f"source {source!r} has no sample inputs under {self.root}")
        return samples[k % len(samples)]

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in app.yaml's own format, with the exits spelled out."""
        tasks: dict[str, Any] = {}
        for task in self.tasks.values():
            entry: dict[str, Any] = {"parents": list(task.parents)}
            if task.python is not None:
                entry["python"] = task.python
            else:
                entry["command"] = task.command
            if task.has_estimate:
                entry["estimate"] = {
                    "seconds": task.estimate_seconds,
                    "output_bytes": task.estimate_output_bytes,
                }
            if task.node is not None:
                entry["node"] = task.node
            # Resolved values: an agent's copy needs no defaults block or CLI overrides.
            if task.timeout is not None:
                entry["timeout"] = task.timeout
            if task.retries:
                entry["retries"] = task.retries
            if task.has_resource_limits:
                limits = {"memory": task.memory_limit, "cpu_seconds": task.cpu_limit}
                entry["resources"] = {k: v for k, v in limits.items() if v is not None}
            tasks[task.name] = entry
        return {
            "name": self.name,
            "description": self.description,
            "sources": [source.model_dump(exclude_none=True) for source in self.sources.values()],
            "tasks": tasks,
            "exits": list(self.exits),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], root: str | Path) -> App:
        """Rebuild an App from `to_dict()` output, e.g. on an agent with its copy of the folder.

        The graph is re-checked; the folder's files are not (they are checked where the app
        was loaded, and a missing one fails the task that needs it).
        """
        locator = Locator("<app dict>")
        doc = parse_document(data, locator)
        return _build(doc, Path(root).absolute(), check_structure(doc, locator))

    def __repr__(self) -> str:
        return f"App({self.name!r}, tasks={len(self.tasks)}, sources={list(self.sources)})"


def load_app(path: str | Path, overrides: TaskLimits | None = None) -> App:
    """Load and validate the app in a folder (or its app.yaml). Runs none of the app's code.

    `overrides` (the CLI's --task-timeout and --retries) replace the app's `defaults:`; a
    task's own `timeout:` or `retries:` still wins over both.
    Raises SpecError naming the file and field of the first problem found.
    """
    given = Path(path)
    spec_file = given / SPEC_FILE if given.is_dir() else given
    display = str(spec_file)
    if not spec_file.is_file():
        if given.is_dir():
            raise SpecError(given, None, f"no {SPEC_FILE} in this folder; is it an app folder?")
        raise SpecError(given, None, "no such app folder or file")
    data, lines = load_yaml(read_spec_text(spec_file), display)
    locator = Locator(display, lines)
    doc = parse_document(data, locator)
    order = check_structure(doc, locator)
    root = spec_file.parent.resolve()
    check_files(doc, root, locator)
    return _build(doc, root, order, overrides)


def _build(doc: AppDoc, root: Path, order: list[str], overrides: TaskLimits | None = None) -> App:
    # Most specific first: the task's own value, the command line, the app's defaults.
    defaults = doc.defaults or TaskLimits()
    given = overrides or TaskLimits()
    default_timeout = given.timeout if given.timeout is not None else defaults.timeout
    default_retries = given.retries if given.retries is not None else defaults.retries
    tasks: dict[str, TaskSpec] = {}
    for name in order:
        task = doc.tasks[name]
        retries = task.retries if task.retries is not None else default_retries
        tasks[name] = TaskSpec(
            name=name,
            parents=list(task.parents),
            python=task.python.strip() if task.python is not None else None,
            command=task.command,
            estimate_seconds=task.estimate.seconds if task.estimate else None,
            estimate_output_bytes=task.estimate.output_bytes if task.estimate else None,
            node=task.node,
            timeout=task.timeout if task.timeout is not None else default_timeout,
            retries=retries or 0,
            memory_limit=task.resources.memory if task.resources else None,
            cpu_limit=task.resources.cpu_seconds if task.resources else None,
        )
    has_children = {parent for task in tasks.values() for parent in task.parents}
    exits = (
        list(doc.exits)
        if doc.exits is not None
        else [name for name in order if name not in has_children]
    )
    return App(
        name=doc.name,
        description=doc.description,
        root=root,
        tasks=tasks,
        sources={source.name: source for source in doc.sources},
        exits=exits,
    )
