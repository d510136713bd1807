"""The HEFT-paper random DAG generator, synthetic networks, and the baselines."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from jupiter.mapper import fastest, random_mapper, round_robin
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.network import link_from_latency_bandwidth, random_network
from jupiter.mapper.random_dag import random_levels, random_problem


def graph(problem):
    g = nx.DiGraph()
    g.add_nodes_from(problem.tasks)
    g.add_edges_from((e.src, e.dst) for e in problem.edges)
    return g


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_shape_parameter_sets_height_and_width(alpha):
    v = 400
    heights = [len(random_levels(v, alpha, np.random.default_rng(s))) for s in range(200)]
    expected = math.sqrt(v) / alpha
    assert np.mean(heights) == pytest.approx(expected, rel=0.15)


def test_random_problem_structure():
    problem = random_problem(100, 8, ccr=1.0, alpha=1.0, out_degree=3, beta=0.5, seed=4)
    problem.validate()
    g = graph(problem)
    assert len(problem.tasks) == 100 and len(problem.nodes) == 8
    assert nx.is_directed_acyclic_graph(g)
    # Edges only join adjacent levels, so the levels are the topological generations.
    levels = [sorted(level) for level in nx.topological_generations(g)]
    assert len(levels) > 3
    level_of = {t: k for k, level in enumerate(levels) for t in level}
    for t in problem.tasks:
        k = level_of[t]
        assert all(level_of[c] == k + 1 for c in g.successors(t))  # edges join adjacent levels
        if k + 1 < len(levels):
            assert g.out_degree(t) >= min(3, len(levels[k + 1]))
        assert (g.in_degree(t) == 0) == (k == 0)


def test_random_problem_ccr_and_heterogeneity():
    problem = random_problem(200, 10, ccr=5.0, beta=1.0, mean_compute=40, seed=9)
    compute = np.array([[problem.compute[t][n] for n in problem.nodes] for t in problem.tasks])
    comm = np.mean([e.bytes for e in problem.edges])  # 1 s per byte: bytes = seconds
    assert comm / compute.mean() == pytest.approx(5.0, rel=0.2)
    # beta = 1: each time within w_i * [0.5, 1.5], so a row spans at most a factor 3.
    spread = compute.max(axis=1) / compute.min(axis=1)
    assert spread.max() <= 3 + 1e-9 and spread.max() > 2
    homogeneous = random_problem(50, 4, beta=0.0, seed=1)
    for row in homogeneous.compute.values():
        assert len(set(row.values())) == 1


def test_random_problem_on_a_network_is_related_machines():
    network = random_network(6, seed=2, latency=(0, 0))
    problem = random_problem(80, 6, ccr=1.0, network=network, seed=3)
    problem.validate()
    for row in problem.compute.values():
        ratios = [row[n] * network.speeds[n] for n in network.nodes]
        assert max(ratios) == pytest.approx(min(ratios))
    a = compile_problem(problem)
    mean_comm = np.mean([a.mean_transfer(e.bytes) for e in problem.edges])
    assert mean_comm / a.compute.mean() == pytest.approx(1.0, rel=0.3)


def test_generators_are_deterministic_by_seed():
    assert random_problem(50, 5, seed=1) == random_problem(50, 5, seed=1)
    assert random_problem(50, 5, seed=1) != random_problem(50, 5, seed=2)
    assert random_network(5, seed=1) == random_network(5, seed=1)


def test_network_links_from_latency_and_bandwidth():
    link = link_from_latency_bandwidth(0.02, 1e6)
    assert link.seconds(1e6) == pytest.approx(1.02)
    network = random_network(5, seed=0, latency=(0.01, 0.02), bandwidth=(1e6, 1e7))
    for a in network.nodes:
        assert a not in network.links[a]
        for b, model in network.links[a].items():
            assert model == network.links[b][a]  # symmetric by default
            assert 0.01 <= model.p <= 0.02 and 1e-7 <= model.q <= 1e-6
    asymmetric = random_network(5, seed=0, symmetric=False)
    assert any(
        asymmetric.links[a][b] != asymmetric.links[b][a]
        for a in asymmetric.nodes
        for b in asymmetric.nodes
        if a != b
    )
    with pytest.raises(ValueError):
        link_from_latency_bandwidth(0.1, 0)


def test_fastest_puts_everything_on_the_least_total_compute_node():
    problem = topcuoglu_2002()  # column sums: P1 127, P2 134, P3 143
    schedule = fastest.schedule(problem)
    assert set(schedule.mapping.values()) == {"P1"}
    assert schedule.makespan == 127
    problem.max_tasks_per_node = 4
    capped = fastest.schedule(problem)
    capped.check(problem)
    counts = {n: list(capped.mapping.values()).count(n) for n in problem.nodes}
    assert counts == {"P1": 4, "P2": 4, "P3": 2}


def test_round_robin_takes_nodes_in_turn_in_topological_order():
    problem = topcuoglu_2002()
    mapping = round_robin.schedule(problem).mapping
    order = ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"]  # Kahn, list order
    assert [mapping[t] for t in order] == ["P1", "P2", "P3"] * 3 + ["P1"]


def test_random_mapper_is_seeded():
    problem = random_problem(60, 6, seed=0)
    assert random_mapper.schedule(problem).mapping == random_mapper.schedule(problem).mapping
    assert (
        random_mapper.schedule(problem, seed=1).mapping != random_mapper.schedule(problem).mapping
    )
