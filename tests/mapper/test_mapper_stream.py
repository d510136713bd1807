"""The stream-aware mapper: hand-derived periods, never worse than HEFT, the makespan bound,
partial schedules and pins, determinism, and its incremental move evaluation."""

from __future__ import annotations

import random

import numpy as np
import pytest
from mapper_cases import TRACES, random_case

from jupiter.mapper import heft, stream
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.from_workflow import problem_from_trace
from jupiter.mapper.partial import PartialScheduleError
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.random_dag import random_problem
from jupiter.mapper.registry import get_mapper
from jupiter.mapper.simulate import simulate


def uniform(
    tasks: list[str], nodes: list[str], edges: list[Edge], link: LinkModel, **extra: object
) -> SchedulingProblem:
    """Every task 1 s on every node, every link the same model."""
    problem = SchedulingProblem(
        tasks=tasks,
        nodes=nodes,
        compute={t: dict.fromkeys(nodes, 1.0) for t in tasks},
        edges=edges,
        links={a: {b: link for b in nodes if b != a} for a in nodes},
        **extra,  # type: ignore[arg-type]
    )
    problem.validate()
    return problem


def chain() -> SchedulingProblem:
    # a -> b -> c -> d, no bytes, 0.5 s latency: HEFT keeps the chain on n0 (makespan 4,
    # period 4). Splitting it two and two costs one latency: makespan 4.5, period 2.
    edges = [Edge("a", "b", 0.0), Edge("b", "c", 0.0), Edge("c", "d", 0.0)]
    return uniform(["a", "b", "c", "d"], ["n0", "n1"], edges, LinkModel(0.5, 0.0))


def fan() -> SchedulingProblem:
    # a (pinned n0) sends 2 bytes to c and to d; each sends 3 bytes to b (pinned n1); 1 s
    # per byte on every link, no latency. HEFT: c and d on n0 (a [0,1], c [1,2], d [2,3],
    # b [6,7]): the link n0 -> n1 carries 3 + 3 bytes, period 6, makespan 7.
    edges = [Edge("a", "c", 2.0), Edge("a", "d", 2.0), Edge("c", "b", 3.0), Edge("d", "b", 3.0)]
    return uniform(
        ["a", "b", "c", "d"],
        ["n0", "n1", "n2"],
        edges,
        LinkModel(0.0, 1.0),
        pinned={"a": "n0", "b": "n1"},
    )


def test_period_of_a_mapping_is_its_busiest_node_or_link() -> None:
    problem = fan()
    on_n0 = {"a": "n0", "c": "n0", "d": "n0", "b": "n1"}
    assert stream.bottleneck(problem, on_n0) == stream.Bottleneck(("n0", "n1"), 6.0)
    spread = {"a": "n0", "c": "n2", "d": "n1", "b": "n1"}
    # n0 -> n2: 2 bytes, n2 -> n1: 3, n0 -> n1: 2; nodes 1, 2 and 1 s.
    assert stream.bottleneck(problem, spread) == stream.Bottleneck(("n2", "n1"), 3.0)
    everything = dict.fromkeys("abcd", "n0")
    assert stream.bottleneck(chain(), everything) == stream.Bottleneck("n0", 4.0)


def test_latency_delays_but_does_not_occupy_a_link() -> None:
    problem = chain()
    split = {"a": "n0", "b": "n0", "c": "n1", "d": "n1"}
    assert stream.period(problem, split) == 2.0  # the n0 -> n1 link: 0 s, latency aside


def test_chain_is_split_within_the_default_bound() -> None:
    problem = chain()
    seed = heft.schedule(problem)
    assert seed.mapping == dict.fromkeys("abcd", "n0") and seed.makespan == 4.0
    # Moving a or d to n1 costs one latency (makespan 4.5); a is listed first. Then b joins
    # a (4.5 again); c would cross twice (5.5 > 5). Both nodes at 2 s: no move helps.
    result = stream.schedule(problem)
    result.check(problem)
    assert result.mapping == {"a": "n1", "b": "n1", "c": "n0", "d": "n0"}
    assert result.makespan == 4.5
    assert stream.period(problem, result.mapping) == 2.0


@pytest.mark.parametrize("slack", [0.0, 0.1])
def test_chain_stays_whole_when_the_bound_forbids_a_crossing(slack: float) -> None:
    problem = chain()
    result = stream.schedule(problem, slack=slack)
    assert result.mapping == heft.schedule(problem).mapping
    assert result.makespan == 4.0 and stream.period(problem, result.mapping) == 4.0


def test_fan_relieves_the_bottleneck_link() -> None:
    problem = fan()
    assert stream.period(problem, heft.schedule(problem).mapping) == 6.0
    # c -> n1 (makespan 6, period 5), d -> n1 (6, link 4), c -> n2 (a [0,1], c [3,4] on
    # n2, b waits for its 3 bytes until 7: makespan 8 <= 1.25 x 7): n2 -> n1 at 3 s.
    result = stream.schedule(problem)
    result.check(problem)
    assert result.mapping == {"a": "n0", "b": "n1", "c": "n2", "d": "n1"}
    assert result.makespan == 8.0
    assert stream.bottleneck(problem, result.mapping) == stream.Bottleneck(("n2", "n1"), 3.0)


def test_fan_with_no_slack_improves_both_period_and_makespan() -> None:
    problem = fan()
    # The third move would take the makespan to 8 > 7: it stops with c and d on n1.
    result = stream.schedule(problem, slack=0.0)
    assert result.mapping == {"a": "n0", "b": "n1", "c": "n1", "d": "n1"}
    assert result.makespan == 6.0 < heft.schedule(problem).makespan
    assert stream.period(problem, result.mapping) == 4.0


def test_ties_at_the_period_are_broken_one_node_at_a_time() -> None:
    # Two free chains of two 1 s tasks on four nodes: HEFT keeps each chain on one node
    # (a, b on n0; c, d on n1), so two nodes share the period of 2 and no single move
    # lowers it; each move lowers the number of nodes at it, and then the period falls.
    tasks = ["a", "b", "c", "d"]
    problem = uniform(
        tasks,
        ["n0", "n1", "n2", "n3"],
        [Edge("a", "b", 0.0), Edge("c", "d", 0.0)],
        LinkModel(0.0, 0.0),
    )
    seed = heft.schedule(problem)
    assert seed.mapping == {"a": "n0", "b": "n0", "c": "n1", "d": "n1"}
    assert stream.period(problem, seed.mapping) == 2.0
    result = stream.schedule(problem)
    assert stream.period(problem, result.mapping) == 1.0
    assert len(set(result.mapping.values())) == 4


def test_never_a_worse_period_than_heft_and_the_bound_holds() -> None:
    for seed in range(300):
        problem = random_case(seed)
        base = heft.schedule(problem)
        reference = simulate(problem, base.mapping, "heft").makespan
        for slack in (0.0, 0.25):
            result = stream.schedule(problem, slack=slack)
            result.check(problem)
            assert stream.period(problem, result.mapping) <= stream.period(problem, base.mapping)
            assert result.makespan <= (1 + slack) * reference, (seed, slack)


def test_traces_and_a_paper_dag() -> None:
    problems = [problem_from_trace(path, nodes=16) for path in TRACES[:4]]
    problems.append(random_problem(100, 8, ccr=1.0, alpha=1.0, out_degree=3, seed=5))
    for problem in problems:
        base = heft.schedule(problem)
        result = stream.schedule(problem)
        result.check(problem)
        reference = simulate(problem, base.mapping, "heft").makespan
        assert result.makespan <= 1.25 * reference
        assert stream.period(problem, result.mapping) <= stream.period(problem, base.mapping)


def test_partial_schedules_and_pins_hold() -> None:
    problem = fan()
    full = stream.schedule(problem)
    kept = {task: node for task, node in full.mapping.items() if node != "n2"}
    after = stream.schedule(problem, existing=kept, exclude=["n2"])
    after.check(problem, existing=kept, exclude=["n2"])
    assert after.mapping["c"] in {"n0", "n1"}
    for seed in range(100):
        case = random_case(seed)
        if len(case.nodes) < 2:
            continue
        lost = case.nodes[-1]
        if lost in case.pinned.values():
            continue
        existing = {t: n for t, n in heft.schedule(case).mapping.items() if n != lost}
        existing = dict(list(existing.items())[::2])  # half kept, the rest displaced
        try:
            result = stream.schedule(case, existing=existing, exclude=[lost])
        except PartialScheduleError as error:  # a cap the survivors cannot hold
            assert "cannot hold" in str(error), seed
            continue
        result.check(case, existing=existing, exclude=[lost])


def test_registered_and_deterministic() -> None:
    mapper = get_mapper("stream")
    problem = random_problem(60, 12, ccr=2.0, alpha=1.0, out_degree=3, seed=3)
    assert mapper(problem).assignments == mapper(problem).assignments
    assert mapper(problem).algorithm == "stream"


def test_a_negative_slack_is_refused() -> None:
    with pytest.raises(ValueError, match="slack"):
        stream.schedule(chain(), slack=-0.1)


def test_incremental_moves_match_a_fresh_count() -> None:
    # Every move the search calls an improvement is one when the loads are recounted from
    # scratch, and every recounted improvement is found: links shared by a parent and a
    # child of the moved task, quadratic terms, caps and pins included.
    for seed in range(120):
        problem = random_case(seed)
        a = compile_problem(problem)
        rng = random.Random(seed)
        node_of = [
            int(a.pinned[t]) if a.pinned[t] >= 0 else rng.randrange(a.n_nodes)
            for t in range(a.n_tasks)
        ]
        search = stream._Search(a, node_of)
        period = float(search.load.max())
        if period <= 0.0:
            continue
        floor = period * (1 - stream.RELATIVE_TOLERANCE)
        at = int(np.count_nonzero(search.load >= floor))
        top = np.argsort(-search.load, kind="stable")[: at + stream.TOP_LOADS].tolist()
        for t in range(a.n_tasks):
            if a.pinned[t] >= 0:
                continue
            better, new_period = search._moves(t, period, floor, at, top)
            for x in range(a.n_nodes):
                if x == node_of[t] or (a.cap is not None and search.count[x] >= a.cap):
                    assert not better[x]
                    continue
                moved = stream._Search(a, [x if i == t else n for i, n in enumerate(node_of)])
                fresh = float(moved.load.max())
                improves = fresh < floor or np.count_nonzero(moved.load >= floor) < at
                assert bool(better[x]) == improves, (seed, t, x)
                if fresh < floor:
                    assert new_period[x] == pytest.approx(fresh, rel=1e-9, abs=1e-12)
