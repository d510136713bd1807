"""Per-task timeout and retries: app.yaml fields, defaults, overrides, and the runner
enforcing the timeout on real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from jupiter.app.runner import TaskFailed, TaskRunner, TaskTimedOut, retry_delay
from jupiter.app.spec import App, TaskLimits, load_app
from jupiter.errors import SpecError

PID_TASK = """
import os

def pid(inputs, output):
    output.write_text(str(os.getpid()))
"""


def descendants_named(name: str) -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name() == name and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def all_gone(processes: list[psutil.Process], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in processes):
            return True
        time.sleep(0.02)
    return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


SPEC = """
name: limits
{defaults}
sources:
  - name: src
    feeds: [a, b]
    inputs: ["in.txt"]
tasks:
  a: {{command: "cat {{in:src}} > {{out}}"{a}}}
  b: {{command: "cat {{in:src}} > {{out}}"}}
"""


def folder(tmp_path: Path, a: str = "", defaults: str = "") -> Path:
    root = tmp_path / "limits"
    root.mkdir(exist_ok=True)
    (root / "in.txt").write_text("x\n")
    (root / "app.yaml").write_text(SPEC.format(a=a, defaults=defaults))
    return root


def test_no_limits_by_default(tmp_path: Path) -> None:
    app = load_app(folder(tmp_path))
    assert [(t.timeout, t.retries) for t in app.tasks.values()] == [(None, 0), (None, 0)]


def test_task_value_beats_override_beats_defaults(tmp_path: Path) -> None:
    root = folder(tmp_path, a=", timeout: 5, retries: 1", defaults="defaults: {timeout: 7}")
    app = load_app(root)
    assert (app.tasks["a"].timeout, app.tasks["a"].retries) == (5, 1)
    assert (app.tasks["b"].timeout, app.tasks["b"].retries) == (7, 0)
    app = load_app(root, TaskLimits(timeout=2.5, retries=3))
    assert (app.tasks["a"].timeout, app.tasks["a"].retries) == (5, 1)
    assert (app.tasks["b"].timeout, app.tasks["b"].retries) == (2.5, 3)


def test_resolved_limits_travel_with_the_app(tmp_path: Path) -> None:
    app = load_app(folder(tmp_path, defaults="defaults: {timeout: 7, retries: 2}"))
    again = App.from_dict(app.to_dict(), app.root)
    assert [(t.timeout, t.retries) for t in again.tasks.values()] == [(7, 2), (7, 2)]


@pytest.mark.parametrize(
    ("a", "defaults", "line"),
    [
        (", timeout: 0", "", "tasks.a.timeout: must be > 0, got 0"),
        (", timeout: -2", "", "tasks.a.timeout: must be > 0, got -2"),
        (", timeout: 90000", "", "tasks.a.timeout: must be <= 86400, got 90000"),
        (", timeout: '5'", "", "tasks.a.timeout: expected a number, got"),
        (", retries: 11", "", "tasks.a.retries: must be <= 10, got 11"),
        (", retries: -1", "", "tasks.a.retries: must be >= 0, got -1"),
        (", retries: 1.5", "", "tasks.a.retries: expected a whole number"),
        ("", "defaults: {timeout: -1}", "defaults.timeout: must be > 0, got -1"),
        ("", "defaults: {tries: 1}", "defaults.tries: unknown field"),
    ],
)
def test_bad_limits_are_one_line_naming_the_field(
    tmp_path: Path, a: str, defaults: str, line: str
) -> None:
    with pytest.raises(SpecError) as caught:
        load_app(folder(tmp_path, a=a, defaults=defaults))
    message = str(caught.value)
    assert "\n" not in message
    assert line in message


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert retry_delay(10) == 30.0


@pytest.fixture
def make(write_app: Callable[..., App]) -> Callable[..., App]:
    def build(tasks: dict[str, str], files: dict[str, str]) -> App:
        body = "\n".join(f"  {name}: {spec}" for name, spec in tasks.items())
        spec = (
            "name: hang\nsources:\n  - name: src\n"
            f"    feeds: [{', '.join(tasks)}]\n    inputs: [in.txt]\ntasks:\n{body}\n"
        )
        return write_app(spec, {"in.txt": "3\n", **files})

    return build


def test_a_hung_command_is_killed_at_its_timeout(make: Callable[..., App], tmp_path: Path) -> None:
    app = make({"hang": "{command: 'sleep 1000 & sleep 1000; wait', timeout: 1}"}, {})

    async def go() -> TaskFailed:
        async with TaskRunner(app) as runner:
            running = asyncio.create_task(
                runner.run("hang", {"src": app.input_for("src", 0)}, tmp_path / "o")
            )
            sleepers: list[psutil.Process] = []
            while len(sleepers) < 2:
                await asyncio.sleep(0.02)
                sleepers = descendants_named("sleep")
            with pytest.raises(TaskTimedOut) as caught:
                await running
            # Killed at the timeout, not when the runner closes.
            assert all_gone(sleepers, timeout=5)
            return caught.value

    started = time.monotonic()
    failure = asyncio.run(go())
    assert time.monotonic() - started < 30
    assert str(failure) == "task hang timed out after 1 s"
    assert isinstance(failure, TaskFailed)


def test_a_hung_python_task_kills_its_worker_and_the_next_runs(
    make: Callable[..., App], tmp_path: Path
) -> None:
    app = make(
        {
            "hang": "{python: 'tasks/hang.py:hang', timeout: 1}",
            "pid": "{python: 'tasks/t.py:pid'}",
        },
        {
            "tasks/t.py": PID_TASK,
            "tasks/hang.py": "import os, time\n\n"
            "def hang(inputs, output):\n"
            "    output.with_name('hung').write_text(str(os.getpid()))\n"
            "    time.sleep(1000)\n",
        },
    )
    inputs = {"src": app.input_for("src", 0)}

    async def go() -> tuple[int, int]:
        async with TaskRunner(app) as runner:
            with pytest.raises(TaskTimedOut, match="task hang timed out after 1 s"):
                await runner.run("hang", inputs, tmp_path / "o")
            hung = int((tmp_path / "hung").read_text())
            assert all_gone([psutil.Process(hung)] if psutil.pid_exists(hung) else [])
            await runner.run("pid", inputs, tmp_path / "o")  # a fresh worker, no timeout
            return hung, int((tmp_path / "o").read_text().split()[0])

    hung, fresh = asyncio.run(go())
    assert fresh != hung


def test_a_task_within_its_timeout_is_untouched(make: Callable[..., App], tmp_path: Path) -> None:
    app = make({"quick": "{command: 'echo done', timeout: 60}"}, {})

    async def go() -> str:
        async with TaskRunner(app) as runner:
            await runner.run("quick", {"src": app.input_for("src", 0)}, tmp_path / "o")
        return (tmp_path / "o").read_text()

    assert asyncio.run(go()) == "done\n"
