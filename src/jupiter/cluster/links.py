"""The link model: what one transfer between two nodes costs, and the default region table."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from jupiter.cluster.regions import default_rtt_ms, tcp_bandwidth


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Link:
    """A directed link: `latency` is ONE-WAY seconds (RTT / 2), `bandwidth` bytes per second."""

    latency: float = Field(ge=0, allow_inf_nan=False)
    # Infinite only for a node talking to itself, where nothing crosses a network.
    bandwidth: float = Field(gt=0)

    def seconds(self, nbytes: float) -> float:
        """Time from the first byte leaving to the last byte arriving, for a transfer of nbytes."""
        return self.latency + nbytes / self.bandwidth

    @property
    def rtt_ms(self) -> float:
        return self.latency * 2000.0

    @classmethod
    def from_rtt(cls, rtt_ms: float, bandwidth: float | None = None) -> Link:
        """A link from a measured RTT; without a bandwidth, the per-flow TCP model supplies it."""
        return cls(rtt_ms / 2000.0, tcp_bandwidth(rtt_ms) if bandwidth is None else bandwidth)


# The same node on both ends: the data never leaves the process.
LOCAL = Link(0.0, math.inf)


class Serialiser:
    """One transmitter: bytes cross it at `rate` bytes/s, one piece after another, in the
    order the pieces are offered. Streams that share it (the transfers on one link, or all
    that leave one node's NIC) take turns on it, so together they never exceed its rate.

    It keeps only the time its last piece finishes crossing; the emulator reads and advances
    that, on whatever clock it runs.
    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"a serialiser needs a positive rate, not {rate}")
        self.rate = rate
        # When the last piece offered has finished crossing; -inf before the first.
        self.free = -math.inf


LinkTable = dict[str, dict[str, Link]]
"""Links by source region, then destination region; [r][r] is the intra-region link."""


def default_link_table(regions: Iterable[str]) -> LinkTable:
    """Every link between the given regions that the default model knows.

    Each region gets its intra-region link; default regions get their measured RTTs to each
    other. Pairs involving custom regions are left out: only the user can say what they are.
    """
    keys = list(regions)
    table: LinkTable = {key: {} for key in keys}
    for source in keys:
        for destination in keys:
            rtt = default_rtt_ms(source, destination)
            if rtt is not None:
                table[source][destination] = Link.from_rtt(rtt)
    return table
