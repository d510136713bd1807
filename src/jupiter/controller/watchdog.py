"""The home's watch over heartbeats: every tick, an agent silent for longer than the
registry's timeout is declared lost.

If the watchdog's own tick comes late (the home's event loop was busy), the silence may be
the home's and not the agents': their beats may be waiting unread in its sockets. It then
forgives everyone once rather than declare healthy agents dead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from jupiter.controller.registry import AgentRegistry, Lost

TICK_S = 0.2


async def watch_heartbeats(
    registry: AgentRegistry, on_lost: Callable[[Lost], None], tick: float = TICK_S
) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(tick)
        now = loop.time()
        if now - last > tick + registry.timeout / 2:
            registry.forgive()
        last = now
        for lost in registry.silent():
            on_lost(lost)
