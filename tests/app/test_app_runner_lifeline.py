"""Tasks die with their runner's process, however it dies: SIGKILL leaves no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

# A process that runs one task of each kind, each of which starts a grandchild and then
# hangs, and that is then killed outright, with no chance to clean up.
DRIVER = """
import asyncio, sys
from pathlib import Path
from jupiter.app.runner import TaskRunner
from jupiter.app.spec import load_app

async def main(root: Path) -> None:
    async with TaskRunner(load_app(root), python_workers=1) as runner:
        await asyncio.gather(
            runner.run("hang_py", {"src": root / "in.txt"}, root / "out-py"),
            runner.run("hang_cmd", {"src": root / "in.txt"}, root / "out-cmd"),
        )

asyncio.run(main(Path(sys.argv[1])))
"""

APP = """
name: lifeline
sources:
  - {name: src, feeds: [hang_py, hang_cmd], inputs: [in.txt]}
tasks:
  hang_py: {python: "tasks.py:hang"}
  hang_cmd: {command: "sleep 60 & echo $! > {app}/cmd.pid; echo $$ >> {app}/cmd.pid; wait"}
"""

TASKS = """
import os, subprocess, time
from pathlib import Path

def hang(inputs, output):
    child = subprocess.Popen(["sleep", "60"])
    Path(os.getcwd(), "py.pid").write_text(f"{child.pid}\\n{os.getpid()}\\n")
    time.sleep(60)
"""


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_every_task_process_dies_with_the_runner(tmp_path: Path, how: signal.Signals) -> None:
    (tmp_path / "app.yaml").write_text(textwrap.dedent(APP))
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "in.txt").write_text("1\n")
    # A killed process cannot remove its own scratch folder: give it one under tmp_path.
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path)], env=env)
    pid_files = [tmp_path / "py.pid", tmp_path / "cmd.pid"]
    deadline = time.monotonic() + 30
    while not all(f.exists() and len(f.read_text().split()) == 2 for f in pid_files):
        assert driver.poll() is None, "the driver stopped before both tasks were running"
        assert time.monotonic() < deadline, "the tasks never started"
        time.sleep(0.05)
    tasks = [psutil.Process(pid) for f in pid_files for pid in pids_in(f)]
    assert all(p.is_running() for p in tasks)

    os.kill(driver.pid, how)
    driver.wait(timeout=10)

    _, alive = psutil.wait_procs(tasks, timeout=5)
    for process in alive:
        process.kill()
    assert alive == [], f"outlived their runner: {[p.cmdline() for p in alive]}"
