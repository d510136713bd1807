"""What one small request between Jupiter's processes costs on this host, before any starts.

An input reaches its sources' nodes, and its outputs the home, by one HTTP request each,
outside the emulated WAN. `--time-dilation auto` is chosen before any agent runs, so it
times the same path in this process instead: a throwaway server on the loopback receiving
the first input into a file, as an agent's store does (`receive_file`), sent by `send_file`
as the home sends it. Client and server share one event loop here, so their CPU adds up as
it does across two processes on a busy host. controller/host_costs.py measures the real
path, home to agent, once the agents are up; this figure only sizes the dilation.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from jupiter.circe.transfer import receive_file, send_file
from jupiter.cluster.emulator import LinkEmulator

# Timed requests after one untimed (its connection is set up then).
LOCAL_PROBES = 8
# Above this size the first input is not sent: a request of this many bytes stands in.
MAX_PROBE_BYTES = 1 << 20


def request_seconds(sample: Path, probes: int = LOCAL_PROBES) -> float:
    """Median seconds of one request carrying `sample` (at most MAX_PROBE_BYTES of it) on
    this host's loopback. Runs its own event loop on a thread, so it may be called from
    inside a running one."""
    found: list[float] = []
    error: list[BaseException] = []

    def measure() -> None:
        try:
            found.append(asyncio.run(_median(sample, probes)))
        except BaseException as failure:
            error.append(failure)

    thread = threading.Thread(target=measure, name="host-request-probe")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return found[0]


async def median_request(
    session: aiohttp.ClientSession,
    url: str,
    body: Path,
    auth: dict[str, str],
    probes: int,
    untimed: int = 1,
) -> float:
    """The median seconds of `probes` PUTs of `body` to `url`, after `untimed` more (the
    connection is set up then, as a stream's is); TransferError if one fails."""
    seconds: list[float] = []
    for attempt in range(untimed + probes):
        began = time.perf_counter()
        await send_file(session, url, body, LinkEmulator(None), auth, attempts=1)
        if attempt >= untimed:
            seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


async def _median(sample: Path, probes: int) -> float:
    with tempfile.TemporaryDirectory(prefix="jupiter-host-probe-") as raw:
        scratch = Path(raw)
        body = scratch / "body"
        with sample.open("rb") as source:
            body.write_bytes(source.read(MAX_PROBE_BYTES))

        async def take(request: web.Request) -> web.Response:
            await receive_file(request, scratch / "landed", MAX_PROBE_BYTES)
            return web.Response(status=201)

        application = web.Application(client_max_size=2 * MAX_PROBE_BYTES)
        application.router.add_put("/probe", take)
        runner = web.AppRunner(application, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            url = f"http://127.0.0.1:{port}/probe"
            async with aiohttp.ClientSession() as session:
                return await median_request(session, url, body, {}, probes)
        finally:
            await runner.cleanup()
