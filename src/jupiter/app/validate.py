"""The rules of an app spec beyond field types: names, references, graph shape, templates,
and (for an app folder on disk) the task code and sample inputs.

Checks run in a fixed order and stop at the first problem, so the user gets one line to fix.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from jupiter.app import codecheck, placeholders
from jupiter.app.document import AppDoc
from jupiter.app.graph import CycleError, topological_order
from jupiter.app.locate import Locator, suggest

# Names end up in placeholders, file names and URLs, so keep them plain.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")
_NAME_RULE = "use letters, digits, '_' and '-' (not starting with '-'), at most 128 characters"

_PYTHON_TARGET = re.compile(r"(?P<file>.+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)")


def split_python_target(target: str) -> tuple[str, str] | None:
    """ "tasks/parse.py:parse" -> ("tasks/parse.py", "parse"), or None if malformed."""
    match = _PYTHON_TARGET.fullmatch(target.strip())
    return (match["file"], match["function"]) if match else None


def check_structure(doc: AppDoc, locator: Locator) -> list[str]:
    """Check everything that does not need the app folder; return the topological order."""
    _check_names(doc, locator)
    fed_by = _check_sources(doc, locator)
    _check_tasks(doc, locator)
    try:
        order = topological_order({name: task.parents for name, task in doc.tasks.items()})
    except CycleError as cycle:
        raise locator.error(
            ("tasks", cycle.cycle[0], "parents"), f"cycle in the task graph: {cycle}"
        ) from None
    for name, task in doc.tasks.items():
        if not task.parents and name not in fed_by:
            raise locator.error(
                ("tasks", name),
                "not reachable from any source: it has no parents and no source feeds it,"
                " so it would never run",
            )
    _check_exits(doc, locator)
    _check_templates(doc, fed_by, locator)
    return order


def _check_names(doc: AppDoc, locator: Locator) -> None:
    if not NAME_PATTERN.fullmatch(doc.name):
        raise locator.error(("name",), f"invalid app name {doc.name!r}: {_NAME_RULE}")
    if not doc.sources:
        raise locator.error(
            ("sources",), "an app needs at least one source (where its inputs enter)"
        )
    if not doc.tasks:
        raise locator.error(("tasks",), "an app needs at least one task")
    for name in doc.tasks:
        if not NAME_PATTERN.fullmatch(name):
            raise locator.error(("tasks", name), f"invalid task name {name!r}: {_NAME_RULE}")
    seen: dict[str, int] = {}
    for index, source in enumerate(doc.sources):
        where = ("sources", index, "name")
        if not NAME_PATTERN.fullmatch(source.name):
            raise locator.error(where, f"invalid source name {source.name!r}: {_NAME_RULE}")
        if source.name in seen:
            raise locator.error(
                where, f"duplicate source name '{source.name}' (also sources[{seen[source.name]}])"
            )
        if source.name in doc.tasks:
            # Sources and tasks share one namespace: both are keys of a task's `inputs`.
            raise locator.error(where, f"'{source.name}' is also a task name; names must differ")
        seen[source.name] = index


def _check_sources(doc: AppDoc, locator: Locator) -> dict[str, list[str]]:
    """Check feeds and input patterns; return task -> names of the sources feeding it."""
    fed_by: dict[str, list[str]] = {}
    for index, source in enumerate(doc.sources):
        for position, target in enumerate(source.feeds):
            where = ("sources", index, "feeds", position)
            if target not in doc.tasks:
                raise locator.error(
                    where, f"unknown task '{target}'{suggest(target, list(doc.tasks))}"
                )
            if source.feeds.index(target) != position:
                raise locator.error(where, f"'{target}' is listed twice")
            fed_by.setdefault(target, []).append(source.name)
        for position, pattern in enumerate(source.inputs):
            problem = _relative_path_problem(pattern)
            if problem:
                raise locator.error(("sources", index, "inputs", position), problem)
    return fed_by


def _relative_path_problem(path: str) -> str | None:
    if not path.strip():
        return "must not be empty"
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("~"):
        return f"{path!r} must be relative to the app folder"
    if ".." in pure.parts:
        return f"{path!r} leaves the app folder ('..'); the folder is what gets shipped"
    return None


def _check_tasks(doc: AppDoc, locator: Locator) -> None:
    for name, task in doc.tasks.items():
        if (task.python is None) == (task.command is None):
            which = "both" if task.python is not None else "neither"
            raise locator.error(
                ("tasks", name), f"has {which} of 'python' and 'command'; give exactly one"
            )
        if task.python is not None:
            target = split_python_target(task.python)
            if target is None:
                raise locator.error(
                    ("tasks", name, "python"),
                    f"{task.python!r} should look like FILE.py:FUNCTION, e.g. tasks/parse.py:parse",
                )
            problem = _relative_path_problem(target[0])
            if problem:
                raise locator.error(("tasks", name, "python"), problem)
        if task.command is not None and not task.command.strip():
            raise locator.error(("tasks", name, "command"), "must not be empty")
        for position, parent in enumerate(task.parents):
            where = ("tasks", name, "parents", position)
            if parent == name:
                raise locator.error(where, "a task cannot be its own parent")
            if parent not in doc.tasks:
                known_source = any(s.name == parent for s in doc.sources)
                hint = (
                    f"; '{parent}' is a source: list this task in its `feeds` instead"
                    if known_source
                    else suggest(parent, list(doc.tasks))
                )
                raise locator.error(where, f"unknown task '{parent}'{hint}")
            if task.parents.index(parent) != position:
                raise locator.error(where, f"'{parent}' is listed twice")


def _check_exits(doc: AppDoc, locator: Locator) -> None:
    has_children = {parent for task in doc.tasks.values() for parent in task.parents}
    if doc.exits is None:
        return
    if not doc.exits:
        raise locator.error(
            ("exits",), "must name at least one task (or leave it out for the default)"
        )
    for position, name in enumerate(doc.exits):
        where = ("exits", position)
        if name not in doc.tasks:
            raise locator.error(where, f"unknown task '{name}'{suggest(name, list(doc.tasks))}")
        if doc.exits.index(name) != position:
            raise locator.error(where, f"'{name}' is listed twice")
    for name in doc.tasks:
        if name not in has_children and name not in doc.exits:
            raise locator.error(
                ("exits",),
                f"task '{name}' has no children and is not an exit, so its output would be"
                " thrown away; add it to exits",
            )


def _check_templates(doc: AppDoc, fed_by: dict[str, list[str]], locator: Locator) -> None:
    for name, task in doc.tasks.items():
        if task.command is None:
            continue
        where = ("tasks", name, "command")
        try:
            parts = placeholders.parse(task.command)
        except placeholders.PlaceholderError as error:
            raise locator.error(where, str(error)) from None
        upstream = [*task.parents, *fed_by.get(name, [])]
        for used in placeholders.referenced_inputs(parts):
            if used not in upstream:
                raise locator.error(
                    where,
                    f"{{in:{used}}} is not an upstream of '{name}'{suggest(used, upstream)};"
                    f" its upstreams are: {', '.join(upstream)}",
                )


def check_files(doc: AppDoc, root: Path, locator: Locator) -> None:
    """Check the task code and the sample inputs in the app folder. Runs no user code."""
    sources: dict[Path, str] = {}
    for name, task in doc.tasks.items():
        if task.python is None:
            continue
        target = split_python_target(task.python)
        assert target is not None  # check_structure ran first
        relative, function = target
        where = ("tasks", name, "python")
        path = root / relative
        if not path.resolve().is_relative_to(root.resolve()):
            raise locator.error(where, f"{relative} resolves outside the app folder")
        if not path.is_file():
            raise locator.error(where, f"code file {relative} does not exist in the app folder")
        if path not in sources:
            try:
                sources[path] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise locator.error(where, f"cannot read {relative}: {error}") from None
        problem = codecheck.find_problem(sources[path], relative, function)
        if problem:
            raise locator.error(where, problem)
    for index, source in enumerate(doc.sources):
        outside = [
            path
            for path in sample_files(root, source.inputs)
            if not path.resolve().is_relative_to(root.resolve())
        ]
        if outside:
            relative = (
                outside[0].relative_to(root) if outside[0].is_relative_to(root) else outside[0]
            )
            raise locator.error(
                ("sources", index, "inputs"),
                f"{relative} resolves outside the app folder (a symlink out of it is refused)",
            )
        if not sample_files(root, source.inputs):
            patterns = ", ".join(source.inputs)
            raise locator.error(
                ("sources", index, "inputs"),
                f"no sample input files match {patterns} (relative to {root})",
            )


def sample_files(root: Path, patterns: list[str]) -> list[Path]:
    """Files matched by the patterns under root, without duplicates, sorted by relative path."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file():
                found.setdefault(path.relative_to(root).as_posix(), path)
    return [found[key] for key in sorted(found)]
