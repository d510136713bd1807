from __future__ import annotations

import time
from collections.abc import Iterator

import psutil
import pytest


@pytest.fixture(autouse=True)
def no_agent_survives() -> Iterator[None]:
    """Each end-to-end test must stop every process it started, however it ended."""
    yield
    deadline = time.monotonic() + 5
    while (children := psutil.Process().children(recursive=True)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in children:
        child.kill()
    assert not children, f"left running: {[c.cmdline() for c in children]}"
