"""The run stops everything it started on Ctrl-C, and agents stop by themselves when the
home is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from .apps import write_dag_app

SLOW = """

import time

def slow(inputs, output):
    time.sleep(0.2)
    mix('slow', inputs, output)
"""


def start_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[psutil.Process]]:
    app = write_dag_app(tmp_path / "app", {"a": [], "b": ["a"]}, {"input": ["a"]}, extra_code=SLOW)
    (app / "app.yaml").write_text(
        (app / "app.yaml").read_text().replace("tasks.py:b", "tasks.py:slow")
    )
    # The home's work dir goes under tmp_path, so the test can see it removed (or remove it).
    (tmp_path / "tmp").mkdir()
    home = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupiter",
            "run",
            str(app),
            "--nodes",
            "4",
            "--inputs",
            "500",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )
    # Wait until the agents are up and the stream has begun (some output delivered).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tree = psutil.Process(home.pid).children(recursive=True)
        if len(tree) >= 5 and any((tmp_path / "out").glob("*/b")):
            return home, tree
        time.sleep(0.1)
    home.kill()
    raise AssertionError(f"run never started streaming: {home.communicate()}")


def gone(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=within)
    for process in alive:
        process.kill()
    return alive


def test_ctrl_c_stops_every_agent_and_removes_the_work_dir(tmp_path: Path) -> None:
    home, tree = start_run(tmp_path)
    home.send_signal(signal.SIGINT)
    _, stderr = home.communicate(timeout=30)
    assert home.returncode == 130, stderr
    assert b"interrupted" in stderr
    assert gone(tree, within=5) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_agents_exit_by_themselves_when_the_home_is_killed(tmp_path: Path) -> None:
    home, tree = start_run(tmp_path)
    home.kill()
    home.communicate(timeout=10)
    assert gone(tree, within=10) == []
