"""The per-link probing budget: a burst, then at most `share` of the link's time."""

from __future__ import annotations

import os
import random

import pytest

from jupiter.profiler.home import ProfileSettings, shared_host_cores
from jupiter.profiler.network import LinkBudget


def test_burst_then_share() -> None:
    budget = LinkBudget(share=0.05, burst=1.0)
    now = budget.updated
    assert budget.wait_seconds(now) == 0.0
    budget.spend(0.8, now)
    assert budget.wait_seconds(now) == 0.0  # still within the burst
    budget.spend(0.7, now)
    # 0.5 s in debt at 0.05 s per second: ten seconds before the link may be probed again.
    assert budget.wait_seconds(now) == pytest.approx(10.0)
    assert budget.wait_seconds(now + 10.0) == pytest.approx(0.0)
    # Refills never exceed the burst, however long the link was idle.
    budget.wait_seconds(now + 1e6)
    assert budget.tokens == pytest.approx(1.0)


def test_link_time_used_never_exceeds_burst_plus_share() -> None:
    share, burst = 0.05, 2.0
    budget = LinkBudget(share, burst)
    rng = random.Random(3)
    start = now = budget.updated
    used = 0.0
    largest = 0.0
    for _ in range(500):
        now += budget.wait_seconds(now)  # the prober waits as told
        occupied = rng.uniform(0.0, 0.4)
        largest = max(largest, occupied)
        budget.spend(occupied, now)
        used += occupied
        elapsed = now - start
        assert used <= burst + share * elapsed + largest + 1e-9
        now += occupied
    # And over the long run the share is what the link gives up.
    assert used / (now - start) < share * 1.2


def test_the_first_round_takes_what_its_budgets_allow() -> None:
    sizes = [4096, 32768, 262144, 1048576]
    settings = ProfileSettings(sizes=sizes, first_round_probes=12_000, first_round_bytes=200 << 20)
    # 8 nodes: every size, twice.
    assert settings.first_round(56) == (sizes, 2)
    # Bytes run short: every size once, then the largest size goes.
    assert settings.first_round(80) == (sizes, 1)
    assert settings.first_round(240) == (sizes[:3], 2)
    # 106 nodes: probes run short; one size per link, latency first.
    assert settings.first_round(106 * 105) == ([4096], 1)
    assert settings.first_round(50 * 49) == (sizes[:2], 2)
    # What the user asks for, as asked.
    settings.first_sizes, settings.first_repeats = [65536, 4096], 3
    assert settings.first_round(106 * 105) == ([4096, 65536], 3)


def test_plans_rotate_peers_and_spread_rounds() -> None:
    nodes = [f"n{i}" for i in range(5)]
    urls = {node: f"http://{node}" for node in nodes}
    settings = ProfileSettings(interval=10.0, in_flight=10, per_node_concurrency=4)
    plans = [settings.plan_for(i, nodes, urls) for i in range(5)]
    assert [peer for peer, _ in plans[0].peers] == ["n1", "n2", "n3", "n4"]
    assert [peer for peer, _ in plans[3].peers] == ["n4", "n0", "n1", "n2"]
    # At each step every node is the target of exactly one sender.
    for step in range(4):
        assert sorted(plan.peers[step][0] for plan in plans) == sorted(nodes)
    assert [plan.phase for plan in plans] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert all(plan.concurrency == 2 for plan in plans)  # 10 in flight over 5 nodes


def test_probing_is_paced_to_the_cores_agents_sharing_this_machine_leave() -> None:
    # Agents on their own machines: the configured rate.
    assert ProfileSettings(probe_rate=500.0).effective_probe_rate() == 500.0
    # All on this one: 0.6 of the idle cores at 4 ms of CPU a probe.
    assert ProfileSettings(probe_rate=500.0, shared_cores=2.0).effective_probe_rate() == (
        pytest.approx(300.0)
    )
    assert ProfileSettings(probe_rate=100.0, shared_cores=2.0).effective_probe_rate() == 100.0
    assert ProfileSettings(probe_rate=None, shared_cores=1.0).effective_probe_rate() == (
        pytest.approx(150.0)
    )
    # A saturated host still probes, slowly.
    assert ProfileSettings(shared_cores=0.0).effective_probe_rate() == 20.0


def test_the_sampled_plan_spaces_each_nodes_probes_by_the_effective_rate() -> None:
    settings = ProfileSettings(probe_rate=500.0, shared_cores=1.0)
    plan = settings.plan_for(0, ["a", "b", "c"], {n: f"http://{n}" for n in "abc"})
    # Three nodes share 150 probes a second: 50 each, one every 20 ms.
    assert plan.spacing == pytest.approx(3 / 150)


def test_the_idle_cores_of_this_machine_are_between_none_and_all() -> None:
    cores = shared_host_cores(sample_s=0.1)
    assert 0.0 <= cores <= len(os.sched_getaffinity(0))


def test_representatives_take_every_size_twice_only_on_large_clusters() -> None:
    settings = ProfileSettings(first_round_bytes=256 << 20)
    assert settings.representative_budget(106) == 256 << 20
    assert settings.representative_budget(1000) == 640 << 20
    # 192 representative links of 4 sizes up to 1 MiB: once at 106 nodes, twice at 1,000.
    sizes = [4096, 32768, 262144, 1048576]
    with_sizes = ProfileSettings(sizes=sizes)
    assert with_sizes.first_round(192, with_sizes.representative_budget(106)) == (sizes, 1)
    assert with_sizes.first_round(192, with_sizes.representative_budget(1000)) == (sizes, 2)
    # Set, it holds at any size.
    assert ProfileSettings(representative_bytes=1 << 20).representative_budget(1000) == 1 << 20


def test_the_latency_phase_repeats_its_probes_while_they_fit_in_its_time() -> None:
    # 1,060 latency links of 4 KiB (106 nodes): three probes each at 500/s take 6.4 s,
    # within the phase's 8 s; at 300/s (two idle cores shared) only two fit.
    free = ProfileSettings(probe_rate=500.0)
    assert free.sampled_repeats(1060, [4096], 256 << 20, bandwidth=False) == 3
    shared = ProfileSettings(probe_rate=500.0, shared_cores=2.0)
    assert shared.sampled_repeats(1060, [4096], 256 << 20, bandwidth=False) == 2
    # 10,000 links (1,000 nodes): one.
    assert shared.sampled_repeats(10_000, [4096], 256 << 20, bandwidth=False) == 1
    # The bandwidth phase is held by its bytes, not its time: twice when they fit.
    sizes = [4096, 32768, 262144, 1048576]
    assert shared.sampled_repeats(192, sizes, 640 << 20, bandwidth=True) == 2
    assert shared.sampled_repeats(192, sizes, 256 << 20, bandwidth=True) == 1
