"""The CPU seconds TaskRunner.run reports, and the stretch rule the executor applies to them.

Real processes throughout: a Python task in its worker, a command's shell and what it starts,
and a competing busy loop pinned to the same core to show that a task's CPU time stays what
its work costs while its wall time grows with the contention.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cpu_affinity import pinned_to_one_core
from jupiter.app.runner import TaskRunner
from jupiter.app.spec import App
from jupiter.cluster.compute import emulated_compute

SPEC = """
    name: cpu-test
    sources:
      - name: src
        feeds: [{entries}]
        inputs: ["in.txt"]
    tasks:
{tasks}
"""

# Spins until its thread has used `seconds` of CPU, or sleeps: a known cost either way.
CODE = """
import subprocess, sys, time

def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass

def busy(inputs, output):
    spin(0.2)
    output.write_text("busy")

def idle(inputs, output):
    time.sleep(0.3)
    output.write_text("idle")

def child(inputs, output):
    # A child process it waits for: its CPU is the task's too.
    subprocess.run([sys.executable, "-c", "import time\\nend = time.thread_time() + 0.2\\n"
                    "while time.thread_time() < end: pass"], check=True)
    output.write_text("child")
"""

# A POSIX shell loop: a fixed amount of CPU work in the shell itself.
LOOP = "i=0; while [ $i -lt {n} ]; do i=$((i+1)); done"


@pytest.fixture
def make(write_app: Callable[..., App]) -> Callable[[dict[str, str]], App]:
    def build(tasks: dict[str, str]) -> App:
        lines = "\n".join(f"      {name}: {body}" for name, body in tasks.items())
        spec = SPEC.format(entries=", ".join(tasks), tasks=lines)
        return write_app(spec, {"in.txt": "3\n", "tasks/t.py": CODE})

    return build


def timed_runs(app: App, tasks: list[str], tmp: Path) -> dict[str, tuple[float, float]]:
    """Each task run once: (wall seconds, CPU seconds reported)."""

    async def go() -> dict[str, tuple[float, float]]:
        found: dict[str, tuple[float, float]] = {}
        async with TaskRunner(app) as runner:
            await runner.warm_up()
            for task in tasks:
                began = time.perf_counter()
                cpu = await runner.run(task, {"src": app.root / "in.txt"}, tmp / f"{task}.out")
                found[task] = (time.perf_counter() - began, cpu)
        return found

    return asyncio.run(go())


def test_a_python_task_reports_the_cpu_it_used_not_its_wait(make, tmp_path: Path) -> None:
    app = make({name: f"{{python: tasks/t.py:{name}}}" for name in ("busy", "idle", "child")})
    runs = timed_runs(app, ["busy", "idle", "child"], tmp_path)
    wall, cpu = runs["busy"]
    assert 0.19 <= cpu <= min(wall, 0.2) + 0.1
    wall, cpu = runs["idle"]
    assert wall >= 0.3 and cpu < 0.05
    # The child's 0.2 s of CPU, plus its interpreter's start-up.
    wall, cpu = runs["child"]
    assert 0.19 <= cpu <= wall + 0.05


def test_a_command_task_reports_the_cpu_of_its_shell_and_what_it_waited_for(
    make, tmp_path: Path
) -> None:
    loop = LOOP.format(n=100_000)
    app = make(
        {
            "loop": f'{{command: "{loop}; echo done > {{out}}"}}',
            "nested": f"{{command: \"sh -c '{loop}'; echo done > {{out}}\"}}",
            "sleeper": '{command: "sleep 0.3; echo done > {out}"}',
        }
    )
    runs = timed_runs(app, ["loop", "nested", "sleeper"], tmp_path)
    for task in ("loop", "nested"):
        wall, cpu = runs[task]
        assert 0.02 < cpu <= wall + 0.02, (task, wall, cpu)
    # The same loop, run by the shell itself or by a shell it waited for: the same CPU
    # (CPU time, unlike wall time, does not depend on what else this host is doing).
    assert 0.5 <= runs["nested"][1] / runs["loop"][1] <= 2.0
    wall, cpu = runs["sleeper"]
    assert wall >= 0.3 and cpu < 0.05


def test_a_competing_busy_loop_stretches_wall_time_not_cpu_time(make, tmp_path: Path) -> None:
    loop = LOOP.format(n=150_000)
    app = make({"loop": f'{{command: "{loop}; echo done > {{out}}"}}'})
    _, alone = timed_runs(app, ["loop"], tmp_path)["loop"]
    with pinned_to_one_core():
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.1)  # the hog is spinning before the task starts
            wall, cpu = timed_runs(app, ["loop"], tmp_path)["loop"]
        finally:
            hog.kill()
            hog.wait()
    # Sharing one core with the hog, the task waited about as long as it ran.
    assert wall >= 1.5 * cpu
    # Its CPU time is its work's, whatever the contention (generous: caches, frequency).
    assert 0.6 * alone <= cpu <= 1.5 * alone
    # On a node of speed 0.25 (stretch 4) it holds its slot for four times its CPU time (or
    # its real wall time, if the host was even busier than that), not four times its
    # contended wall time.
    hold = emulated_compute(wall, cpu, 4.0)
    assert hold == pytest.approx(max(wall, 4 * cpu))
    assert hold <= 4 * wall / 1.5


@pytest.mark.parametrize(
    ("wall", "cpu", "stretch", "hold"),
    [
        (1.0, 1.0, 1.0, 1.0),  # the fastest node, idle host: as before
        (1.0, 1.0, 2.0, 2.0),  # speed 0.5, idle host: as before
        (3.0, 1.0, 2.0, 3.0),  # contended (or waiting): never less than the real wall time
        (3.0, 1.0, 4.0, 4.0),  # contended on a slow node: 4 x CPU, not 4 x wall
        (1.0, 0.1, 3.0, 1.0),  # mostly waiting on I/O: keeps its wall time
        (1.0, 4.0, 2.0, 2.0),  # four cores at once: stretched from its wall time
        (0.5, 0.5, 2.0 * 3.0, 3.0),  # speed 0.5 under time dilation 3
    ],
)
def test_emulated_compute(wall: float, cpu: float, stretch: float, hold: float) -> None:
    assert emulated_compute(wall, cpu, stretch) == pytest.approx(hold)
