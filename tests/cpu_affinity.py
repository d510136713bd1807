"""Pinning a test to one core, for tests that need CPU contention they control."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def pinned_to_one_core() -> Iterator[int]:
    """This thread, and every process it starts from now on, on one core (the lowest it may
    use, which it yields); the earlier affinity is restored on leaving."""
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)
