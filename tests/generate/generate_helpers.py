"""Shared checks for synthetic apps: their graph levels, their files, and what they return."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from pathlib import Path
from types import ModuleType

from jupiter.app.spec import App

WORKFLOWS = Path("/work/shared/workflows")
TRACES = sorted(WORKFLOWS.glob("*.json"))


def levels_of(app: App) -> dict[str, int]:
    """Each task's level: 0 for tasks without parents, else 1 + the deepest parent's."""
    level: dict[str, int] = {}
    for name in app.topological_order():
        parents = app.tasks[name].parents
        level[name] = 1 + max(level[p] for p in parents) if parents else 0
    return level


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by its relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def dag_module(app_root: Path) -> ModuleType:
    """Import an app's tasks/dag.py under a name of its own."""
    name = "generated_dag_" + hashlib.sha256(str(app_root).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, app_root / "tasks" / "dag.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_process(app: App, input_id: int) -> dict[str, str]:
    """Call every task function in topological order: the sha256 of each exit's output."""
    module = dag_module(app.root)
    with tempfile.TemporaryDirectory(prefix="generate-test-") as folder:
        outputs: dict[str, Path] = {}
        for name in app.topological_order():
            inputs = {
                up: outputs[up] if up in app.tasks else app.input_for(up, input_id)
                for up in app.upstream(name)
            }
            function_name = app.tasks[name].python_function
            assert function_name is not None
            outputs[name] = Path(folder) / name
            getattr(module, function_name)(inputs, outputs[name])
        return {name: hashlib.sha256(outputs[name].read_bytes()).hexdigest() for name in app.exits}


def expected(app_root: Path, input_id: int) -> dict[str, str]:
    data = json.loads((app_root / "expected.json").read_text())
    return data["outputs"][str(input_id % data["samples"])]


def check_run_outputs(app_root: Path, outputs: dict[int, dict[str, str]], inputs: int) -> None:
    """Every input id returned every exit's output, with exactly the expected bytes."""
    assert sorted(outputs) == list(range(inputs))
    for input_id in range(inputs):
        got = {
            exit_task: hashlib.sha256(Path(path).read_bytes()).hexdigest()
            for exit_task, path in outputs[input_id].items()
        }
        assert got == expected(app_root, input_id), f"input {input_id}"
