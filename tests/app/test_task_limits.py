"""Per-task resource limits (app.yaml `resources:`): validation, and the runner enforcing
them on real processes, a command's and the shared Python worker's."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from jupiter.app.document import format_memory
from jupiter.app.runner import TaskLimitExceeded, TaskRunner
from jupiter.app.spec import App, load_app
from jupiter.errors import SpecError

MiB = 1024 * 1024

TASKS = """
import os

def hog(inputs, output):
    # 1 GiB at once: far past a 100 MiB limit, and nothing a test machine cannot refuse.
    block = bytearray(1 << 30)
    output.write_text(str(len(block)))

def modest(inputs, output):
    # 200 MiB: past the hog's limit, so this passes only if that limit was lifted.
    block = bytearray(200 * 1024 * 1024)
    output.write_text(f"{os.getpid()} {len(block)}")

def within(inputs, output):
    block = bytearray(20 * 1024 * 1024)
    output.write_text(f"{os.getpid()} {len(block)}")

def spin(inputs, output):
    while True:
        pass
"""

# Commands run Python through a shell, so their limits come from the shell's ulimit.
PY = sys.executable


@pytest.fixture
def make(write_app: Callable[..., App]) -> Callable[[dict[str, str]], App]:
    def build(tasks: dict[str, str]) -> App:
        body = "\n".join(f"  {name}: {spec}" for name, spec in tasks.items())
        spec = (
            "name: limits\nsources:\n  - name: src\n"
            f"    feeds: [{', '.join(tasks)}]\n    inputs: [in.txt]\ntasks:\n{body}\n"
        )
        return write_app(spec, {"in.txt": "x\n", "tasks.py": TASKS})

    return build


def run_in_order(app: App, tmp_path: Path) -> dict[str, str | BaseException]:
    """Run every task once on one runner, in order: its output, or what it raised."""

    async def go() -> dict[str, str | BaseException]:
        results: dict[str, str | BaseException] = {}
        inputs = {"src": app.input_for("src", 0)}
        async with TaskRunner(app) as runner:
            for name in app.tasks:
                try:
                    await runner.run(name, inputs, tmp_path / name)
                    results[name] = (tmp_path / name).read_text()
                except TaskLimitExceeded as error:
                    results[name] = error
        return results

    return asyncio.run(go())


def test_a_python_task_past_its_memory_limit_fails_naming_it_and_the_worker_goes_on(
    make: Callable[[dict[str, str]], App], tmp_path: Path
) -> None:
    app = make(
        {
            "hog": "{python: 'tasks.py:hog', resources: {memory: 100Mi}, timeout: 60}",
            "modest": "{python: 'tasks.py:modest', timeout: 60}",
            "within": "{python: 'tasks.py:within', resources: {memory: 100Mi}, timeout: 60}",
        }
    )
    results = run_in_order(app, tmp_path)
    refused = results["hog"]
    assert isinstance(refused, TaskLimitExceeded)
    assert refused.message == "task hog exceeded its memory limit of 100 MiB"
    # The same worker (a MemoryError does not end it), its limit lifted for the next task...
    modest_pid, modest_bytes = str(results["modest"]).split()
    assert int(modest_bytes) == 200 * MiB
    # ...and set again, relative to what the worker holds now, for a task within it.
    within_pid, within_bytes = str(results["within"]).split()
    assert int(within_bytes) == 20 * MiB
    assert modest_pid == within_pid


def test_a_python_task_past_its_cpu_limit_fails_naming_it_and_the_next_runs(
    make: Callable[[dict[str, str]], App], tmp_path: Path
) -> None:
    app = make(
        {
            "spin": "{python: 'tasks.py:spin', resources: {cpu_seconds: 1}, timeout: 60}",
            "modest": "{python: 'tasks.py:modest', timeout: 60}",
        }
    )
    results = run_in_order(app, tmp_path)
    refused = results["spin"]
    assert isinstance(refused, TaskLimitExceeded)
    assert refused.message == "task spin exceeded its CPU limit of 1 s"
    assert int(str(results["modest"]).split()[1]) == 200 * MiB


def test_a_command_past_its_memory_limit_fails_naming_it_and_the_next_runs(
    make: Callable[[dict[str, str]], App], tmp_path: Path
) -> None:
    hog = f'{PY} -c "bytearray(1 << 30)" > {{out}}'
    fine = f'{PY} -c "print(len(bytearray(200 << 20)))" > {{out}}'
    app = make(
        {
            "hog": f"{{command: '{hog}', resources: {{memory: 100Mi}}, timeout: 60}}",
            "fine": f"{{command: '{fine}', timeout: 60}}",
        }
    )
    results = run_in_order(app, tmp_path)
    refused = results["hog"]
    assert isinstance(refused, TaskLimitExceeded)
    assert refused.message.splitlines()[0] == "task hog exceeded its memory limit of 100 MiB"
    assert "MemoryError" in refused.message  # what the command said follows
    assert results["fine"] == f"{200 * MiB}\n"


def test_a_command_past_its_cpu_limit_fails_naming_it_and_the_next_runs(
    make: Callable[[dict[str, str]], App], tmp_path: Path
) -> None:
    app = make(
        {
            "spin": "{command: 'while :; do :; done', resources: {cpu_seconds: 1}, timeout: 60}",
            # Ignores SIGXCPU, then spins inside C code (any() over an endless iterator).
            "ignores": (
                f"{{command: '{PY} -c \"import itertools, signal; signal.signal(signal.SIGXCPU, "
                f"signal.SIG_IGN); any(itertools.repeat(0))\"', resources: {{cpu_seconds: 1}}, "
                "timeout: 60}"
            ),
            "fine": "{command: 'echo fine > {out}', timeout: 60}",
        }
    )
    results = run_in_order(app, tmp_path)
    for name in ("spin", "ignores"):  # the second is stopped by the hard limit, SIGKILL
        refused = results[name]
        assert isinstance(refused, TaskLimitExceeded), (name, refused)
        assert refused.message.splitlines()[0] == f"task {name} exceeded its CPU limit of 1 s"
    assert results["fine"] == "fine\n"


def test_a_command_within_its_limits_is_untouched(
    make: Callable[[dict[str, str]], App], tmp_path: Path
) -> None:
    within = f'{PY} -c "print(len(bytearray(20 << 20)))" > {{out}}'
    app = make(
        {"within": f"{{command: '{within}', resources: {{memory: 256Mi, cpu_seconds: 30}}}}"}
    )
    assert run_in_order(app, tmp_path) == {"within": f"{20 * MiB}\n"}


def test_resources_are_parsed_and_travel_with_the_app(
    make: Callable[[dict[str, str]], App],
) -> None:
    app = make(
        {
            "a": "{command: 'true', resources: {memory: 512Mi, cpu_seconds: 60}}",
            "b": "{command: 'true', resources: {memory: 2Gi}}",
            "c": "{command: 'true', resources: {memory: 500M}}",
            "d": "{command: 'true'}",
        }
    )
    limits = {t.name: (t.memory_limit, t.cpu_limit) for t in app.tasks.values()}
    assert limits == {
        "a": (512 * MiB, 60),
        "b": (2 << 30, None),
        "c": (500_000_000, None),
        "d": (None, None),
    }
    again = App.from_dict(app.to_dict(), app.root)
    assert {t.name: (t.memory_limit, t.cpu_limit) for t in again.tasks.values()} == limits
    assert [format_memory(size) for size in (512 * MiB, 2 << 30, 500_000_000)] == [
        "512 MiB",
        "2 GiB",
        "476.8 MiB",
    ]


@pytest.mark.parametrize(
    ("resources", "line"),
    [
        ("{memory: 512MB}", "tasks.a.resources.memory: expected a size such as 512Mi"),
        ("{memory: 512m}", "tasks.a.resources.memory: expected a size such as 512Mi"),
        ("{memory: lots}", "tasks.a.resources.memory: expected a size such as 512Mi"),
        ("{memory: 1.5}", "tasks.a.resources.memory: expected a size such as 512Mi"),
        ("{memory: 0}", "tasks.a.resources.memory: must be between 1Mi and 64Ti, got 0"),
        ("{memory: 100Ti}", "tasks.a.resources.memory: must be between 1Mi and 64Ti"),
        ("{cpu_seconds: 0}", "tasks.a.resources.cpu_seconds: must be >= 1, got 0"),
        ("{cpu_seconds: 1.5}", "tasks.a.resources.cpu_seconds: expected a whole number"),
        ("{cpu_seconds: '60'}", "tasks.a.resources.cpu_seconds: expected a whole number"),
        ("{cpu_seconds: 100000}", "tasks.a.resources.cpu_seconds: must be <= 86400"),
        ("{cpus: 2}", "tasks.a.resources.cpus: unknown field; allowed: memory, cpu_seconds"),
        ("512Mi", "tasks.a.resources: expected a mapping"),
    ],
)
def test_bad_resources_are_one_line_naming_the_field(
    tmp_path: Path, resources: str, line: str
) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "in.txt").write_text("x\n")
    (root / "app.yaml").write_text(
        "name: bad\nsources:\n  - {name: src, feeds: [a], inputs: [in.txt]}\n"
        f"tasks:\n  a: {{command: 'true', resources: {resources}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_app(root)
    message = str(caught.value)
    assert "\n" not in message
    assert line in message
    assert "app.yaml" in message
