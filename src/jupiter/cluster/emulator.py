"""In-process WAN emulation, applied by the sender of every transfer between agents.

The Linux delay qdisc (netem) is missing on our machines and we may not have root, so the
sender holds each piece of data back until the emulated link would have delivered it: a link
is a serialiser (bandwidth) followed by a pipe (one-way latency). Piece k offered to a link is
released at

    tx_end(k) + latency,   tx_end(k) = max(tx_end(k-1), ready(k)) + len(k) / bandwidth

so a transfer that is ready at once ends exactly `latency + size / bandwidth` after it starts,
whatever the chunking, and cumulative bytes never run ahead of the link. Deadlines are absolute
on the event loop's clock, so sleep overshoot (about a millisecond) is never accumulated.

The serialiser belongs to the link, not to one transfer: concurrent transfers on a link offer
their pieces to the same one, so their bytes queue on its bandwidth in the order offered and
leave in that order (per-link FIFO), while their latencies overlap (a pipe holds many
messages at once, as a TCP connection does). An agent's NIC is one more serialiser, its
egress, shared by all its links: a piece crosses its link and the NIC at once, and is
through when it is through both; on the NIC it queues behind what the node's other links
gave it. So all that leaves a node together never exceeds its NIC, and links that fit in it
together each keep their full rate. (The receiving NIC is paced where the bytes arrive: see
`jupiter.cluster.nic`.)

After the last piece is due the bytes still cross this host: the loop's timer wakes late
(it rounds up to the millisecond), then loopback, the receiver's checks, its answer. On a
real link that time is inside the link's latency; here it would come on top. A `HostPath`
shared by an agent's transfers learns that tail from the transfers themselves (the lower
quartile of recent ones), and each link's latency starts that much early, never below zero.
So a transfer takes the link's time, not the link's time plus the host's, on every link
slower than the host itself; a link faster than that (two nodes in one region, 0.25 ms)
takes what the host takes.

Compute speed is emulated the same way, by waiting: see `stretched`.

Every wait and every reading of the time goes through a `Clock`: the running event loop's
(`LOOP_CLOCK`, the default and what agents use), or one a test supplies to check the schedule
exactly without waiting for it.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

from jupiter.cluster.links import Link, Serialiser

# Largest piece released at once: big chunks are split so that a fast sender cannot dump
# a whole file into the socket ahead of the link, and pacing stays smooth.
MAX_PIECE_BYTES = 64 * 1024
# On slow links a piece is also at most this much link time, so release never stalls long.
MAX_PIECE_SECONDS = 0.005
MIN_PIECE_BYTES = 1024


class Clock(Protocol):
    """Where the emulator reads the time and waits."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The running event loop's clock (`loop.time()`, `asyncio.sleep`)."""

    def time(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


LOOP_CLOCK = LoopClock()


# How many recent transfers a HostPath learns from, and how many it needs first.
HOST_PATH_WINDOW = 32
HOST_PATH_MIN_SAMPLES = 4


class HostPath:
    """What this host's own path adds after an emulated transfer's last byte is due.

    One per agent, shared by all its emulated transfers: they report their tails, and the
    lower quartile of recent tails is the head start each link's latency is given. The low
    end, because a tail is only ever lengthened by load: the quartile is what the host costs
    when it is not busy, and a transfer that meets a busy host pays the difference, as it
    would on real machines.
    """

    def __init__(self) -> None:
        self._tails: deque[float] = deque(maxlen=HOST_PATH_WINDOW)

    def observe(self, tail: float) -> None:
        if tail >= 0:
            self._tails.append(tail)

    @property
    def head_start(self) -> float:
        if len(self._tails) < HOST_PATH_MIN_SAMPLES:
            return 0.0
        return sorted(self._tails)[(len(self._tails) - 1) // 4]


class PacedBody:
    """One paced transfer: the pieces, and when the last of them was due."""

    def __init__(self, created: float) -> None:
        self.pieces: AsyncIterator[bytes] | None = None
        # Clock time the transfer began: the link's clock starts here, so that what this host
        # spends before the body is first read (a connection, the request) is inside the
        # latency, as on a real link, and not added to it.
        self.created = created
        # Clock time the latest piece was due for release; None until the first.
        self.released: float | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        assert self.pieces is not None, "a PacedBody comes from LinkEmulator.pace"
        return self.pieces


class LinkEmulator:
    """Delays and paces data as `link` would; `None` (or a same-node link) passes through.

    One emulator is one link: every transfer paced through it shares its serialiser, so
    concurrent transfers split its bandwidth and keep their order on it. `egress`, when
    given, is the sending node's NIC, shared with the node's other links. `host`, when given,
    learns this host's own tail from each transfer (see `finished`) and shortens the emulated
    latency by it. `clock` is where it reads the time and waits; the event loop's unless a
    test gives another.
    """

    def __init__(
        self,
        link: Link | None,
        host: HostPath | None = None,
        clock: Clock = LOOP_CLOCK,
        egress: Serialiser | None = None,
    ) -> None:
        self.link = link
        self.host = host
        self.clock = clock
        latency = link.latency if link is not None else 0.0
        bandwidth = link.bandwidth if link is not None else math.inf
        self._latency = latency
        self.active = latency > 0 or math.isfinite(bandwidth)
        # A node talking to itself crosses no NIC.
        self._egress = egress if self.active else None
        self._wire = Serialiser(bandwidth)
        self._piece = self._piece_bytes()

    def retune(self, link: Link) -> None:
        """Be `link` from now on (a slowdown changed it mid-run): transfers that start after
        this pay its latency and rate; those under way finish on the old figures. The wire
        keeps its queue, so per-link order holds across the change. An active link only: a
        same-node link stays a pass-through."""
        if not self.active:
            return
        self.link = link
        self._latency = link.latency
        self._wire.rate = link.bandwidth
        self._piece = self._piece_bytes()

    def _piece_bytes(self) -> int:
        # Pieces are sized by the slower of the link and the NIC, which one crosses at.
        bandwidth = self._wire.rate
        rate = min(bandwidth, self._egress.rate) if self._egress is not None else bandwidth
        if math.isfinite(rate):
            piece = int(rate * MAX_PIECE_SECONDS)
            return max(MIN_PIECE_BYTES, min(MAX_PIECE_BYTES, piece))
        return MAX_PIECE_BYTES

    def seconds(self, nbytes: int) -> float:
        """What a transfer of nbytes takes through this emulator (0 when inactive)."""
        return self.link.seconds(nbytes) if self.active and self.link is not None else 0.0

    async def delay(self) -> None:
        """Wait the one-way latency alone: for control messages too small to pace."""
        if self._latency > 0:
            await self.clock.sleep(self._latency)

    def pace(self, chunks: AsyncIterable[bytes]) -> AsyncIterable[bytes]:
        """The chunks, released no earlier than the link would deliver them.

        Inactive, this returns `chunks` itself: no extra generator, no copies, no sleeps.
        """
        if not self.active:
            return chunks
        body = PacedBody(self.clock.time())
        body.pieces = self._paced(chunks, body)
        return body

    def finished(self, body: AsyncIterable[bytes], now: float, held: float = 0.0) -> None:
        """`body` (from `pace`) was delivered and answered at time `now` on this clock.

        `held`: seconds the receiver's NIC held the body back (it says so in its answer).
        That is the emulated network's time, not this host's, so it is no part of the tail.
        """
        if self.host is not None and isinstance(body, PacedBody) and body.released is not None:
            self.host.observe(now - body.released - held)

    async def _paced(self, chunks: AsyncIterable[bytes], body: PacedBody) -> AsyncIterator[bytes]:
        clock, wire, egress = self.clock, self._wire, self._egress
        latency, bandwidth, piece = self._latency, self._wire.rate, self._piece
        if self.host is not None:
            latency = max(0.0, latency - self.host.head_start)
        source = aiter(chunks)
        # When data was ready, on a clock that counts only time spent waiting for the source:
        # time we spend sleeping here is not the source's fault, and must not delay it.
        ready = body.created
        sent = False
        while True:
            asked = clock.time()
            try:
                chunk = await anext(source)
            except StopAsyncIteration:
                if not sent:
                    # An empty body still crosses the link: whatever follows it must wait.
                    release = ready + latency
                    wait = release - clock.time()
                    if wait > 0:
                        await clock.sleep(wait)
                    body.released = release
                return
            ready += clock.time() - asked
            for start in range(0, len(chunk), piece):
                part = chunk if len(chunk) <= piece else chunk[start : start + piece]
                # The piece goes on the link once the link is free and the piece ready;
                # other transfers' pieces offered before it go first. It crosses the NIC
                # at the same time, behind what the node's other links gave the NIC, and
                # is through when it is through both.
                start = max(ready, wire.free)
                end = start + len(part) / bandwidth
                if egress is not None:
                    egress.free = max(egress.free, start) + len(part) / egress.rate
                    end = max(end, egress.free)
                wire.free = end
                release = end + latency
                wait = release - clock.time()
                if wait > 0:
                    await clock.sleep(wait)
                sent = True
                # As scheduled, not as done: a late wake-up (the loop's timers round up to
                # the millisecond) and a slow write are this host's doing, part of its tail.
                body.released = release
                yield part


async def stretched(seconds_measured: float, factor: float, clock: Clock = LOOP_CLOCK) -> float:
    """Make a task that ran `seconds_measured` of wall time look `factor` times slower.

    Call it right after the task finishes on a node whose `Cluster.stretch` is `factor`: it
    waits `seconds_measured * (factor - 1)` more, so the task occupies its slot for
    `seconds_measured * factor` in all, and returns that total. A factor of 1 (the fastest
    node, or emulation off) returns at once.
    """
    extra = seconds_measured * (factor - 1.0)
    if extra > 0:
        await clock.sleep(extra)
    return seconds_measured * max(factor, 1.0)
