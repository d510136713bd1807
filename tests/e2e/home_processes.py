"""`jupiter` commands started as processes by the end-to-end tests, and stopped after each test
(tests/e2e/conftest.py) even when it fails half-way: with SIGINT, so that each stops what it
started in turn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

_started: list[subprocess.Popen[bytes]] = []


def jupiter(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """`jupiter ARGS` in its own process (in `cwd`), its temp files under tmp_path/tmp."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "jupiter", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    _started.append(process)
    return process


def stop_started() -> None:
    """SIGINT to every `jupiter` still running, then SIGKILL to any that ignores it for 30 s."""
    while _started:
        home = _started.pop()
        if home.poll() is None:
            home.send_signal(signal.SIGINT)
            try:
                home.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                home.kill()
                home.communicate()
