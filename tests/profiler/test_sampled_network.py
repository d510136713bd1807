"""The sampled network strategy with real agents on an uneven 16-node cluster.

Four regions of 6, 5, 3 and 2 nodes, each region pair with its own latency and bandwidth,
one pair asymmetric, under a time dilation of 3 (docs/emulation.md: the links three times
slower on the host's clock, so that the host's own milliseconds weigh less). Each node
probes 8 peers for latency (a landmark per region plus random neighbours) and 2 links per
ordered region pair are probed for bandwidth; the rest is inferred (profiler/sampled.py).
Checked: the coordinates predict the held-out links' latencies within the stated error,
the inferred latencies and bandwidths are close to the link model, and every link says
which of its figures were measured.

Stated error: median relative error on held-out links at most 15%, 90th percentile at most
40%. Bandwidth per region pair within 25% of the link model where the largest probe spends
20 ms or more on the wire (a loaded machine adds its own milliseconds to shorter ones).
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest
from profiler_scenarios import UNEVEN_LINKS, write_app, write_cluster

from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile

pytestmark = pytest.mark.e2e
KIB = 1024
SIZES = [4 * KIB, 32 * KIB, 256 * KIB, 1024 * KIB]
DILATION = 3.0

UNEVEN_16 = (
    """
nodes:
  - {name: a1, region: ra}
  - {name: a2, region: ra}
  - {name: a3, region: ra}
  - {name: a4, region: ra}
  - {name: a5, region: ra}
  - {name: a6, region: ra}
  - {name: b1, region: rb}
  - {name: b2, region: rb}
  - {name: b3, region: rb}
  - {name: b4, region: rb}
  - {name: b5, region: rb}
  - {name: c1, region: rc}
  - {name: c2, region: rc}
  - {name: c3, region: rc}
  - {name: d1, region: rd}
  - {name: d2, region: rd}
"""
    + UNEVEN_LINKS
)


@dataclass
class Observed:
    cluster: Cluster
    profile: Profile
    probed: dict[str, list[str]]


async def scenario(tmp_path: Path) -> Observed:
    app = load_app(write_app(tmp_path / "app", {"load": []}))
    # Time dilation: every emulated wait three times longer, so that what this shared
    # machine adds to a probe (a millisecond or two of CPU) is small beside the links.
    cluster = load_cluster(write_cluster(tmp_path / "cluster.yaml", UNEVEN_16)).dilated(DILATION)
    settings = ProfileSettings(
        sizes=SIZES, strategy="sampled", latency_peers=8, interval=0, execution=False
    )
    async with local_agents(app, cluster) as agents:
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
        probed: dict[str, list[str]] = {}
        for node, url in agents.urls.items():
            async with agents.session.get(
                f"{url}/profiler/network?samples=1", headers=agents.auth
            ) as response:
                assert response.status == 200
                probed[node] = sorted((await response.json())["samples"])
    return Observed(cluster, profile, probed)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Observed:
    return asyncio.run(scenario(tmp_path_factory.mktemp("sampled")))


def test_few_links_are_probed_and_every_link_has_a_fit(observed: Observed) -> None:
    nodes = observed.cluster.node_names
    inference = observed.profile.network_inference
    assert inference is not None and inference.groups_by == "region"
    assert sorted(inference.groups) == ["ra", "rb", "rc", "rd"]
    probed = sum(len(peers) for peers in observed.probed.values())
    assert probed < 0.75 * len(nodes) * (len(nodes) - 1)
    for a in nodes:
        assert sorted(observed.profile.links[a]) == sorted(b for b in nodes if b != a)
        # Each node probed its latency peers and its representative links, nothing else.
        expected = set(inference.latency_peers[a]) | {
            b for links in inference.representatives.values() for x, b in links if x == a
        }
        assert set(observed.probed[a]) == expected
        # A landmark in every other region.
        regions = {observed.cluster.node(b).region for b in inference.latency_peers[a]}
        assert regions >= {"ra", "rb", "rc", "rd"} - {observed.cluster.node(a).region}


def test_each_link_says_what_was_measured_and_what_inferred(observed: Observed) -> None:
    inference = observed.profile.network_inference
    assert inference is not None
    representatives = {
        tuple(link) for links in inference.representatives.values() for link in links
    }
    # Three representatives for every ordered region pair, each from another sender (rd
    # holds two nodes: two senders, two representatives).
    groups = inference.groups
    for pair, links in inference.representatives.items():
        sender_group = pair.split("->")[0]
        assert len(links) == min(3, len(groups[sender_group])), pair
        assert len({a for a, _ in links}) == len(links), pair
    assert len(inference.representatives) == 16
    counts = {"measured": 0, "inferred": 0}
    for a, row in observed.profile.links.items():
        for b, fit in row.items():
            latency_probed = b in observed.probed[a]
            assert fit.latency_source == ("measured" if latency_probed else "inferred"), (a, b)
            assert fit.bandwidth_source == (
                "measured" if (a, b) in representatives else "inferred"
            ), (a, b)
            assert fit.resolved, (a, b)
            counts[fit.latency_source] += 1
    assert counts["inferred"] == inference.latency_inferred > 0
    assert inference.measured_links == counts["measured"]


def test_coordinates_predict_held_out_latencies_within_the_stated_error(
    observed: Observed,
) -> None:
    inference = observed.profile.network_inference
    assert inference is not None and inference.held_out is not None
    assert inference.held_out.links >= 16
    assert inference.held_out.median <= 0.15, inference.held_out
    assert inference.held_out.p90 <= 0.40, inference.held_out
    # Held-out links keep their measured figure.
    for a, b in inference.held_out_links:
        assert observed.profile.links[a][b].latency_source == "measured"


def test_inferred_latencies_follow_the_link_model(observed: Observed) -> None:
    """Inter-region links whose latency was never probed: the prediction within 10% + 1 ms
    of the model on the median and within 25% + 2 ms on every one."""
    cluster = observed.cluster
    errors = []
    for a, row in observed.profile.links.items():
        for b, fit in row.items():
            link = cluster.link(a, b)
            if fit.latency_source != "inferred" or link.rtt_ms < 10 * DILATION:
                continue
            errors.append(abs(fit.p - link.latency))
            assert abs(fit.p - link.latency) <= 0.25 * link.latency + 0.002, (a, b, fit.p)
    assert errors
    assert statistics.median(errors) <= 0.001 + 0.1 * 0.015 * DILATION


def test_representatives_recover_each_region_pairs_bandwidth(observed: Observed) -> None:
    cluster = observed.cluster
    for a, row in observed.profile.links.items():
        for b, fit in row.items():
            link = cluster.link(a, b)
            ratio = fit.bandwidth / link.bandwidth
            if SIZES[-1] / link.bandwidth >= 0.02:
                assert 0.75 <= ratio <= 1.25, (a, b, ratio)
            else:
                assert 0.3 <= ratio <= 1.5, (a, b, ratio)
    # The asymmetric pair: d -> a is slower than a -> d on every link, inferred or not.
    links = observed.profile.links
    for a in ("a1", "a2", "a3"):
        for d in ("d1", "d2"):
            assert links[d][a].bandwidth < links[a][d].bandwidth, (a, d)
