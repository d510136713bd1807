"""In-process WAN emulation, applied by the sender of every transfer between agents.

The Linux delay qdisc (netem) is missing on our machines and we may not have root, so the
sender holds each piece of data back until the emulated link would have delivered it: a link
is a serialiser (bandwidth) followed by a pipe (one-way latency). Piece k of a stream is
released at

    tx_end(k) + latency,   tx_end(k) = max(tx_end(k-1), ready(k)) + len(k) / bandwidth

so a transfer that is ready at once ends exactly `latency + size / bandwidth` after it starts,
whatever the chunking, and cumulative bytes never run ahead of the link. Deadlines are absolute
on the event loop's clock, so sleep overshoot (about a millisecond) is never accumulated.

Compute speed is emulated the same way, by waiting: see `stretched`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterable, AsyncIterator

from jupiter.cluster.links import Link

# Largest piece released at once: big chunks are split so that a fast sender cannot dump
# a whole file into the socket ahead of the link, and pacing stays smooth.
MAX_PIECE_BYTES = 64 * 1024
# On slow links a piece is also at most this much link time, so release never stalls long.
MAX_PIECE_SECONDS = 0.005
MIN_PIECE_BYTES = 1024


class LinkEmulator:
    """Delays and paces data as `link` would; `None` (or a same-node link) passes through."""

    def __init__(self, link: Link | None) -> None:
        self.link = link
        latency = link.latency if link is not None else 0.0
        bandwidth = link.bandwidth if link is not None else math.inf
        self._latency = latency
        self._bandwidth = bandwidth
        self.active = latency > 0 or math.isfinite(bandwidth)
        if math.isfinite(bandwidth):
            piece = int(bandwidth * MAX_PIECE_SECONDS)
            self._piece = max(MIN_PIECE_BYTES, min(MAX_PIECE_BYTES, piece))
        else:
            self._piece = MAX_PIECE_BYTES

    def seconds(self, nbytes: int) -> float:
        """What a transfer of nbytes takes through this emulator (0 when inactive)."""
        return self.link.seconds(nbytes) if self.active and self.link is not None else 0.0

    async def delay(self) -> None:
        """Wait the one-way latency alone: for control messages too small to pace."""
        if self._latency > 0:
            await asyncio.sleep(self._latency)

    def pace(self, chunks: AsyncIterable[bytes]) -> AsyncIterable[bytes]:
        """The chunks, released no earlier than the link would deliver them.

        Inactive, this returns `chunks` itself: no extra generator, no copies, no sleeps.
        """
        if not self.active:
            return chunks
        return self._paced(chunks)

    async def _paced(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        latency, bandwidth, piece = self._latency, self._bandwidth, self._piece
        source = aiter(chunks)
        # When data was ready, on a clock that counts only time spent waiting for the source:
        # time we spend sleeping here is not the source's fault, and must not delay it.
        ready = loop.time()
        tx_end = ready
        sent = False
        while True:
            asked = loop.time()
            try:
                chunk = await anext(source)
            except StopAsyncIteration:
                if not sent:
                    # An empty body still crosses the link: whatever follows it must wait.
                    wait = ready + latency - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                return
            ready += loop.time() - asked
            for start in range(0, len(chunk), piece):
                part = chunk if len(chunk) <= piece else chunk[start : start + piece]
                tx_end = max(tx_end, ready) + len(part) / bandwidth
                release = tx_end + latency
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sent = True
                yield part


async def stretched(seconds_measured: float, factor: float) -> float:
    """Make a task that ran `seconds_measured` of wall time look `factor` times slower.

    Call it right after the task finishes on a node whose `Cluster.stretch` is `factor`: it
    waits `seconds_measured * (factor - 1)` more, so the task occupies its slot for
    `seconds_measured * factor` in all, and returns that total. A factor of 1 (the fastest
    node, or emulation off) returns at once.
    """
    extra = seconds_measured * (factor - 1.0)
    if extra > 0:
        await asyncio.sleep(extra)
    return seconds_measured * max(factor, 1.0)
