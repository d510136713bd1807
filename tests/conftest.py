"""Suite-wide guard: tests leave no process and no Jupiter temp dir behind."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


def _jupiter_temp_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("jupiter-*"))


@pytest.fixture
def no_agent_survives() -> Iterator[None]:
    """Each end-to-end test must stop every process it started, however it ended."""
    yield
    deadline = time.monotonic() + 5
    while (children := psutil.Process().children(recursive=True)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in children:
        child.kill()
    assert not children, f"left running: {[c.cmdline() for c in children]}"


@pytest.fixture(autouse=True, scope="session")
def nothing_left_behind() -> Iterator[None]:
    before = _jupiter_temp_dirs()
    yield
    leftover = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
    for process in leftover:
        process.kill()
    assert not leftover, f"tests left processes running: {[p.cmdline() for p in leftover]}"
    new_dirs = _jupiter_temp_dirs() - before
    assert not new_dirs, f"tests left temp dirs: {sorted(new_dirs)}"
