"""The default region table and the bandwidth model."""

from __future__ import annotations

import itertools
import math

import pytest

from jupiter.cluster.links import LOCAL, Link, default_link_table
from jupiter.cluster.regions import (
    DEFAULT_REGIONS,
    DEFAULT_RTT_MS,
    INTRA_REGION_RTT_MS,
    NIC_BYTES_PER_SECOND,
    TCP_WINDOW_BYTES,
    default_rtt_ms,
    tcp_bandwidth,
)

KEYS = [region.key for region in DEFAULT_REGIONS]


def test_the_papers_eight_regions() -> None:
    assert KEYS == ["sfo", "nyc", "tor", "ams", "lon", "fra", "sgp", "blr"]
    assert len({region.name for region in DEFAULT_REGIONS}) == 8


def test_table_is_complete_positive_and_nearly_symmetric() -> None:
    pairs = [(a, b) for a, b in itertools.product(KEYS, KEYS) if a != b]
    assert set(DEFAULT_RTT_MS) == set(pairs)
    for a, b in pairs:
        forward, back = DEFAULT_RTT_MS[(a, b)], DEFAULT_RTT_MS[(b, a)]
        assert forward > 0
        assert abs(forward - back) <= max(2.0, 0.1 * max(forward, back)), (a, b)


def test_table_agrees_with_geography() -> None:
    # Sanity anchors a transcription slip would break.
    assert DEFAULT_RTT_MS[("ams", "lon")] < 20
    assert DEFAULT_RTT_MS[("nyc", "tor")] < 30
    assert DEFAULT_RTT_MS[("sgp", "blr")] < 60
    assert 60 < DEFAULT_RTT_MS[("sfo", "nyc")] < 90
    assert all(DEFAULT_RTT_MS[("nyc", far)] > 200 for far in ("sgp", "blr"))
    for a, b, c in itertools.permutations(KEYS, 3):
        # No detour through a third region is much faster than the direct path.
        direct = DEFAULT_RTT_MS[(a, c)]
        assert DEFAULT_RTT_MS[(a, b)] + DEFAULT_RTT_MS[(b, c)] > 0.8 * direct, (a, b, c)


def test_intra_region_and_unknown_pairs() -> None:
    assert default_rtt_ms("lon", "lon") == INTRA_REGION_RTT_MS
    assert default_rtt_ms("lab", "lab") == INTRA_REGION_RTT_MS
    assert default_rtt_ms("lab", "sfo") is None


def test_bandwidth_model_is_window_over_rtt_capped_at_the_nic() -> None:
    assert tcp_bandwidth(100.0) == pytest.approx(TCP_WINDOW_BYTES / 0.1)
    assert tcp_bandwidth(INTRA_REGION_RTT_MS) == NIC_BYTES_PER_SECOND
    assert tcp_bandwidth(0.0) == NIC_BYTES_PER_SECOND
    # Longer paths are never faster.
    rtts = sorted(DEFAULT_RTT_MS.values())
    rates = [tcp_bandwidth(rtt) for rtt in rtts]
    assert rates == sorted(rates, reverse=True)


def test_link_units_and_transfer_time() -> None:
    link = Link.from_rtt(40.0, 50e6)
    assert link.latency == pytest.approx(0.020)
    assert link.rtt_ms == pytest.approx(40.0)
    assert link.seconds(5_000_000) == pytest.approx(0.020 + 0.1)
    assert Link.from_rtt(150.0).bandwidth == pytest.approx(tcp_bandwidth(150.0))
    assert LOCAL.seconds(10**9) == 0.0 and math.isinf(LOCAL.bandwidth)


def test_links_reject_bad_values() -> None:
    with pytest.raises(ValueError):
        Link(-0.001, 1e6)
    with pytest.raises(ValueError):
        Link(0.01, 0.0)
    with pytest.raises(ValueError):
        Link(math.nan, 1e6)


def test_default_link_table_covers_every_default_pair() -> None:
    table = default_link_table(KEYS)
    for a, b in itertools.product(KEYS, KEYS):
        link = table[a][b]
        rtt = INTRA_REGION_RTT_MS if a == b else DEFAULT_RTT_MS[(a, b)]
        assert link.latency == pytest.approx(rtt / 2000)
    # Custom regions only get their intra-region link by default.
    partial = default_link_table(["sfo", "lab"])
    assert set(partial["lab"]) == {"lab"}
    assert set(partial["sfo"]) == {"sfo"}
