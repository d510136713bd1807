"""The in-process link emulator: its release schedule, checked exactly on a virtual clock.

Every timing here is read on a `VirtualClock` that moves only when something sleeps on it,
so the figures are the emulator's own arithmetic, not this machine's load; data still goes
through real loopback sockets and aiohttp where the test says so. How close the real clock
comes to the schedule is a benchmark figure: `python3 bench/emulator.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from aiohttp import ClientSession, web

from jupiter.circe.transfer import send_file
from jupiter.cluster.emulator import (
    HOST_PATH_MIN_SAMPLES,
    HOST_PATH_WINDOW,
    MAX_PIECE_BYTES,
    HostPath,
    LinkEmulator,
    PacedBody,
    stretched,
)
from jupiter.cluster.links import LOCAL, Link

LATENCY = 0.020
BANDWIDTH = 50e6
MiB = 1024 * 1024
# Schedules are sums of len/bandwidth terms: equal up to float rounding, nothing more.
EXACT = 1e-9


def exactly(seconds: float) -> object:
    return pytest.approx(seconds, rel=EXACT, abs=1e-12)


class VirtualClock:
    """Time that moves only when someone sleeps on it, by exactly the seconds asked.

    Each sleep also yields to the event loop once, so sockets and servers make progress.
    One sleeper at a time: the tests below never have two.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def chunks_of(payload: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


async def drain(emulator: LinkEmulator, chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [piece async for piece in emulator.pace(chunks)]


@asynccontextmanager
async def put_server(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> AsyncIterator[str]:
    """A loopback aiohttp server taking PUT /data; yields its URL."""
    app = web.Application(client_max_size=4 * MiB)
    app.router.add_put("/data", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/data"
    finally:
        await runner.cleanup()


async def through_a_socket(emulator: LinkEmulator, payload: bytes) -> bytes:
    """Stream the paced payload over a fresh loopback TCP connection; what the peer got."""
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = []
        while data := await reader.read(1 << 20):
            parts.append(data)
        received.set_result(b"".join(parts))
        writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        async for piece in emulator.pace(chunks_of(payload)):
            writer.write(piece)
            await writer.drain()
        writer.write_eof()
        data = await received
        writer.close()
        await writer.wait_closed()
        return data
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("size", [1 * MiB, 4 * MiB])
def test_a_transfer_through_a_socket_takes_latency_plus_size_over_bandwidth(size: int) -> None:
    link = Link(LATENCY, BANDWIDTH)
    clock = VirtualClock()
    payload = os.urandom(size)

    async def main() -> bytes:
        return await through_a_socket(LinkEmulator(link, clock=clock), payload)

    received = asyncio.run(main())
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    assert clock.now == exactly(LATENCY + size / BANDWIDTH)
    assert clock.now == exactly(link.seconds(size))


def test_a_quadratic_fit_recovers_latency_and_bandwidth() -> None:
    """What the network profiler does: fit t = p + q*f + r*f^2 over timed transfers."""
    link = Link(LATENCY, BANDWIDTH)
    sizes = [64 * 1024, 256 * 1024, 512 * 1024, 1 * MiB, 2 * MiB, 3 * MiB]
    times: list[float] = []
    for size in sizes:
        clock = VirtualClock()
        asyncio.run(drain(LinkEmulator(link, clock=clock), chunks_of(b"x" * size)))
        times.append(clock.now)
    r, q, p = np.polyfit(np.array(sizes, dtype=float), np.array(times), 2)
    # Only the fit's own rounding separates these from the link model.
    assert p == pytest.approx(LATENCY, rel=1e-6)
    assert 1.0 / q == pytest.approx(BANDWIDTH, rel=1e-6)
    assert abs(r) * sizes[-1] ** 2 < 1e-6 * link.seconds(sizes[-1])


def test_through_aiohttp_as_a_request_body() -> None:
    """The way agents ship outputs: `session.put(url, data=emulator.pace(chunks))`."""
    payload = os.urandom(2 * MiB)
    link = Link(LATENCY, BANDWIDTH)
    clock = VirtualClock()

    async def main() -> tuple[PacedBody, list[bytes]]:
        received: list[bytes] = []

        async def put(request: web.Request) -> web.Response:
            received.append(await request.read())
            return web.Response(text="ok")

        async with put_server(put) as url, ClientSession() as session:
            data = LinkEmulator(link, clock=clock).pace(chunks_of(payload))
            assert isinstance(data, PacedBody)
            async with session.put(url, data=data) as response:
                assert response.status == 200
        return data, received

    body, received = asyncio.run(main())
    assert received == [payload]
    assert body.created == 0.0
    assert body.released == exactly(link.seconds(len(payload)))
    assert clock.now == exactly(link.seconds(len(payload)))


def test_pieces_are_released_exactly_when_the_link_delivers_them() -> None:
    link = Link(0.010, 20e6)
    clock = VirtualClock()

    async def main() -> list[tuple[int, float]]:
        sent, schedule = 0, []
        async for piece in LinkEmulator(link, clock=clock).pace(chunks_of(b"z" * MiB, MiB)):
            assert len(piece) <= MAX_PIECE_BYTES
            sent += len(piece)
            schedule.append((sent, clock.now))
        return schedule

    schedule = asyncio.run(main())
    assert schedule[-1][0] == MiB
    assert len(schedule) == MiB // MAX_PIECE_BYTES
    for sent, released in schedule:
        # Cumulative bytes never run ahead of the link, nor lag behind it.
        assert released == exactly(link.latency + sent / link.bandwidth), sent


def test_a_slow_source_is_not_charged_the_latency_per_chunk() -> None:
    """Data produced over time crosses the link as it comes: one latency, not one a chunk."""
    link = Link(0.010, 100e6)
    clock = VirtualClock()

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(10):
            await clock.sleep(0.010)
            yield b"x" * 10_000

    asyncio.run(drain(LinkEmulator(link, clock=clock), trickle()))
    # The last chunk is ready at 100 ms, on the wire 0.1 ms, then one latency: 110.1 ms
    # (a latency per chunk would make it 200 ms).
    assert clock.now == exactly(10 * 0.010 + 10_000 / 100e6 + 0.010)


def test_an_empty_stream_still_takes_the_latency() -> None:
    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    clock = VirtualClock()
    assert asyncio.run(drain(LinkEmulator(Link(0.030, 1e6), clock=clock), nothing())) == []
    assert clock.now == exactly(0.030)


def test_delay_is_the_one_way_latency() -> None:
    clock = VirtualClock()
    asyncio.run(LinkEmulator(Link(0.025, 1e6), clock=clock).delay())
    assert clock.sleeps == [0.025]


@pytest.mark.parametrize("link", [None, LOCAL])
def test_off_is_the_identity(link: Link | None) -> None:
    clock = VirtualClock()
    emulator = LinkEmulator(link, clock=clock)
    assert not emulator.active
    assert emulator.seconds(10**9) == 0.0
    source = chunks_of(b"abc" * 100_000)
    assert emulator.pace(source) is source

    async def main() -> None:
        for _ in range(1000):
            await emulator.delay()

    asyncio.run(main())
    assert clock.sleeps == []


def test_small_links_pace_in_small_pieces() -> None:
    # 200 kB/s: pieces of at most 5 ms of link time (1 KiB), not 64 KiB bursts.
    link = Link(0.0, 200_000.0)
    clock = VirtualClock()
    pieces = asyncio.run(drain(LinkEmulator(link, clock=clock), chunks_of(b"y" * 8192)))
    assert [len(p) for p in pieces] == [1024] * 8
    assert clock.now == exactly(8192 / 200_000.0)


def test_stretched_waits_the_difference() -> None:
    clock = VirtualClock()
    assert asyncio.run(stretched(0.020, 3.0, clock)) == pytest.approx(0.060)
    assert clock.sleeps == [exactly(0.040)]
    clock = VirtualClock()
    assert asyncio.run(stretched(0.020, 1.0, clock)) == pytest.approx(0.020)
    assert clock.sleeps == []


def test_the_loop_clock_is_the_default_and_really_waits() -> None:
    """Without a clock given, the waits are real: never shorter than the schedule. (How much
    longer depends on the machine's load: bench/emulator.py prints it.)"""
    link = Link(0.025, 1e6)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        await LinkEmulator(link).delay()
        async for _ in LinkEmulator(link).pace(chunks_of(b"q" * 1000)):
            pass
        return loop.time() - began

    # The loop may fire a timer up to its clock resolution (1 ns here) early.
    assert asyncio.run(main()) >= 0.025 + link.seconds(1000) - 1e-6


def test_host_path_learns_the_lower_quartile_of_recent_tails() -> None:
    host = HostPath()
    for tail in (0.004, 0.001, 0.003):
        host.observe(tail)
    assert host.head_start == 0.0  # too few to trust
    host.observe(0.002)
    host.observe(-1.0)  # a clock oddity, not a tail
    assert host.head_start == 0.001
    for _ in range(HOST_PATH_WINDOW):
        host.observe(0.010)  # the old tails roll out of the window
    assert host.head_start == 0.010


def test_a_learned_host_tail_starts_the_latency_early_but_never_before_zero() -> None:
    host = HostPath()
    for _ in range(8):
        host.observe(0.100)

    def first_piece_after(link: Link) -> float:
        clock = VirtualClock()

        async def main() -> None:
            async for _ in LinkEmulator(link, host, clock).pace(chunks_of(b"x" * 100)):
                return
            raise AssertionError("nothing was released")

        asyncio.run(main())
        return clock.now

    # 300 ms of latency less 100 ms the host supplies itself, then 100 bytes on the wire.
    assert first_piece_after(Link(0.300, 1e9)) == exactly(0.200 + 100 / 1e9)
    # A link faster than the host is not made to wait its latency at all.
    assert first_piece_after(Link(0.050, 1e9)) == exactly(100 / 1e9)


def test_finished_reports_the_tail_after_the_last_release() -> None:
    host = HostPath()
    clock = VirtualClock()

    async def main(emulator: LinkEmulator) -> PacedBody:
        body = emulator.pace(chunks_of(b"w" * 1000))
        assert isinstance(body, PacedBody)
        async for _ in body:
            pass
        return body

    for _ in range(HOST_PATH_MIN_SAMPLES):
        # A fresh link each time: the clock goes back to 0, and a link remembers its traffic.
        emulator = LinkEmulator(Link(0.010, 1e6), host, clock)
        body = asyncio.run(main(emulator))
        assert body.released == exactly(0.010 + 1000 / 1e6)
        emulator.finished(body, body.released + 0.003)
        clock.now = 0.0
    assert host.head_start == exactly(0.003)


def test_transfers_through_a_real_server_teach_the_host_path_its_tail(tmp_path: Path) -> None:
    """send_file reports each answered transfer's tail: from the last byte's release to the
    receiver's answer, which is what this host adds on top of the emulated link. (Its size
    on loopback is a benchmark figure: bench/emulator.py.)"""
    host = HostPath()
    link = Link(0.002, 50e6)
    (tmp_path / "out.bin").write_bytes(os.urandom(20_000))

    async def main() -> None:
        async def put(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=201)

        async with put_server(put) as url, ClientSession() as session:
            for _ in range(HOST_PATH_MIN_SAMPLES):
                assert host.head_start == 0.0
                emulator = LinkEmulator(link, host)
                await send_file(session, url, tmp_path / "out.bin", emulator, {})

    asyncio.run(main())
    # Learnt, and positive: the answer always comes after the last byte was released.
    assert host.head_start > 0
