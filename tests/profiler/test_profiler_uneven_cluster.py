"""Profiles gathered from real agents on 8 emulated nodes with uneven links and speeds.

One scenario runs once for the module (agents are started, profiled, queried and stopped);
each test checks one thing it recorded. What is checked here holds on a loaded machine:
coverage, that every fit resolved, orderings with wide margins, the budget. How close the
fits come to the link model, and the predictions to measurements, moves with the machine's
load: `python3 bench/profiler.py --uneven-only` prints those figures beside their targets.
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
pytestmark = pytest.mark.e2e

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


def test_every_fit_resolved_to_a_latency_and_a_bandwidth(observed: Observed) -> None:
    for a, row in observed.profile.links.items():
        for b, fit in row.items():
            assert 0 <= fit.p < 1.0, (a, b, fit.p)
            assert 0 < fit.bandwidth < float("inf"), (a, b, fit.bandwidth)
            assert 0 < fit.seconds(SIZES[-1]) < 10.0, (a, b)


def test_fits_order_links_as_the_model_does(observed: Observed) -> None:
    """From every node, the link to the farthest region (30 ms one way or more) fits a
    longer latency than the one to its own region (2 ms); and the slowest link (3 MB/s)
    fits a lower bandwidth than every intra-region link (50 MB/s). Margins of 10x: load
    cannot close them."""
    cluster, links = observed.cluster, observed.profile.links
    for a in cluster.node_names:
        peers = [b for b in cluster.node_names if b != a]
        near = min(peers, key=lambda b: cluster.link(a, b).latency)
        far = max(peers, key=lambda b: cluster.link(a, b).latency)
        assert cluster.link(a, far).latency >= 10 * cluster.link(a, near).latency
        assert links[a][far].p > links[a][near].p, (a, near, far)
    pairs = [(a, b) for a in cluster.node_names for b in cluster.node_names if a != b]
    slow_a, slow_b = min(pairs, key=lambda pair: cluster.link(*pair).bandwidth)
    intra = [(a, b) for a, b in pairs if cluster.link(a, b).latency < 0.005]
    assert intra
    for a, b in intra:
        assert cluster.link(slow_a, slow_b).bandwidth * 10 < cluster.link(a, b).bandwidth
        assert links[slow_a][slow_b].bandwidth < links[a][b].bandwidth, (a, b)


def test_the_asymmetric_link_is_seen_in_each_direction(observed: Observed) -> None:
    """d -> a has 60% of a -> d's bandwidth: 1 MiB takes 140 ms longer back than there."""
    there = observed.profile.links["a1"]["d1"]
    back = observed.profile.links["d1"]["a1"]
    assert back.bandwidth < there.bandwidth
    assert back.seconds(SIZES[-1]) > there.seconds(SIZES[-1])


def test_unprobed_sizes_are_measured_and_ordered_by_link(observed: Observed) -> None:
    """Three timed transfers of a size never probed on a slow, a medium and a fast link
    (about 95, 32 and 5 ms): the measurements and the fits' predictions rank them alike."""
    assert all(len(times) == 3 for times in observed.validation.values())
    pairs = list(observed.validation)
    model = sorted(pairs, key=lambda pair: observed.cluster.link(*pair).seconds(UNPROBED))
    measured = sorted(pairs, key=lambda pair: min(observed.validation[pair]))
    predicted = sorted(
        pairs, key=lambda pair: observed.profile.links[pair[0]][pair[1]].seconds(UNPROBED)
    )
    assert measured == model == predicted


def test_execution_figures_reflect_node_speeds(observed: Observed) -> None:
    compute = observed.profile.compute["load"]
    assert all(seconds > 0 for seconds in compute.values())
    # b2 runs at a quarter of the fastest speed: its 20 ms task is stretched to 80 ms, 60 ms
    # more than on any full-speed node.
    stretch = observed.cluster.stretch
    assert stretch("b2") == 4.0
    for node in observed.cluster.nodes:
        if stretch(node.name) == 1.0:
            assert compute["b2"] > compute[node.name], node.name
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
