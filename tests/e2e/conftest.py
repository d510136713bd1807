from __future__ import annotations

from collections.abc import Iterator

import pytest

from .home_processes import stop_started


@pytest.fixture(autouse=True)
def every_process_stopped(no_agent_survives: None) -> None:
    """Each end-to-end test must stop every process it started (see tests/conftest.py)."""


@pytest.fixture(autouse=True)
def homes_stopped() -> Iterator[None]:
    """A test that fails half-way still stops the `jupiter` it started (home_processes.py)."""
    yield
    stop_started()
