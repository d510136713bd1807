"""Link emulator on the real clock: `python bench/emulator.py` prints each figure beside its target.

tests/cluster/test_link_emulator.py checks the emulator's schedule exactly on a virtual
clock; this measures how close the event loop's real clock comes to that schedule on this
machine, through real loopback sockets and aiohttp, where load shows:

1. a transfer through a socket, 1 MiB and 4 MiB on a 20 ms, 50 MB/s link (target: never
   faster than the model, at most 15% + 3 ms slower), and through aiohttp as a request body
   (2 MiB; at most 20% + 5 ms slower)
2. a quadratic fit over timed transfers (the profiler's method) recovers latency and
   bandwidth (target: within 10%)
3. waits: a slow source charged one latency (target 110..160 ms), an empty stream
   (30..45 ms), `delay` (25..40 ms), 1000 delays of an inactive emulator (< 50 ms),
   `stretched` (40..55 ms), a learned 100 ms host tail on a 300 ms link (200..290 ms)
4. the host tail send_file teaches a HostPath on loopback (target: under 50 ms)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
from aiohttp import ClientSession, web
from rich.console import Console
from rich.table import Table

from jupiter.circe.transfer import send_file
from jupiter.cluster.emulator import HOST_PATH_MIN_SAMPLES, HostPath, LinkEmulator, stretched
from jupiter.cluster.links import Link

MIB = 1024 * 1024
LINK = Link(0.020, 50e6)


async def chunks_of(payload: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


async def socket_transfer(emulator: LinkEmulator, payload: bytes) -> float:
    """Seconds from starting to send to the receiver holding the last byte."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[tuple[float, bytes]] = loop.create_future()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = []
        while data := await reader.read(1 << 20):
            parts.append(data)
        arrived.set_result((loop.time(), b"".join(parts)))
        writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        began = loop.time()
        async for piece in emulator.pace(chunks_of(payload)):
            writer.write(piece)
            await writer.drain()
        writer.write_eof()
        finished, received = await arrived
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    return finished - began


async def put_server(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> tuple[web.AppRunner, str]:
    app = web.Application(client_max_size=4 * MIB)
    app.router.add_put("/data", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/data"


async def aiohttp_transfer(payload: bytes) -> float:
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []

    async def put(request: web.Request) -> web.Response:
        assert await request.read() == payload
        arrivals.append(loop.time())
        return web.Response(text="ok")

    runner, url = await put_server(put)
    try:
        async with ClientSession() as session:
            began = loop.time()
            async with session.put(url, data=LinkEmulator(LINK).pace(chunks_of(payload))) as r:
                assert r.status == 200
    finally:
        await runner.cleanup()
    return arrivals[0] - began


async def elapsed(work: Callable[[], Awaitable[object]]) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    await work()
    return loop.time() - began


async def drain(emulator: LinkEmulator, chunks: AsyncIterator[bytes]) -> None:
    async for _ in emulator.pace(chunks):
        pass


async def waits() -> list[tuple[str, float, float, float]]:
    """(figure, measured seconds, lowest target, highest target)."""

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(10):
            await asyncio.sleep(0.010)
            yield b"x" * 10_000

    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    inactive = LinkEmulator(None)

    async def thousand_delays() -> None:
        for _ in range(1000):
            await inactive.delay()

    host = HostPath()
    for _ in range(8):
        host.observe(0.100)

    async def first_piece(link: Link) -> None:
        async for _ in LinkEmulator(link, host).pace(chunks_of(b"x" * 100)):
            return

    slow = LinkEmulator(Link(0.010, 100e6))
    empty = LinkEmulator(Link(0.030, 1e6))
    figures = [
        ("slow source, 10 chunks 10 ms apart", lambda: drain(slow, trickle()), 0.1101, 0.160),
        ("empty stream, 30 ms link", lambda: drain(empty, nothing()), 0.030, 0.045),
        ("delay, 25 ms link", LinkEmulator(Link(0.025, 1e6)).delay, 0.025, 0.040),
        ("1000 delays, emulator off", thousand_delays, 0.0, 0.050),
        ("stretched 20 ms x3 (waits 40 ms)", lambda: stretched(0.020, 3.0), 0.040, 0.055),
        ("300 ms link, 100 ms host tail", lambda: first_piece(Link(0.300, 1e9)), 0.200, 0.290),
        ("50 ms link, 100 ms host tail", lambda: first_piece(Link(0.050, 1e9)), 0.0, 0.040),
    ]
    return [(name, await elapsed(work), low, high) for name, work, low, high in figures]


async def host_tail(root: Path) -> float:
    host = HostPath()
    (root / "out.bin").write_bytes(os.urandom(20_000))

    async def put(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=201)

    runner, url = await put_server(put)
    try:
        async with ClientSession() as session:
            for _ in range(HOST_PATH_MIN_SAMPLES):
                emulator = LinkEmulator(Link(0.002, 50e6), host)
                await send_file(session, url, root / "out.bin", emulator, {})
    finally:
        await runner.cleanup()
    return host.head_start


async def main(console: Console, root: Path) -> None:
    table = Table(title="link emulator on the event loop's clock")
    for column in ("figure", "measured", "model", "target", "met"):
        table.add_column(column, justify="left")

    def row(figure: str, measured: float, model: float, low: float, high: float) -> None:
        table.add_row(
            figure,
            f"{measured * 1e3:.2f} ms",
            f"{model * 1e3:.2f} ms",
            f"{low * 1e3:.1f} .. {high * 1e3:.1f} ms",
            "yes" if low <= measured <= high else "NO",
        )

    for size in (1 * MIB, 4 * MIB):
        expected = LINK.seconds(size)
        measured = await socket_transfer(LinkEmulator(LINK), os.urandom(size))
        row(
            f"socket, {size // MIB} MiB",
            measured,
            expected,
            expected - 0.002,
            expected * 1.15 + 0.003,
        )
    expected = LINK.seconds(2 * MIB)
    measured = await aiohttp_transfer(os.urandom(2 * MIB))
    row("aiohttp body, 2 MiB", measured, expected, expected - 0.002, expected * 1.2 + 0.005)
    for figure, measured, low, high in await waits():
        row(figure, measured, low, low, high)
    row("host tail learnt on loopback", await host_tail(root), 0.0, 1e-9, 0.050)
    console.print(table)

    sizes = [64 * 1024, 256 * 1024, 512 * 1024, 1 * MIB, 2 * MIB, 3 * MIB]
    times = []
    for size in sizes:
        payload = os.urandom(size)
        times.append(min([await socket_transfer(LinkEmulator(LINK), payload) for _ in range(3)]))
    r, q, p = np.polyfit(np.array(sizes, dtype=float), np.array(times), 2)
    console.print(
        f"quadratic fit over real transfers: latency {p * 1e3:.2f} ms (model "
        f"{LINK.latency * 1e3:.0f}, {p / LINK.latency - 1:+.1%}), bandwidth "
        f"{1 / q / 1e6:.1f} MB/s (model {LINK.bandwidth / 1e6:.0f}, "
        f"{1 / q / LINK.bandwidth - 1:+.1%}); target within 10%; "
        f"curvature x (3 MiB)^2: {abs(r) * sizes[-1] ** 2 * 1e3:.2f} ms (target < 5% of "
        f"{LINK.seconds(sizes[-1]) * 1e3:.0f} ms)"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as tmp:
        asyncio.run(main(Console(width=120), Path(tmp)))
