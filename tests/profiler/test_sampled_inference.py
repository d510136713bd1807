"""The sampled strategy's choices and inference (profiler/sampled.py), on synthetic fits."""

from __future__ import annotations

import pytest

from jupiter.cluster.spec import Cluster
from jupiter.profiler.home import ProfileSettings
from jupiter.profiler.model import LinkProfile
from jupiter.profiler.sampled import (
    SampledPlan,
    choose_latency_peers,
    choose_representatives,
    coordinate_groups,
    hold_out,
    infer_links,
    merge_refreshed,
    region_groups,
)

KIB = 1024
SIZES = [4 * KIB, 64 * KIB, 1024 * KIB]


def cluster_and_groups(n: int) -> tuple[Cluster, dict[str, list[str]]]:
    cluster = Cluster.default(n)
    groups = region_groups({node.name: node.region for node in cluster.nodes})
    assert groups is not None
    return cluster, groups


def probe(cluster: Cluster, a: str, b: str, sizes: list[int]) -> LinkProfile:
    """What probing a -> b at `sizes` fits: the link model exactly, plus 0.3 ms of host."""
    link = cluster.link(a, b)
    if len(sizes) == 1:
        p, q = link.seconds(sizes[0]) + 0.0003, 0.0
    else:
        p, q = link.latency + 0.0003, 1.0 / link.bandwidth
    return LinkProfile(p=p, q=q, samples=2 * len(sizes), sizes=sizes)


def test_strategy_threshold() -> None:
    assert not ProfileSettings().sampled(24)
    assert ProfileSettings().sampled(25)
    assert ProfileSettings(strategy="sampled").sampled(2)
    assert not ProfileSettings(strategy="full").sampled(1000)
    with pytest.raises(ValueError, match="auto, full or sampled"):
        ProfileSettings(strategy="some").sampled(3)


def test_latency_peers_have_a_landmark_in_every_region_and_random_neighbours() -> None:
    cluster, groups = cluster_and_groups(40)
    peers = choose_latency_peers(cluster.node_names, groups, count=10, seed=0)
    assert peers == choose_latency_peers(cluster.node_names, groups, count=10, seed=0)
    # Three landmarks per region; every node probes one of each region's.
    landmarks = {b for b in cluster.node_names if sum(b in row for row in peers.values()) >= 6}
    for node, row in peers.items():
        assert node not in row and len(row) == len(set(row))
        assert {cluster.node(b).region for b in row} >= set(groups) - {cluster.node(node).region}
        assert 9 <= len(row) <= 10
    assert len(landmarks) == 24
    assert {cluster.node(b).region for b in landmarks} == set(groups)


def test_representatives_cover_each_ordered_pair_with_spread_senders() -> None:
    _, groups = cluster_and_groups(24)
    chosen = choose_representatives(groups, per_pair=2, seed=0)
    assert len(chosen) == 64
    senders: dict[str, int] = {}
    for pair, links in chosen.items():
        g, h = pair.split("->")
        assert len(links) == 2 and len(set(links)) == 2
        for a, b in links:
            assert a in groups[g] and b in groups[h] and a != b
            senders[a] = senders.get(a, 0) + 1
    # 128 links over 24 nodes: nobody sends more than its share plus one.
    assert max(senders.values()) <= 128 // 24 + 1


def test_hold_out_keeps_representatives_and_enough_links_per_node() -> None:
    cluster, groups = cluster_and_groups(30)
    peers = choose_latency_peers(cluster.node_names, groups, count=10, seed=1)
    keep = {(a, row[0]) for a, row in peers.items()}
    held = hold_out(peers, keep, 0.2, seed=1)
    assert not held & keep
    assert 0.1 * 300 <= len(held) <= 0.3 * 300
    for node, row in peers.items():
        assert sum(1 for b in row if (node, b) not in held) >= 4


def test_inference_recovers_the_link_model_and_labels_every_link() -> None:
    cluster, groups = cluster_and_groups(48)
    nodes = cluster.node_names
    latency = choose_latency_peers(nodes, groups, count=8, seed=0)
    plan = SampledPlan(groups, "region", latency, choose_representatives(groups, 2, seed=1))
    representatives = plan.representative_links
    measured: dict[str, dict[str, LinkProfile]] = {}
    for a, row in latency.items():
        for b in row:
            measured.setdefault(a, {})[b] = probe(cluster, a, b, SIZES[:1])
    for a, b in representatives:
        measured.setdefault(a, {})[b] = probe(cluster, a, b, SIZES)
    held = hold_out(latency, representatives, 0.2, seed=0)
    links, inference = infer_links(nodes, plan, measured, held, seed=0)

    assert inference.held_out is not None and inference.held_out.median < 0.05
    assert inference.latency_model == "group core + heights"
    assert inference.measured_links == sum(len(row) for row in measured.values())
    for a in nodes:
        assert len(links[a]) == len(nodes) - 1
        for b, fit in links[a].items():
            link = cluster.link(a, b)
            assert fit.latency_source == ("measured" if b in measured.get(a, {}) else "inferred")
            assert fit.bandwidth_source == ("measured" if (a, b) in representatives else "inferred")
            assert fit.bandwidth == pytest.approx(link.bandwidth, rel=1e-6)
            if link.rtt_ms >= 1:
                assert fit.p == pytest.approx(link.latency + 0.0003, rel=0.10), (a, b)
    # A latency-only probe's own bytes are taken off: 4 KiB on the link's bandwidth.
    a = nodes[0]
    b = next(b for b in latency[a] if (a, b) not in representatives)
    assert links[a][b].p == pytest.approx(cluster.link(a, b).latency + 0.0003, rel=1e-6)


def test_a_pair_model_follows_its_representatives_median_wire_time_at_each_size() -> None:
    # Three representatives of one region pair, fitted from one noisy probe per size:
    # one exact (100 MB/s), one tilted (too little q, too much r: right at 1 MiB only),
    # one slow (a busy host: 70% more wire time at 1 MiB). The median of q (the exact
    # one's) with the median of r (the others') would put the pair 70% off at 1 MiB; the
    # median wire time at each size is the exact curve.
    cluster, groups = cluster_and_groups(24)
    nodes = cluster.node_names
    plan = SampledPlan(groups, "region", {}, choose_representatives(groups, 3, seed=1))
    mib = 1024 * KIB
    sizes = [4 * KIB, 32 * KIB, 256 * KIB, mib]
    q = 1e-8
    tilts = [(q, 0.0), (0.3 * q, 0.7 * q / mib), (q, 0.7 * q / mib)]
    pair = next(
        key
        for key, links in plan.representatives.items()
        if len(links) == 3 and len(set(key.split("->"))) == 2
    )
    measured: dict[str, dict[str, LinkProfile]] = {}
    for (a, b), (q_fit, r_fit) in zip(plan.representatives[pair], tilts, strict=True):
        fit = LinkProfile(p=0.05, q=q_fit, r=r_fit, samples=4, sizes=sizes)
        measured.setdefault(a, {})[b] = fit
    links, _ = infer_links(nodes, plan, measured, set(), seed=0)
    g, h = pair.split("->")
    a, b = next((a, b) for a in groups[g] for b in groups[h] if b not in measured.get(a, {}))
    inferred = links[a][b]
    assert inferred.bandwidth_source == "inferred"
    assert inferred.bandwidth == pytest.approx(1 / q, rel=0.02)
    assert inferred.q == pytest.approx(q, rel=0.02)


def test_one_region_is_grouped_by_coordinates() -> None:
    """Two far-apart halves in one region: k-means on the coordinates finds them."""
    nodes = [f"n{i}" for i in range(16)]
    half = {node: i < 8 for i, node in enumerate(nodes)}
    fits = {
        a: {
            b: LinkProfile(p=0.001 if half[a] == half[b] else 0.05, q=0, samples=1, sizes=[4096])
            for b in nodes[(i + 1) % 16 :: 3]
            if b != a
        }
        for i, a in enumerate(nodes)
    }
    groups = coordinate_groups(nodes, fits, seed=0)
    for members in groups.values():
        assert len({half[node] for node in members}) == 1
    assert len(groups) >= 2


def test_a_refreshed_latency_only_fit_keeps_the_inferred_bandwidth() -> None:
    inferred = LinkProfile(p=0.01, q=1e-7, samples=2, sizes=SIZES, bandwidth_source="inferred")
    later = LinkProfile(p=0.0125, q=0, samples=4, sizes=[4096], fitted_at=5.0)
    merged = merge_refreshed(inferred, later)
    assert merged.q == inferred.q and merged.bandwidth_source == "inferred"
    assert merged.p == pytest.approx(0.0125 - 1e-7 * 4096)
    assert (merged.samples, merged.fitted_at) == (4, 5.0)
    resolved = LinkProfile(p=0.011, q=2e-7, samples=8, sizes=SIZES)
    assert merge_refreshed(inferred, resolved) is resolved
    assert merge_refreshed(None, later) is later


def test_jupiter_profile_says_what_was_sampled() -> None:
    from io import StringIO

    from rich.console import Console

    from jupiter.cli.profile import print_profile
    from jupiter.profiler.model import Profile

    cluster, groups = cluster_and_groups(30)
    nodes = cluster.node_names
    latency = choose_latency_peers(nodes, groups, count=8, seed=0)
    plan = SampledPlan(groups, "region", latency, choose_representatives(groups, 2, seed=1))
    measured: dict[str, dict[str, LinkProfile]] = {}
    for a, row in latency.items():
        for b in row:
            measured.setdefault(a, {})[b] = probe(cluster, a, b, SIZES[:1])
    for a, b in plan.representative_links:
        measured.setdefault(a, {})[b] = probe(cluster, a, b, SIZES)
    held = hold_out(latency, plan.representative_links, 0.2, seed=0)
    links, inference = infer_links(nodes, plan, measured, held, seed=0)
    profile = Profile(
        app="x",
        tasks=[],
        nodes=nodes,
        emulated=True,
        created_at=0.0,
        links=links,
        network_inference=inference,
    )
    out = StringIO()
    print_profile(profile, Console(file=out, width=200))
    text = out.getvalue()
    assert f"links: {30 * 29} of {30 * 29} fitted" in text
    assert f"sampled: {inference.measured_links} links probed" in text
    assert "held-out error median" in text and "from 64 region pairs" in text
    assert "not resolved" not in text
