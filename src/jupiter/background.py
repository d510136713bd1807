"""Background asyncio work whose failure is never silent.

A task nobody awaits keeps its exception to itself until it is garbage collected, if then.
`background` logs it the moment the task ends, with what the task was doing, and hands it
to `on_error` (for example to fail the run or report home).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


def background(
    work: Coroutine[Any, Any, Any],
    what: str,
    on_error: Callable[[BaseException], None] | None = None,
    extra: dict[str, object] | None = None,
) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(work)

    def ended(done: asyncio.Task[Any]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is None:
            return
        log.error(
            "%s crashed: %s: %s", what, type(error).__name__, error, exc_info=error, extra=extra
        )
        if on_error is not None:
            on_error(error)

    task.add_done_callback(ended)
    return task
