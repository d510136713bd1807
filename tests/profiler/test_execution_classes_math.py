"""Execution profiles per class, without agents: which nodes time the tasks, the speed
scaling that fills the matrix, and the runtime EWMA that refines it."""

from __future__ import annotations

import pytest

from jupiter.cluster.spec import Cluster
from jupiter.controller.task_controller import NodeFactors
from jupiter.mapper.problem import SchedulingProblem
from jupiter.profiler.classes import (
    HOST_CLASS,
    members,
    node_classes,
    pick_timed,
    spread,
)
from jupiter.profiler.model import Profile
from jupiter.profiler.refine import RuntimeFigures, ewma, from_profile


def cluster(nodes: list[tuple[str, float, str | None]], emulate: bool = True) -> Cluster:
    return Cluster.from_dict(
        {
            "nodes": [
                {"name": name, "region": "sfo", "speed": speed, "class": kind}
                for name, speed, kind in nodes
            ],
            "emulate": emulate,
        }
    )


THREE_CLASSES = cluster(
    [
        ("a1", 1.0, "cpu-a"),
        ("a2", 0.5, "cpu-a"),
        ("a3", 0.8, "cpu-a"),
        ("a4", 0.25, "cpu-a"),
        ("b1", 0.6, "cpu-b"),
        ("b2", 0.3, "cpu-b"),
        ("g1", 0.7, "gpu"),
    ]
)


def test_a_node_without_class_is_this_host_when_emulated_and_its_own_class_otherwise() -> None:
    nodes = [("x", 1.0, None), ("y", 0.5, None), ("z", 0.5, "pi")]
    assert node_classes(cluster(nodes)) == {"x": HOST_CLASS, "y": HOST_CLASS, "z": "pi"}
    assert node_classes(cluster(nodes, emulate=False)) == {"x": "own:x", "y": "own:y", "z": "pi"}
    # An agent started by hand somewhere (the hosts backend) is not this host.
    started = Cluster.from_dict(
        {
            "nodes": [
                {"name": "x", "region": "sfo"},
                {"name": "h", "region": "sfo", "address": "h:7100"},
            ]
        }
    )
    assert node_classes(started) == {"x": HOST_CLASS, "h": "own:h"}


def test_per_class_times_the_slowest_and_fastest_of_each_class() -> None:
    classes = node_classes(THREE_CLASSES)
    assert pick_timed(THREE_CLASSES, classes, 2, "per-class") == {
        "cpu-a": ["a1", "a4"],
        "cpu-b": ["b1", "b2"],
        "gpu": ["g1"],
    }
    # Three of four: the slowest, one between, the fastest.
    assert pick_timed(THREE_CLASSES, classes, 3, "per-class")["cpu-a"] == ["a1", "a3", "a4"]
    assert pick_timed(THREE_CLASSES, classes, 1, "per-class")["cpu-a"] == ["a2"]
    assert pick_timed(THREE_CLASSES, classes, 2, "every-node") == members(classes)
    with pytest.raises(ValueError, match="at least one node per class"):
        pick_timed(THREE_CLASSES, classes, 0, "per-class")


def test_spread_scales_the_class_figure_by_speed_and_says_where_each_came_from() -> None:
    classes = node_classes(THREE_CLASSES)
    # Seconds per run at speed 1: cpu-a 0.2 and 0.24 by its two timed nodes, cpu-b 0.3, gpu 0.05.
    timed = {
        "a1": {"t": 0.2},
        "a4": {"t": 0.24 / 0.25},
        "b1": {"t": 0.3 / 0.6},
        "b2": {"t": 0.3 / 0.3},
        "g1": {"t": 0.05 / 0.7},
    }
    compute, sources = spread(["t"], THREE_CLASSES, classes, timed)
    row = compute["t"]
    assert list(row) == THREE_CLASSES.node_names
    # Timed nodes keep their own figure.
    for node, figures in timed.items():
        assert row[node] == figures["t"]
        assert sources["t"][node] == "measured"
    # The others: the class's median seconds at speed 1 (0.22 for cpu-a), over their speed.
    assert row["a2"] == pytest.approx(0.22 / 0.5)
    assert row["a3"] == pytest.approx(0.22 / 0.8)
    assert sources["t"]["a2"] == sources["t"]["a3"] == "from-class"
    assert [sources["t"][n] for n in ("b1", "b2", "g1")] == ["measured"] * 3
    with pytest.raises(ValueError, match="no node of class 'gpu' timed task 't'"):
        spread(["t"], THREE_CLASSES, classes, {k: v for k, v in timed.items() if k != "g1"})


def test_ewma_moves_a_figure_by_alpha_of_each_sample() -> None:
    assert ewma(None, 2.0, 0.3) == 2.0
    assert ewma(1.0, 2.0, 0.3) == pytest.approx(1.3)
    figures = RuntimeFigures.seeded(
        {"t": {"a": 1.0, "b": 4.0}}, {"t": {"b": "from-class"}}, alpha=0.5
    )
    records = [
        {"task": "t", "node": "a", "input_id": k, "duration": d, "finish": 10.0 - k, "failed": None}
        for k, d in enumerate([3.0, 2.0])
    ]
    # Learned in order of finish: 2.0 (input 1) first, then 3.0.
    assert figures.learn(records) == 2
    assert figures.seconds["t"]["a"] == pytest.approx((1.0 + 0.5 * 1.0) + 0.5 * 1.5)
    # The same records again, a failed one, a retried one and an unknown task teach nothing.
    more = [
        *records,
        {"task": "t", "node": "b", "input_id": 5, "duration": 1.0, "finish": 1.0, "failed": "x"},
        {"task": "t", "node": "b", "input_id": 6, "duration": 9.0, "finish": 2.0, "attempts": 2},
        {"task": "u", "node": "b", "input_id": 7, "duration": 1.0, "finish": 3.0},
    ]
    assert figures.learn(more) == 0
    assert figures.sources == {"t": {"a": "learned", "b": "from-class"}}
    assert figures.samples == {"t": {"a": 2}}
    assert figures.profiled == {"t": {"a": 1.0, "b": 4.0}}
    assert figures.counts() == {"learned": 1, "from-class": 1}
    with pytest.raises(ValueError, match="alpha"):
        RuntimeFigures.seeded({}, alpha=0.0)


def test_a_profile_before_classes_counts_every_figure_measured() -> None:
    profile = Profile(
        app="x", tasks=["t"], nodes=["a"], emulated=True, created_at=0.0, compute={"t": {"a": 1.0}}
    )
    figures = from_profile(profile)
    assert figures is not None and figures.sources == {"t": {"a": "measured"}}
    assert from_profile(profile.model_copy(update={"compute": {}})) is None
    # Seeded with the figures as the run uses them (rescaled to its clock), the profile's
    # tasks only (not the sources the problem adds).
    run_figures = from_profile(profile, {"t": {"a": 2.0}, "input": {"a": 0.0}})
    assert run_figures is not None and run_figures.seconds == {"t": {"a": 2.0}}


def test_the_controller_takes_learned_figures_relative_to_their_node() -> None:
    problem = SchedulingProblem(
        tasks=["t", "u"],
        nodes=["a", "b", "c"],
        compute={"t": {"a": 1.0, "b": 1.0, "c": 1.0}, "u": {"a": 2.0, "b": 2.0, "c": 2.0}},
        edges=[],
        links={},
    )
    factors = NodeFactors(alpha=1.0)
    figures = RuntimeFigures.seeded(problem.compute, alpha=1.0)
    # Nothing learned and no factor yet: the problem as it was.
    assert factors.scaled(problem, figures) is problem

    def runs(task: str, node: str, durations: list[float], first: int) -> list[dict[str, object]]:
        return [
            {
                "task": task,
                "node": node,
                "input_id": first + k,
                "start": 100.0 + first + k,
                "finish": 100.0 + first + k + d,
                "duration": d,
            }
            for k, d in enumerate(durations)
        ]

    def learn(records: list[dict[str, object]]) -> SchedulingProblem:
        factors.learn(records, problem.compute)
        figures.learn(records)
        return factors.scaled(problem, figures)

    # t runs on a in 2 s where 1 s was planned: the stream's seconds are twice the plan's
    # there, for every task alike; relative to that, t is as planned. u learned on c from
    # too few runs: not used.
    records = runs("t", "a", [2.0] * 5, 0) + runs("u", "c", [9.0] * 2, 10)
    refreshed = learn(records)
    assert figures.sources["t"]["a"] == figures.sources["u"]["c"] == "learned"
    assert refreshed.compute["t"] == {"a": pytest.approx(1.0), "b": 1.0, "c": 1.0}
    assert refreshed.compute["u"] == {"a": pytest.approx(2.0), "b": 2.0, "c": 2.0}
    # Then a slows down 5x: t there learned so, u there scaled by a's factor.
    refreshed = learn(records + runs("t", "a", [10.0], 5))
    assert factors.factors == {"a": pytest.approx(5.0)}
    assert refreshed.compute["t"] == {"a": pytest.approx(5.0), "b": 1.0, "c": 1.0}
    assert refreshed.compute["u"] == {"a": pytest.approx(10.0), "b": 2.0, "c": 2.0}
    # Without runtime figures, the factors alone, as before.
    assert factors.scaled(problem).compute == refreshed.compute
    # On b, t runs as planned and then u three times slower than planned: b's factor says
    # b is 3x slower for everything; the learned figures say it is u alone.
    records += runs("t", "a", [10.0], 5) + runs("t", "b", [1.0] * 5, 20)
    refreshed = learn(records + runs("u", "b", [6.0] * 5, 30))
    assert factors.factors["b"] == pytest.approx(3.0)
    assert refreshed.compute["t"]["b"] == pytest.approx(1.0)
    assert refreshed.compute["u"]["b"] == pytest.approx(6.0)
    assert factors.scaled(problem).compute["t"]["b"] == pytest.approx(3.0)
