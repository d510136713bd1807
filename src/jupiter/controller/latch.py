"""The home's failure latch and change signal: the first failure of a run sticks, and
whoever waits for a condition wakes on every change and on that failure."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from jupiter.errors import RunError


class RunLatch:
    def __init__(self) -> None:
        self.failure: str | None = None
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """Something a waiter may be waiting for happened."""
        self._changed.set()

    def fail(self, message: str) -> None:
        """The run cannot finish; the first message is the one reported."""
        if self.failure is None:
            self.failure = message
        self._changed.set()

    async def wait_for(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        """Until `condition()` holds; RunError on the run's failure or after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.failure is not None:
                raise RunError(self.failure)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunError(f"timed out after {timeout:.0f} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 1.0))
        if self.failure is not None:
            raise RunError(self.failure)
