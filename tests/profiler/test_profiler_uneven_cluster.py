"""Profiles gathered from real agents on 8 emulated nodes with uneven links and speeds.

One scenario runs once for the module (agents are started, profiled, queried and stopped);
each test checks one thing it recorded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from profiler_scenarios import UNEVEN_CLUSTER, write_app, write_cluster

from jupiter.agent.auth import auth_headers
from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile

KIB = 1024
SIZES = [4 * KIB, 32 * KIB, 256 * KIB, 1024 * KIB]
UNPROBED = 128 * KIB
SHARE = 0.2
BURST = 0.5
ENDPOINTS = [
    ("GET", "/profiler/network"),
    ("POST", "/profiler/network/start"),
    ("POST", "/profiler/network/measure"),
    ("PUT", "/profiler/network/probe/a1"),
    ("GET", "/profiler/resources"),
    ("GET", "/profiler/execution"),
    ("POST", "/profiler/execution/chain"),
    ("POST", "/profiler/execution/share"),
    ("PUT", "/profiler/execution/samples/load"),
    ("POST", "/profiler/execution/run"),
]


@dataclass
class Observed:
    cluster: Cluster
    profile: Profile
    refused: dict[tuple[str, str, str], int] = field(default_factory=dict)
    validation: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    later: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0
    execution: dict[str, Any] = field(default_factory=dict)


async def scenario(tmp_path: Path) -> Observed:
    app = load_app(write_app(tmp_path / "app", {"load": [], "work": ["load"]}))
    cluster = load_cluster(write_cluster(tmp_path / "cluster.yaml", UNEVEN_CLUSTER))
    settings = ProfileSettings(
        sizes=SIZES,
        interval=1.0,
        refit_interval=1.0,
        max_link_share=SHARE,
        burst_seconds=BURST,
        execution_repeats=3,
    )
    async with local_agents(app, cluster) as agents:
        began = time.monotonic()
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
        observed = Observed(cluster, profile)
        url = agents.urls["a1"]
        async with aiohttp.ClientSession() as bare:
            for name, headers in (("none", {}), ("wrong", auth_headers("not-the-token"))):
                for method, path in ENDPOINTS:
                    async with bare.request(method, url + path, headers=headers) as response:
                        observed.refused[(name, method, path)] = response.status
        # Sizes never probed, on a slow, a medium and a fast link, for the fit to predict.
        for a, b in (("a1", "d1"), ("b1", "c2"), ("c1", "c2")):
            async with agents.session.post(
                f"{agents.urls[a]}/profiler/network/measure",
                json={"peer": b, "sizes": [UNPROBED], "repeats": 3},
                headers=agents.auth,
            ) as response:
                assert response.status == 200, await response.text()
                samples = (await response.json())["samples"]
                observed.validation[(a, b)] = [seconds for _, seconds in samples]
        # Later rounds come every second; wait for two more.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            async with agents.session.get(f"{url}/profiler/network", headers=agents.auth) as r:
                observed.later = await r.json()
            if observed.later["rounds"] >= 3:
                break
            await asyncio.sleep(0.5)
        observed.elapsed = time.monotonic() - began
        async with agents.session.get(f"{url}/profiler/execution", headers=agents.auth) as r:
            observed.execution = await r.json()
    return observed


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Observed:
    return asyncio.run(scenario(tmp_path_factory.mktemp("uneven")))


def test_the_profile_covers_every_link_node_and_task(observed: Observed) -> None:
    profile = observed.profile
    nodes = observed.cluster.node_names
    assert profile.nodes == nodes
    assert sorted((a, b) for a, row in profile.links.items() for b in row) == sorted(
        (a, b) for a in nodes for b in nodes if a != b
    )
    assert all(fit.sizes == SIZES for row in profile.links.values() for fit in row.values())
    assert sorted(profile.resources) == sorted(nodes)
    assert all(0 < sample.memory_percent < 100 for sample in profile.resources.values())
    assert set(profile.compute) == {"load", "work"}
    assert all(set(row) == set(nodes) for row in profile.compute.values())
    assert profile.output_bytes == {"load": 50_000, "work": 1000}
    assert set(profile.timings) >= {"network", "execution", "resources", "total"}


def test_fits_recover_the_configured_latency_and_bandwidth(observed: Observed) -> None:
    bad = []
    for a, row in observed.profile.links.items():
        for b, fit in row.items():
            link = observed.cluster.link(a, b)
            # The transfer path itself (HTTP on loopback, the emulator's 1 ms timer) adds a
            # few ms; a busy machine adds more.
            if not link.latency * 0.9 - 0.001 <= fit.p <= link.latency * 1.2 + 0.008:
                bad.append(f"{a}->{b} latency {fit.p * 1e3:.1f} ms, model {link.rtt_ms / 2:.1f}")
            # Where the largest probe spends at least 40 ms on the wire, bandwidth shows.
            if SIZES[-1] / link.bandwidth >= 0.04:
                if not 0.75 <= fit.bandwidth / link.bandwidth <= 1.25:
                    bad.append(
                        f"{a}->{b} bandwidth {fit.bandwidth / 1e6:.2f} MB/s, "
                        f"model {link.bandwidth / 1e6:.2f}"
                    )
            elif not 0.3 <= fit.bandwidth / link.bandwidth <= 1.5:
                bad.append(f"{a}->{b} fast-link bandwidth {fit.bandwidth / 1e6:.1f} MB/s")
    assert not bad, bad


def test_the_asymmetric_link_is_seen_in_each_direction(observed: Observed) -> None:
    there = observed.profile.links["a1"]["d1"]
    back = observed.profile.links["d1"]["a1"]
    assert back.p > there.p
    assert back.bandwidth < there.bandwidth * 0.8


def test_fits_predict_sizes_that_were_not_probed(observed: Observed) -> None:
    for (a, b), times in observed.validation.items():
        predicted = observed.profile.links[a][b].seconds(UNPROBED)
        assert min(times) == pytest.approx(predicted, rel=0.2), (a, b, times)


def test_execution_figures_reflect_node_speeds(observed: Observed) -> None:
    compute = observed.profile.compute["load"]
    # load sleeps 20 ms: the profile sees it stretched by max speed / node speed.
    for node in observed.cluster.nodes:
        stretch = observed.cluster.stretch(node.name)
        assert compute[node.name] == pytest.approx(0.02 * stretch, rel=0.5), node.name
    assert compute["b2"] > 2.5 * compute["a1"]
    assert observed.execution["stretch"] == 1.0
    assert observed.execution["profiled"]["load"]["runs"] >= 1


def test_every_profiler_endpoint_refuses_requests_without_the_token(observed: Observed) -> None:
    assert len(observed.refused) == 2 * len(ENDPOINTS)
    assert set(observed.refused.values()) == {401}, observed.refused


def test_later_rounds_refit_and_stay_within_the_link_share(observed: Observed) -> None:
    later = observed.later
    assert later["rounds"] >= 3
    assert later["state"] == "probing"
    fitted_at = {fit["fitted_at"] for fit in later["fits"].values()}
    assert max(fitted_at) > observed.profile.links["a1"]["b1"].fitted_at
    for peer, samples in later["samples"].items():
        assert len(samples) <= later["plan"]["window"]
        used = later["link_seconds_used"][peer]
        longest = max(seconds for _, seconds, _ in samples)
        assert used <= BURST + SHARE * observed.elapsed + longest, peer
