"""What a task run printed, kept apart per stream: Python tasks and commands, success and
failure, bounded to the end of each stream when a task prints megabytes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from jupiter.app.runner import LOG_TAIL_BYTES, TaskFailed, TaskOutput, TaskRunner
from jupiter.app.spec import App

SPEC = """
    name: output-test
    sources:
      - name: src
        feeds: [{entries}]
        inputs: ["in.txt"]
    tasks:
{tasks}
"""

CODE = """
import sys


def talk(inputs, output):
    print("hello on stdout")
    print("careful on stderr", file=sys.stderr)
    output.write_text("ok")


def quiet(inputs, output):
    output.write_text("ok")


def loud(inputs, output):
    for n in range(200_000):
        print(f"line {n:07d}")
    print("tail of stderr", file=sys.stderr)
    output.write_text("ok")


def fail(inputs, output):
    print("about to fail")
    raise ValueError("no good")
"""


@pytest.fixture
def app(write_app: Callable[..., App]) -> App:
    tasks = {
        "talk": "{python: 'tasks/t.py:talk'}",
        "quiet": "{python: 'tasks/t.py:quiet'}",
        "loud": "{python: 'tasks/t.py:loud'}",
        "fail": "{python: 'tasks/t.py:fail'}",
        "shell": '{command: "echo to-out; echo to-err >&2; cat {in:src} > {out}"}',
        "shell_loud": '{command: "seq 1 400000; echo done >&2; echo x > {out}"}',
    }
    lines = "\n".join(f"      {name}: {body}" for name, body in tasks.items())
    spec = SPEC.format(entries=", ".join(tasks), tasks=lines)
    return write_app(spec, {"in.txt": "3\n", "tasks/t.py": CODE})


def run_task(app: App, task: str, tmp_path: Path) -> TaskOutput:
    async def go() -> TaskOutput:
        async with TaskRunner(app) as runner:
            # Twice: the worker's second call must not show the first call's prints.
            for attempt in range(2):
                output = tmp_path / f"{task}-{attempt}"
                run = await runner.run_with_output(task, {"src": app.input_for("src", 0)}, output)
            return run.output

    return asyncio.run(go())


def test_python_task_stdout_and_stderr_are_kept_apart(app: App, tmp_path: Path) -> None:
    printed = run_task(app, "talk", tmp_path)
    assert printed == TaskOutput(
        stdout="hello on stdout\n",
        stderr="careful on stderr\n",
        stdout_bytes=len("hello on stdout\n"),
        stderr_bytes=len("careful on stderr\n"),
    )


def test_a_silent_task_printed_nothing(app: App, tmp_path: Path) -> None:
    assert run_task(app, "quiet", tmp_path) == TaskOutput()


def test_command_task_stdout_and_stderr_are_kept(app: App, tmp_path: Path) -> None:
    printed = run_task(app, "shell", tmp_path)
    assert (printed.stdout, printed.stderr) == ("to-out\n", "to-err\n")
    assert (tmp_path / "shell-1").read_text() == "3\n"  # {out} is still the output


@pytest.mark.parametrize("task", ["loud", "shell_loud"])
def test_megabytes_of_output_keep_only_their_end(app: App, tmp_path: Path, task: str) -> None:
    printed = run_task(app, task, tmp_path)
    lines = (
        [f"line {n:07d}" for n in range(200_000)]
        if task == "loud"
        else [str(n) for n in range(1, 400_001)]
    )
    whole = "".join(line + "\n" for line in lines)
    assert printed.stdout_bytes == len(whole) > 1_000_000
    assert len(printed.stdout) == LOG_TAIL_BYTES
    assert printed.stdout == whole[-LOG_TAIL_BYTES:]
    assert printed.stderr in ("tail of stderr\n", "done\n")


def test_a_failed_run_carries_what_it_printed(app: App, tmp_path: Path) -> None:
    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("fail", {"src": app.input_for("src", 0)}, tmp_path / "o")

    with pytest.raises(TaskFailed) as caught:
        asyncio.run(go())
    printed = caught.value.output
    assert printed is not None
    assert printed.stdout == "about to fail\n"
    assert printed.stderr.rstrip().endswith("ValueError: no good")
    # The failure's message still holds both, the cause last.
    assert "about to fail" in caught.value.message
    assert caught.value.message.endswith("ValueError: no good")
