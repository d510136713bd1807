"""Background work that fails is logged at once and handed to its error callback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from jupiter.background import background


def test_a_crash_is_logged_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[BaseException] = []

    async def crash() -> None:
        await asyncio.sleep(0)
        raise KeyError("peer n03")

    async def scenario() -> None:
        task = background(crash(), "network probing", seen.append, extra={"node": "n01"})
        while not task.done():
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # done callbacks run on the next loop turn

    with caplog.at_level(logging.ERROR, logger="jupiter"):
        asyncio.run(scenario())
    assert [type(error) for error in seen] == [KeyError]
    (record,) = caplog.records
    assert record.getMessage() == "network probing crashed: KeyError: 'peer n03'"
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert getattr(record, "node", None) == "n01"


def test_cancelled_or_finished_work_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[BaseException] = []

    async def scenario() -> None:
        finished = background(asyncio.sleep(0), "done", seen.append)
        cancelled = background(asyncio.sleep(60), "cancelled", seen.append)
        await finished
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        await asyncio.sleep(0)

    with caplog.at_level(logging.DEBUG, logger="jupiter"):
        asyncio.run(scenario())
    assert seen == []
    assert caplog.records == []
