"""Real transfers refine link fits: an executor's sends, over loopback sockets through the
link emulator, feed its node's network profiler (as the agent wires them), and a link
whose bandwidth was inferred by the sampled strategy takes the measured figures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from state_cases import make_app
from test_pipelined_links import cluster_of_executors, inject, two_region_cluster, until

from jupiter.profiler.model import LinkProfile
from jupiter.profiler.network import NetworkProfiler
from jupiter.profiler.sampled import merge_refreshed

KIB = 1024
SIZES = [16 * KIB, 2048 * KIB]


def test_outputs_sent_refine_the_fit_of_the_link_they_took(tmp_path: Path) -> None:
    """Four outputs, two sizes, a -> b over 40 ms RTT and 80 Mbit/s (10 MB/s), one at a
    time: a's profiler fits that link from them alone, never having probed it."""
    cluster = two_region_cluster(tmp_path, {"a": "west", "b": "east"}, 40.0, 80.0)
    app = make_app({"t": []}, {"in": ["t"]})
    link = cluster.link("a", "b")

    async def scenario() -> tuple[LinkProfile, list[tuple[str, int, float]]]:
        seen: list[tuple[str, int, float]] = []
        async with (
            aiohttp.ClientSession() as session,
            cluster_of_executors(tmp_path, cluster, app, {"in": "a", "t": "b"}) as (
                nodes,
                delivered,
            ),
        ):
            profiler = NetworkProfiler("a", cluster, session, {}, tmp_path / "scratch", 2**26)

            def observe(peer: str, size: int, seconds: float) -> None:
                seen.append((peer, size, seconds))
                profiler.observe_transfer(peer, size, seconds)

            nodes["a"].on_transfer = observe
            for k, size in enumerate([*SIZES, *SIZES]):
                await inject(nodes["a"], k, "in", bytes([k]) * size)
                await until(lambda k=k: (k, "t") in delivered)
            return profiler.fits["b"], seen

    fit, seen = asyncio.run(scenario())
    # Only the sends between nodes: outputs going home are not a link of the cluster.
    assert [(peer, size) for peer, size, _ in seen] == [("b", s) for s in [*SIZES, *SIZES]]
    assert fit.runtime_samples == fit.samples == 4
    assert fit.sizes == SIZES and fit.resolved
    assert 0.9 * link.latency - 0.001 <= fit.p <= 1.2 * link.latency + 0.008, fit.p
    assert 0.75 <= fit.bandwidth / link.bandwidth <= 1.25, fit.bandwidth

    inferred = LinkProfile(
        p=0.05,
        q=1e-6,
        samples=0,
        sizes=SIZES,
        latency_source="inferred",
        bandwidth_source="inferred",
    )
    refined = merge_refreshed(inferred, fit)
    assert refined is fit and refined.bandwidth_source == "measured"


def test_a_transfer_to_an_unknown_node_or_itself_is_ignored(tmp_path: Path) -> None:
    cluster = two_region_cluster(tmp_path, {"a": "west", "b": "east"}, 40.0, 80.0)

    async def scenario() -> dict[str, LinkProfile]:
        async with aiohttp.ClientSession() as session:
            profiler = NetworkProfiler("a", cluster, session, {}, tmp_path, 2**26)
            profiler.observe_transfer("a", 100, 0.1)
            profiler.observe_transfer("zz", 100, 0.1)
            profiler.observe_transfer("b", 100, 0.0)
            profiler.observe_transfer("b", 4096, 0.03)
            return profiler.fits

    fits = asyncio.run(scenario())
    assert list(fits) == ["b"]
    assert (fits["b"].samples, fits["b"].runtime_samples, fits["b"].p) == (1, 1, 0.03)
