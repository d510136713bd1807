"""A node's network interface in the emulation: what its links share.

Every agent has one `Nic`. Its egress is a `Serialiser` that all the agent's link emulators
offer their pieces to (see `LinkEmulator`), so everything leaving the node together moves at
most at the NIC's rate. Its ingress paces the reading of incoming data bodies: a body is read
no faster than the NIC would take it in, counted over everything arriving at once; a
receiver that reads slowly fills the socket buffers, and TCP's back-pressure then slows the
senders, as a real NIC that is saturated would.

A single transfer whose link is slower than both NICs is never held back by either: the
default NIC rate (`Cluster.nic`) is the fastest link touching the node, so only concurrency
makes a NIC the bottleneck.
"""

from __future__ import annotations

import math

from jupiter.cluster.emulator import LOOP_CLOCK, Clock
from jupiter.cluster.links import Serialiser
from jupiter.cluster.spec import Cluster


class Ingress:
    """Incoming bytes, taken in no faster than `rate` bytes/s over all bodies at once.

    Bytes that come in at most at the rate were never held up: a piece of n bytes read now
    is counted as having arrived over the last n / rate seconds (but not before its body
    began), so only what comes faster (several senders at once, or one faster than the NIC)
    waits.
    """

    def __init__(self, rate: float, clock: Clock = LOOP_CLOCK) -> None:
        self._in = Serialiser(rate)
        self.clock = clock

    @property
    def rate(self) -> float:
        return self._in.rate

    async def take(self, nbytes: int, since: float = -math.inf) -> float:
        """Wait until `nbytes` just read would have come through; the seconds waited.

        `since`: when their body began arriving, on this clock; none of it came earlier."""
        now = self.clock.time()
        span = nbytes / self._in.rate
        self._in.free = max(self._in.free, since, now - span) + span
        wait = self._in.free - now
        if wait <= 0:
            return 0.0
        await self.clock.sleep(wait)
        return wait


class Nic:
    """One node's network interface: an egress shared by its links, an ingress by its bodies."""

    def __init__(self, rate: float, clock: Clock = LOOP_CLOCK) -> None:
        self.rate = rate
        self.egress = Serialiser(rate)
        self.ingress = Ingress(rate, clock)

    @classmethod
    def of(cls, cluster: Cluster, node: str) -> Nic | None:
        """The node's NIC as the cluster describes it; None when nothing is emulated."""
        if not cluster.emulate:
            return None
        rate = cluster.nic(node)
        return cls(rate) if math.isfinite(rate) else None
