"""Pipelined links and shared bandwidth, checked exactly on a virtual clock.

Many transfers run at once here, so the clock is a small discrete-event one: every task
runs until it waits on the clock, then time jumps to the earliest wake-up. The figures are
the emulator's own arithmetic, not this machine's load; how real transfers between agents
follow it is tests/circe/test_pipelined_links.py.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from jupiter.cluster.emulator import HostPath, LinkEmulator, PacedBody
from jupiter.cluster.links import Link, Serialiser
from jupiter.cluster.nic import Ingress, Nic
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.errors import SpecError

MiB = 1024 * 1024
# Transfers interleave piece by piece; at most one piece separates their ends.
PIECE = 64 * 1024


def exactly(seconds: float) -> object:
    return pytest.approx(seconds, rel=1e-9, abs=1e-12)


class EventClock:
    """Virtual time for many sleepers: once every task waits on the clock, time jumps to
    the earliest wake-up. `run` drives a set of coroutines to their end."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.now + seconds, next(self._order), future))
        await future

    async def run(self, *work: Awaitable[float]) -> list[float]:
        tasks = [asyncio.ensure_future(w) for w in work]
        while True:
            # Pure coroutines here: a few turns of the loop let each run until it waits.
            for _ in range(10):
                await asyncio.sleep(0)
            if all(task.done() for task in tasks):
                return [task.result() for task in tasks]
            assert self._wakeups, "a task waits on something other than the clock"
            when, _, future = heapq.heappop(self._wakeups)
            self.now = max(self.now, when)
            future.set_result(None)


async def one_chunk(size: int) -> AsyncIterator[bytes]:
    yield b"x" * size


def transfer(
    emulator: LinkEmulator,
    clock: EventClock,
    size: int,
    ingress: Ingress | None = None,
    chunk: int | None = None,
) -> Callable[[], Awaitable[float]]:
    """A transfer of `size` bytes through `emulator` (and the receiver's `ingress`); it
    returns when its last byte was taken in."""

    async def chunks() -> AsyncIterator[bytes]:
        step = chunk or size
        for start in range(0, size, step):
            yield b"x" * min(step, size - start)

    async def go() -> float:
        async for piece in emulator.pace(chunks()):
            if ingress is not None:
                await ingress.take(len(piece))
        return clock.now

    return go


def test_a_burst_of_small_files_arrives_in_one_latency_not_one_latency_each() -> None:
    """Ten 1 kB files over a 100 ms link, all sent at once: each leaves the link's
    serialiser behind the ones before it and crosses the pipe alongside them, so the burst
    is in after one latency plus ten files' time on the wire (stop-and-wait: ten
    latencies), file k at latency + (k + 1) * size / bandwidth, in the order sent."""
    clock = EventClock()
    link = Link(0.100, 1e6)
    emulator = LinkEmulator(link, clock=clock)
    size, n = 1000, 10
    ends = asyncio.run(clock.run(*(transfer(emulator, clock, size)() for _ in range(n))))
    assert ends == [exactly(0.100 + (k + 1) * size / 1e6) for k in range(n)]
    assert max(ends) < 2 * 0.100


@pytest.mark.parametrize("chunk", [None, 16 * 1024])
def test_two_transfers_on_one_link_each_take_twice_as_long(chunk: int | None) -> None:
    link = Link(0.020, 50e6)
    size = MiB
    clock = EventClock()
    [alone] = asyncio.run(clock.run(transfer(LinkEmulator(link, clock=clock), clock, size)()))
    assert alone == exactly(link.seconds(size))
    clock = EventClock()
    shared = LinkEmulator(link, clock=clock)
    both = asyncio.run(clock.run(*(transfer(shared, clock, size, chunk=chunk)() for _ in range(2))))
    # Together they move 2 MiB through the link: the last ends at latency + 2 MiB / rate,
    # the other at most one piece earlier; neither as soon as a transfer alone.
    assert max(both) == exactly(0.020 + 2 * size / 50e6)
    assert min(both) >= 0.020 + (2 * size - PIECE) / 50e6 - 1e-9
    for end in both:
        assert (end - 0.020) / (alone - 0.020) == pytest.approx(2.0, abs=PIECE / size)


def test_a_node_s_links_share_its_egress() -> None:
    """Two links out of one node, each as fast as its NIC: at once they split the NIC; with
    a NIC twice as fast each keeps its full rate."""
    size = MiB
    link = Link(0.010, 40e6)
    for nic_rate, each in ((40e6, 2 * size / 40e6), (80e6, size / 40e6)):
        clock = EventClock()
        egress = Serialiser(nic_rate)
        links = [LinkEmulator(link, clock=clock, egress=egress) for _ in range(2)]
        ends = asyncio.run(clock.run(*(transfer(e, clock, size)() for e in links)))
        assert max(ends) == exactly(0.010 + each), nic_rate
        assert min(ends) >= 0.010 + each - PIECE / 40e6 - 1e-9


def test_a_nic_slower_than_the_link_paces_a_transfer_alone() -> None:
    clock = EventClock()
    emulator = LinkEmulator(Link(0.010, 100e6), clock=clock, egress=Serialiser(25e6))
    [end] = asyncio.run(clock.run(transfer(emulator, clock, MiB)()))
    assert end == exactly(0.010 + MiB / 25e6)


def test_two_senders_into_one_node_share_its_ingress() -> None:
    """Two nodes send 1 MiB each to a third at once, each on its own link and NIC: the
    receiver's NIC takes both in, at its rate; one alone is never held back."""
    size = MiB
    link = Link(0.015, 30e6)
    clock = EventClock()
    ingress = Ingress(30e6, clock)
    sender = LinkEmulator(link, clock=clock, egress=Serialiser(30e6))
    [alone] = asyncio.run(clock.run(transfer(sender, clock, size, ingress)()))
    assert alone == pytest.approx(link.seconds(size), abs=1e-9)

    clock = EventClock()
    ingress = Ingress(30e6, clock)
    senders = [LinkEmulator(link, clock=clock, egress=Serialiser(30e6)) for _ in range(2)]
    ends = asyncio.run(clock.run(*(transfer(s, clock, size, ingress)() for s in senders)))
    for end in ends:
        assert (end - 0.015) / (alone - 0.015) == pytest.approx(2.0, abs=0.1)
    # Never faster than the NIC allows, whatever order the pieces came in.
    assert max(ends) >= 0.015 + 2 * size / 30e6 - 1e-9


def test_ingress_holds_back_only_what_comes_faster_than_its_rate() -> None:
    clock = EventClock()
    ingress = Ingress(1e6, clock)

    async def arrivals() -> float:
        held = []
        # 1 kB every millisecond: exactly the rate, nothing waits.
        for _ in range(5):
            await clock.sleep(0.001)
            held.append(await ingress.take(1000))
        assert held == [pytest.approx(0.0, abs=1e-12)] * 5
        # 10 kB read at once right behind them: the NIC is busy until now, so it takes
        # them in over the next 10 ms.
        assert await ingress.take(10_000) == exactly(0.010)
        # 10 kB that came in while nobody read for 50 ms: they could have, so no wait.
        await clock.sleep(0.050)
        return await ingress.take(10_000)

    [held] = asyncio.run(clock.run(arrivals()))
    assert held == 0.0

    async def a_body_that_began_just_now() -> float:
        ingress = Ingress(1e6, clock)
        began = clock.now
        await clock.sleep(0.001)
        # 10 kB read 1 ms after its body began: they came in no earlier than that.
        return await ingress.take(10_000, since=began)

    assert asyncio.run(clock.run(a_body_that_began_just_now())) == [exactly(0.009)]


def test_the_host_tail_leaves_out_what_the_receiver_s_nic_held() -> None:
    host = HostPath()
    clock = EventClock()
    for _ in range(4):
        body = LinkEmulator(Link(0.010, 1e6), host, clock).pace(one_chunk(100))
        assert isinstance(body, PacedBody)
        body.released = 1.0
        # Answered 250 ms after the last byte was due, 248 of them the receiver's NIC.
        LinkEmulator(Link(0.010, 1e6), host, clock).finished(body, 1.250, held=0.248)
    assert host.head_start == pytest.approx(0.002)


def test_a_nic_defaults_to_the_fastest_link_touching_its_node() -> None:
    cluster = Cluster.default(8)
    # sfo alone in its region: its fastest link is from tor (45 MB/s, the TCP model).
    assert cluster.nic("n00") == cluster.link("n02", "n00").bandwidth
    for node in cluster.node_names:
        others = [n for n in cluster.node_names if n != node]
        fastest = max(
            max(cluster.link(node, n).bandwidth, cluster.link(n, node).bandwidth) for n in others
        )
        assert cluster.nic(node) == fastest
    # Two nodes in a region: the intra-region link (1 Gbit/s) is the fastest.
    assert Cluster.default(16).nic("n00") == 125e6
    # Nobody to talk to: no NIC to share.
    assert Cluster.default(1).nic("n00") == math.inf
    assert Nic.of(Cluster.default(1), "n00") is None
    assert Nic.of(Cluster.default(2).model_copy(update={"emulate": False}), "n00") is None


def test_nic_mbps_in_cluster_yaml(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "nodes:\n"
        "  - {name: a, region: sfo, nic_mbps: 100}\n"
        "  - {name: b, region: sfo}\n"
        "links:\n"
        "  - {from: sfo, to: sfo, rtt_ms: 1, bandwidth_mbps: 400}\n"
    )
    cluster = load_cluster(path)
    assert cluster.nic("a") == 100e6 / 8
    assert cluster.nic("b") == 400e6 / 8
    assert Cluster.from_dict(cluster.to_dict()).nic("a") == 100e6 / 8
    nic = Nic.of(cluster, "a")
    assert nic is not None and nic.egress.rate == nic.ingress.rate == 100e6 / 8
    path.write_text("nodes:\n  - {name: a, region: sfo, nic_mbps: 0}\n")
    with pytest.raises(SpecError, match=r"nodes\[0\]\.nic_mbps"):
        load_cluster(path)
