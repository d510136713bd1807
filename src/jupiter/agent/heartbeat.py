"""The agent's heartbeat: every HEARTBEAT_INTERVAL_S, POST /home/heartbeat with how busy the
node is and which inputs it still holds; the answer releases the inputs the home is done
with. A missed beat is no error (the home may be busy, or gone: the lifeline or the lease
decides that); the final records of released inputs wait for the next beat that gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from jupiter.api.client import CallFailed, call
from jupiter.api.models import Heartbeat, HeartbeatAnswer, TaskRecordBody
from jupiter.api.paths import HOME_HEARTBEAT
from jupiter.circe.executor import Executor

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 0.5


async def beat_until_stopped(
    session: aiohttp.ClientSession,
    home_url: str,
    auth: dict[str, str],
    executor: Executor,
    stop: asyncio.Event,
    interval: float = HEARTBEAT_INTERVAL_S,
) -> None:
    url = f"{home_url}{HOME_HEARTBEAT}"
    misses = 0
    while not stop.is_set():
        state = executor.state
        shipped = list(state.finished_records)
        beat = Heartbeat(
            node=executor.node,
            epoch=state.epoch,
            ready=len(state.ready),
            running=len(state.running),
            sending=state.sending,
            store_bytes=executor.store_bytes(),
            held=state.held_inputs,
            records=[TaskRecordBody.model_validate(r.to_dict()) for r in shipped],
            executing=executor.running,
        )
        try:
            answer = await call(
                session, "POST", url, HeartbeatAnswer, auth, beat, timeout=interval * 4
            )
        except CallFailed as error:
            misses += 1
            if misses in (1, 10) or misses % 100 == 0:
                log.warning("heartbeat not answered (%d in a row): %s", misses, error)
        else:
            misses = 0
            del state.finished_records[: len(shipped)]
            executor.release(answer.release, answer.done_below)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
