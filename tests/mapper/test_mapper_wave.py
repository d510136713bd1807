"""WAVE: the local decision step, the control relation, and the whole-DAG run."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from jupiter.mapper import wave
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.wave_view import LocalView, NodeLoad, candidates, greedy_choice, random_choice


def fixed(seconds: float) -> LinkModel:
    return LinkModel(seconds, 0.0)


def view(**overrides) -> LocalView:
    fields = {
        "node": "me",
        "links": {"me": fixed(0), "a": fixed(1), "b": fixed(14), "c": fixed(16)},
        "load": {"a": NodeLoad(cpu=40), "b": NodeLoad(memory=20), "c": NodeLoad()},
        "data_bytes": 0.0,
    }
    fields.update(overrides)
    return LocalView(**fields)


def test_greedy_takes_least_delay_plus_load_within_15x_the_best_delay():
    # a: 1 + 40 = 41; b: 14 + 20 = 34; c: 16 + 0 = 16 but 16 > 15 * 1, so c is out.
    assert greedy_choice(view()) == "b"
    assert greedy_choice(view(), threshold=20) == "c"
    assert greedy_choice(view(), threshold=1) == "a"


def test_greedy_weights_change_the_balance():
    assert greedy_choice(view(), cpu_weight=0.0) == "a"  # 1 + 0 < 14 + 20


def test_never_the_deciding_node_nor_an_excluded_one():
    v = view(links={"me": fixed(0), "a": fixed(5)}, load={})
    assert candidates(v) == ["a"]
    assert greedy_choice(v) == "a"
    assert greedy_choice(view(excluded=frozenset({"b"}))) == "a"
    lonely = view(links={"me": fixed(0)}, load={})
    assert greedy_choice(lonely) is None
    assert random_choice(lonely, random.Random(0)) is None


def test_ties_go_to_fewer_appointed_then_link_order():
    links = {"x": fixed(1), "y": fixed(1), "z": fixed(1)}
    assert greedy_choice(view(links=links, load={})) == "x"
    assert greedy_choice(view(links=links, load={}, appointed={"x": 1})) == "y"
    assert greedy_choice(view(links=links, load={}, appointed={"x": 1, "y": 1})) == "z"


def test_delay_uses_the_child_data_size():
    # Low latency but slow, versus high latency but fast.
    links = {"near": LinkModel(0.001, 1e-6), "far": LinkModel(0.1, 1e-9)}
    assert greedy_choice(view(links=links, load={}, data_bytes=1e3)) == "near"
    assert greedy_choice(view(links=links, load={}, data_bytes=1e8)) == "far"


def test_zero_best_delay_still_leaves_candidates():
    links = {"a": fixed(0), "b": fixed(0)}
    assert greedy_choice(view(links=links, load={"a": NodeLoad(cpu=3)})) == "b"


def test_decisions_are_pure():
    v = view(appointed={"a": 2})
    assert [greedy_choice(v) for _ in range(3)] == ["b"] * 3
    assert v.appointed == {"a": 2}


def test_random_choice_is_uniform_over_peers_and_seeded():
    v = view()
    picks = Counter(random_choice(v, random.Random(seed)) for seed in range(3000))
    assert set(picks) == {"a", "b", "c"}
    assert min(picks.values()) > 900
    assert random_choice(v, random.Random(7)) == random_choice(v, random.Random(7))


def chain_problem(load=None) -> SchedulingProblem:
    # s1, s2 -> m (two parents) ; s1 -> x ; m -> y
    tasks = ["s1", "s2", "m", "x", "y"]
    nodes = ["n1", "n2", "n3"]
    links = {
        a: {b: LinkModel(0.01 * (i + j + 1), 1e-6) for j, b in enumerate(nodes) if b != a}
        for i, a in enumerate(nodes)
    }
    edges = [Edge("s2", "m", 10), Edge("s1", "m", 10), Edge("s1", "x", 5), Edge("m", "y", 1)]
    return SchedulingProblem(
        tasks, nodes, {t: dict.fromkeys(nodes, 1.0) for t in tasks}, edges, links, load=load or {}
    )


def test_controllers_follow_the_original_rule():
    a = compile_problem(chain_problem())
    ctrl = wave.controllers(a)
    name = {i: t for i, t in enumerate(a.tasks)}
    # m has parents s2, s1 (edge order); neither controls anything yet when m comes
    # first in topological order, so the first parent s2 controls m.
    got = {name[t]: (name[c] if c is not None else None) for t, c in enumerate(ctrl)}
    assert got == {"s1": None, "s2": None, "m": "s2", "x": "s1", "y": "m"}


def test_multi_parent_child_goes_to_a_parent_that_already_controls():
    tasks = ["p", "q", "a", "b"]
    edges = [Edge("q", "a", 1), Edge("p", "b", 1), Edge("q", "b", 1)]
    problem = SchedulingProblem(tasks, ["n"], {t: {"n": 1} for t in tasks}, edges, {})
    a = compile_problem(problem)
    ctrl = wave.controllers(a)
    # b's parents in edge order are p, q; q already controls a, so q controls b.
    assert a.tasks[ctrl[a.task_index["b"]]] == "q"


@pytest.mark.parametrize("run", [wave.schedule_greedy, wave.schedule_classic])
def test_home_places_entry_tasks_by_load_and_spreads_ties(run):
    problem = chain_problem(load={"n1": {"cpu": 90}, "n2": {"cpu": 10}, "n3": {"cpu": 10}})
    mapping = run(problem).mapping
    assert {mapping["s1"], mapping["s2"]} == {"n2", "n3"}


@pytest.mark.parametrize("run", [wave.schedule_greedy, wave.schedule_classic])
def test_children_never_stay_on_the_controller_node(run):
    problem = chain_problem()
    schedule = run(problem)
    schedule.check(problem)
    assert schedule.node_of("x") != schedule.node_of("s1")
    assert schedule.node_of("y") != schedule.node_of("m")


def test_single_node_keeps_everything_home():
    problem = chain_problem()
    problem.nodes = ["n1"]
    problem.compute = {t: {"n1": 1.0} for t in problem.tasks}
    problem.links = {}
    for run in (wave.schedule, wave.schedule_classic, wave.schedule_greedy, wave.schedule_random):
        schedule = run(problem)
        schedule.check(problem)
        assert set(schedule.mapping.values()) == {"n1"}


def test_random_wave_is_deterministic_by_seed():
    problem = chain_problem()
    assert wave.schedule_random(problem).mapping == wave.schedule_random(problem).mapping
    mappings = {
        tuple(sorted(wave.schedule_random(problem, seed=s).mapping.items())) for s in range(20)
    }
    assert len(mappings) > 1


@pytest.mark.parametrize(
    "run", [wave.schedule, wave.schedule_classic, wave.schedule_greedy, wave.schedule_random]
)
def test_pins_and_cap(run):
    problem = chain_problem()
    problem.pinned = {"m": "n1", "y": "n1"}
    problem.max_tasks_per_node = 2
    schedule = run(problem)
    schedule.check(problem)
    assert schedule.node_of("m") == schedule.node_of("y") == "n1"
