"""Every registered algorithm yields a valid schedule, on random problems and real traces."""

from __future__ import annotations

from itertools import pairwise

import pytest
from mapper_cases import TRACES, random_case, reference_heft

from jupiter.mapper import heft
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.from_workflow import problem_from_trace
from jupiter.mapper.metrics import critical_path_lower_bound
from jupiter.mapper.random_dag import random_problem
from jupiter.mapper.ranks import by_decreasing, upward_ranks
from jupiter.mapper.registry import BUILTIN, get_mapper

ALGORITHMS = list(BUILTIN)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_valid_on_300_random_problems(algorithm):
    mapper = get_mapper(algorithm)
    for seed in range(300):
        problem = random_case(seed)
        schedule = mapper(problem)
        schedule.check(problem)
        # Nothing beats the critical path at full speed with free transfers.
        assert schedule.makespan >= critical_path_lower_bound(problem) * (1 - 1e-9)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_valid_on_paper_style_random_dags(algorithm):
    mapper = get_mapper(algorithm)
    for seed, (v, alpha, out_degree, ccr) in enumerate(
        [(20, 0.5, 1, 0.1), (60, 1.0, 3, 1.0), (100, 2.0, 5, 10.0), (40, 1.0, 40, 5.0)]
    ):
        problem = random_problem(v, 7, ccr=ccr, alpha=alpha, out_degree=out_degree, seed=seed)
        mapper(problem).check(problem)


@pytest.mark.parametrize("trace", TRACES, ids=lambda p: p.stem)
def test_valid_on_every_trace(trace):
    problem = problem_from_trace(trace, nodes=16, seed=3)
    capped = problem_from_trace(trace, nodes=16, seed=3)
    capped.max_tasks_per_node = -(-len(problem.tasks) // 16)
    for algorithm in ALGORITHMS:
        mapper = get_mapper(algorithm)
        mapper(problem).check(problem)
        mapper(capped).check(capped)


def test_there_are_18_traces():
    assert len(TRACES) == 18


def test_heft_equals_a_plain_reference_implementation():
    # Integer costs make every sum exact, so both must agree to the last bit, ties included.
    for seed in range(200):
        problem = random_case(seed, integral=True, constrained=False)
        fast, slow = heft.schedule(problem), reference_heft(problem)
        assert fast.assignments == {
            t: type(a)(a.task, a.node, a.start, a.finish) for t, a in slow.assignments.items()
        }, seed


def test_heft_equals_the_reference_on_a_dense_paper_dag():
    # Many tasks per node exercise the insertion search and its pruning.
    problem = random_problem(120, 4, ccr=0.5, out_degree=4, seed=11)
    fast, slow = heft.schedule(problem), reference_heft(problem)
    assert fast.mapping == slow.mapping
    for task, a in fast.assignments.items():
        assert a.start == pytest.approx(slow.assignments[task].start, rel=1e-12, abs=1e-9)


def test_heft_inserts_into_gaps():
    # On this dense DAG some task placed later must run before a task placed earlier on
    # the same node, or the insertion policy is not exercised by the test above.
    problem = random_problem(120, 4, ccr=0.5, out_degree=4, seed=11)
    arrays = compile_problem(problem)
    placed = {arrays.tasks[t]: i for i, t in enumerate(by_decreasing(upward_ranks(arrays), arrays))}
    schedule = heft.schedule(problem)
    inserted = sum(
        1
        for lane in schedule.by_node().values()
        for earlier, later in pairwise(lane)
        if placed[earlier.task] > placed[later.task]
    )
    assert inserted > 0
