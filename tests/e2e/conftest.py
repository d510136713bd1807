from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def every_process_stopped(no_agent_survives: None) -> None:
    """Each end-to-end test must stop every process it started (see tests/conftest.py)."""
