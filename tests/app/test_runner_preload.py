"""TaskRunner.warm_up(tasks): the tasks' files are imported in the idle workers ahead of
their first calls, so that a module's imports are paid at dispatch, not by the first input.

Real worker processes; each task file counts its own imports in a file beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from jupiter.app.runner import TaskFailed, TaskRunner
from jupiter.app.spec import App

SPEC = """
    name: preload-test
    sources:
      - name: src
        feeds: [counted, other, broken]
        inputs: ["in.txt"]
    tasks:
      counted: {python: "tasks/counted.py:run"}
      other: {python: "tasks/other.py:run"}
      broken: {python: "tasks/broken.py:run"}
"""

# Module level runs once per import: one line in imports.log per import of this file.
COUNTED = """
from pathlib import Path
with (Path(__file__).parent.parent / "imports-{name}.log").open("a") as log:
    log.write("imported\\n")

def run(inputs, output):
    output.write_text("{name}")
"""

BROKEN = """
raise ImportError("no such model file: weights.bin")

def run(inputs, output):
    output.write_text("never")
"""


@pytest.fixture
def app(write_app: Callable[..., App]) -> App:
    return write_app(
        SPEC,
        {
            "in.txt": "1\n",
            "tasks/counted.py": COUNTED.format(name="counted"),
            "tasks/other.py": COUNTED.format(name="other"),
            "tasks/broken.py": BROKEN,
        },
    )


def imports(app: App, name: str) -> int:
    log = app.root / f"imports-{name}.log"
    return len(log.read_text().splitlines()) if log.is_file() else 0


def test_warm_up_imports_the_given_tasks_files_once_and_only_those(
    app: App, tmp_path: Path
) -> None:
    async def go() -> tuple[int, int, int, int]:
        async with TaskRunner(app) as runner:
            await runner.warm_up(["counted"])
            before = imports(app, "counted"), imports(app, "other")
            await runner.run("counted", {"src": app.root / "in.txt"}, tmp_path / "out")
            # Warming up again (a re-mapping) does not import an unchanged file again.
            await runner.warm_up(["counted"])
            return *before, imports(app, "counted"), imports(app, "other")

    counted_before, other_before, counted_after, other_after = asyncio.run(go())
    assert (counted_before, other_before) == (1, 0)
    # The call used the module the warm-up imported.
    assert (counted_after, other_after) == (1, 0)
    assert (tmp_path / "out").read_text() == "counted"


def test_a_file_that_fails_to_import_is_reported_by_its_task_not_by_the_warm_up(
    app: App, tmp_path: Path
) -> None:
    async def go() -> str:
        async with TaskRunner(app) as runner:
            await runner.warm_up(["broken", "counted"])
            # The worker is still usable: the other file was imported all the same.
            assert imports(app, "counted") == 1
            with pytest.raises(TaskFailed) as failed:
                await runner.run("broken", {"src": app.root / "in.txt"}, tmp_path / "out")
            return failed.value.message

    assert "no such model file: weights.bin" in asyncio.run(go())
