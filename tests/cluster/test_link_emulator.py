"""The in-process link emulator, timed on real data through real loopback sockets."""

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
    stretched,
)
from jupiter.cluster.links import LOCAL, Link

LATENCY = 0.020
BANDWIDTH = 50e6
MiB = 1024 * 1024


async def chunks_of(payload: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


Sender = Callable[[LinkEmulator, bytes], Awaitable[float]]


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


async def with_loopback_sender(body: Callable[[Sender], Awaitable[None]]) -> None:
    """Run `body` with a function that streams a payload over a fresh TCP connection.

    The function returns the seconds from starting to send to the receiver holding the last
    byte, and checks the receiver got exactly the payload.
    """
    loop = asyncio.get_running_loop()
    arrivals: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = []
        while data := await reader.read(1 << 20):
            parts.append(data)
        await arrivals.put((loop.time(), b"".join(parts)))
        writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def send(emulator: LinkEmulator, payload: bytes) -> float:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        began = loop.time()
        async for piece in emulator.pace(chunks_of(payload)):
            writer.write(piece)
            await writer.drain()
        writer.write_eof()
        finished, received = await arrivals.get()
        writer.close()
        await writer.wait_closed()
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        return finished - began

    try:
        await body(send)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("size", [1 * MiB, 4 * MiB])
def test_transfer_time_through_a_socket(size: int) -> None:
    link = Link(LATENCY, BANDWIDTH)
    expected = link.seconds(size)

    async def body(send: Sender) -> None:
        elapsed = await send(LinkEmulator(link), os.urandom(size))
        # Never faster than the link; slower only by scheduling and loopback noise.
        assert elapsed >= expected - 0.002
        assert elapsed <= expected * 1.15 + 0.003, (elapsed, expected)

    asyncio.run(with_loopback_sender(body))


def test_a_quadratic_fit_recovers_latency_and_bandwidth() -> None:
    """What the network profiler does: fit t = p + q*f + r*f^2 over timed transfers."""
    link = Link(LATENCY, BANDWIDTH)
    sizes = [64 * 1024, 256 * 1024, 512 * 1024, 1 * MiB, 2 * MiB, 3 * MiB]
    times: list[float] = []

    async def body(send: Sender) -> None:
        for size in sizes:
            payload = os.urandom(size)
            # The fastest of three: noise only ever adds time.
            times.append(min([await send(LinkEmulator(link), payload) for _ in range(3)]))

    asyncio.run(with_loopback_sender(body))
    r, q, p = np.polyfit(np.array(sizes, dtype=float), np.array(times), 2)
    assert p == pytest.approx(LATENCY, rel=0.10)
    assert 1.0 / q == pytest.approx(BANDWIDTH, rel=0.10)
    # The curvature is noise: small next to the biggest transfer's time.
    assert abs(r) * sizes[-1] ** 2 < 0.05 * link.seconds(sizes[-1])


def test_through_aiohttp_as_a_request_body() -> None:
    """The way agents ship outputs: `session.put(url, data=emulator.pace(chunks))`."""
    payload = os.urandom(2 * MiB)
    link = Link(LATENCY, BANDWIDTH)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        received: list[tuple[float, bytes]] = []

        async def put(request: web.Request) -> web.Response:
            body = await request.read()
            received.append((loop.time(), body))
            return web.Response(text="ok")

        async with put_server(put) as url, ClientSession() as session:
            began = loop.time()
            data = LinkEmulator(link).pace(chunks_of(payload))
            async with session.put(url, data=data) as response:
                assert response.status == 200
        [(arrived, body)] = received
        assert body == payload
        elapsed = arrived - began
        expected = link.seconds(len(payload))
        assert expected - 0.002 <= elapsed <= expected * 1.2 + 0.005, (elapsed, expected)

    asyncio.run(main())


def test_pieces_never_run_ahead_of_the_link() -> None:
    link = Link(0.010, 20e6)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        sent = 0
        async for piece in LinkEmulator(link).pace(chunks_of(os.urandom(MiB), size=MiB)):
            assert len(piece) <= MAX_PIECE_BYTES
            sent += len(piece)
            allowed = link.bandwidth * (loop.time() - began - link.latency)
            assert sent <= allowed + 1, (sent, allowed)
        assert sent == MiB

    asyncio.run(main())


def test_a_slow_source_is_not_charged_the_latency_per_chunk() -> None:
    """Data produced over time crosses the link as it comes: one latency, not one a chunk."""
    link = Link(0.010, 100e6)

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(10):
            await asyncio.sleep(0.010)
            yield b"x" * 10_000

    async def main() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async for _ in LinkEmulator(link).pace(trickle()):
            pass
        return loop.time() - began

    elapsed = asyncio.run(main())
    assert 0.110 <= elapsed < 0.160, elapsed


def test_an_empty_stream_still_takes_the_latency() -> None:
    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async for _ in LinkEmulator(Link(0.030, 1e6)).pace(nothing()):
            pass
        return loop.time() - began

    assert 0.030 <= asyncio.run(main()) < 0.045


def test_delay_is_the_one_way_latency() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        await LinkEmulator(Link(0.025, 1e6)).delay()
        return loop.time() - began

    assert 0.025 <= asyncio.run(main()) < 0.040


@pytest.mark.parametrize("link", [None, LOCAL])
def test_off_is_the_identity(link: Link | None) -> None:
    emulator = LinkEmulator(link)
    assert not emulator.active
    assert emulator.seconds(10**9) == 0.0
    source = chunks_of(b"abc" * 100_000)
    assert emulator.pace(source) is source

    async def main() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        for _ in range(1000):
            await emulator.delay()
        return loop.time() - began

    assert asyncio.run(main()) < 0.05


def test_small_links_pace_in_small_pieces() -> None:
    # 200 kB/s: pieces of at most 5 ms of link time (1 KiB), not 64 KiB bursts.
    link = Link(0.0, 200_000.0)

    async def main() -> list[int]:
        return [len(p) async for p in LinkEmulator(link).pace(chunks_of(b"y" * 8192))]

    assert asyncio.run(main()) == [1024] * 8


def test_stretched_waits_the_difference() -> None:
    async def main(measured: float, factor: float) -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        total = await stretched(measured, factor)
        return total, loop.time() - began

    total, waited = asyncio.run(main(0.020, 3.0))
    assert total == pytest.approx(0.060)
    assert 0.040 <= waited < 0.055
    total, waited = asyncio.run(main(0.020, 1.0))
    assert total == pytest.approx(0.020) and waited < 0.005


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

    async def first_piece_after(link: Link) -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async for _ in LinkEmulator(link, host).pace(chunks_of(b"x" * 100)):
            return loop.time() - began
        raise AssertionError("nothing was released")

    # 300 ms of latency less 100 ms the host supplies itself.
    assert 0.200 <= asyncio.run(first_piece_after(Link(0.300, 1e9))) < 0.290
    # A link faster than the host is not made to wait at all.
    assert asyncio.run(first_piece_after(Link(0.050, 1e9))) < 0.040


def test_transfers_through_a_real_server_teach_the_host_path_its_tail(tmp_path: Path) -> None:
    """send_file reports each answered transfer's tail: from the last byte's release to the
    receiver's answer, which is what this host adds on top of the emulated link."""
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
    # Positive (the answer takes time) and small (loopback, not a WAN).
    assert 0 < host.head_start < 0.050
