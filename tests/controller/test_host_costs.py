"""controller/host_costs.py against a real server on the loopback: how many requests it
sends, what it makes of them, and what it does when the agent does not take them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from jupiter.api import paths
from jupiter.circe.state import HOME
from jupiter.circe.transfer import receive_file
from jupiter.controller.host_costs import HOST_PROBES, LARGE_SAMPLE_BYTES, measure_host_costs
from jupiter.mapper.stream_sim import HostCosts


async def costs_from(tmp_path: Path, sample: Path, status: int = 201) -> tuple[HostCosts, int]:
    """The costs measured against a server that takes the home's probes as an agent does
    (or answers `status`), and how many requests it saw."""
    seen = 0

    async def take(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        assert request.match_info["sender"] == HOME
        await receive_file(request, tmp_path / "landed", 8 * LARGE_SAMPLE_BYTES)
        return web.Response(status=status)

    application = web.Application(client_max_size=8 * LARGE_SAMPLE_BYTES)
    application.router.add_put(paths.PROFILER_NETWORK_PROBE, take)
    runner = web.AppRunner(application)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as session:
            costs = await measure_host_costs(session, url, sample, {})
    finally:
        await runner.cleanup()
    return costs, seen


def test_a_small_input_is_sent_once_untimed_then_timed_and_the_median_is_both_costs(
    tmp_path: Path,
) -> None:
    sample = tmp_path / "input.txt"
    sample.write_text("1\n2\n3\n")
    costs, seen = asyncio.run(costs_from(tmp_path, sample))
    assert seen == 1 + HOST_PROBES
    assert 0 < costs.inject < 1.0 and costs.deliver == costs.inject


def test_a_large_input_is_sent_once(tmp_path: Path) -> None:
    sample = tmp_path / "big.bin"
    sample.write_bytes(b"x" * (2 * LARGE_SAMPLE_BYTES))
    costs, seen = asyncio.run(costs_from(tmp_path, sample))
    assert seen == 1
    assert costs.inject > 0


def test_an_agent_that_refuses_the_probes_leaves_the_costs_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sample = tmp_path / "input.txt"
    sample.write_text("1\n")
    with caplog.at_level(logging.WARNING, logger="jupiter.controller.host_costs"):
        costs, seen = asyncio.run(costs_from(tmp_path, sample, status=404))
    assert costs == HostCosts()
    assert seen == 1
    assert "could not time the home's requests" in caplog.text
