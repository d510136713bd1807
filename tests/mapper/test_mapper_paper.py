"""The worked example of Topcuoglu, Hariri and Wu (TPDS 2002): HEFT 80, CPOP 86."""

from __future__ import annotations

import pytest

from jupiter.mapper import cpop, heft
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.metrics import critical_path_lower_bound
from jupiter.mapper.problem import LinkModel, SchedulingProblem
from jupiter.mapper.ranks import by_decreasing, downward_ranks, upward_ranks

# Fig. 4(a) of the paper: the HEFT schedule, as (task, processor, start, finish).
PAPER_HEFT = {
    ("n1", "P3", 0, 9),
    ("n3", "P3", 9, 28),
    ("n4", "P2", 18, 26),
    ("n2", "P1", 27, 40),
    ("n5", "P3", 28, 38),
    ("n6", "P2", 26, 42),
    ("n9", "P2", 56, 68),
    ("n7", "P3", 38, 49),
    ("n8", "P1", 57, 62),
    ("n10", "P2", 73, 80),
}

# Fig. 4(b): the CPOP schedule; the critical path n1 n2 n9 n10 runs on P2.
PAPER_CPOP = {
    ("n1", "P2", 0, 16),
    ("n2", "P2", 16, 35),
    ("n3", "P1", 28, 39),
    ("n7", "P1", 39, 46),
    ("n4", "P3", 25, 42),
    ("n5", "P2", 35, 48),
    ("n9", "P2", 65, 77),
    ("n6", "P3", 42, 51),
    ("n8", "P3", 54, 68),
    ("n10", "P2", 79, 86),
}

# Table 2 of the paper (upward ranks), and the downward ranks that follow from Fig. 2.
PAPER_UPWARD = [108.0, 77.0, 80.0, 80.0, 69.0, 63.333, 42.667, 35.667, 44.333, 14.667]
DOWNWARD = [0.0, 31.0, 25.0, 22.0, 24.0, 27.0, 62.333, 66.667, 63.667, 93.333]


def as_rows(schedule):
    return {(a.task, a.node, a.start, a.finish) for a in schedule.assignments.values()}


def test_ranks_match_the_paper():
    arrays = compile_problem(topcuoglu_2002())
    assert upward_ranks(arrays) == pytest.approx(PAPER_UPWARD, abs=1e-3)
    assert downward_ranks(arrays) == pytest.approx(DOWNWARD, abs=1e-3)


def test_heft_gives_the_paper_schedule_of_length_80():
    problem = topcuoglu_2002()
    schedule = heft.schedule(problem)
    schedule.check(problem)
    assert schedule.makespan == 80
    assert as_rows(schedule) == PAPER_HEFT


def test_cpop_gives_the_paper_schedule_of_length_86():
    problem = topcuoglu_2002()
    schedule = cpop.schedule(problem)
    schedule.check(problem)
    assert schedule.makespan == 86
    assert as_rows(schedule) == PAPER_CPOP


def test_cpop_critical_path_is_n1_n2_n9_n10():
    arrays = compile_problem(topcuoglu_2002())
    priority = [u + d for u, d in zip(upward_ranks(arrays), downward_ranks(arrays), strict=True)]
    path = cpop.critical_path(arrays, [round(p, 9) for p in priority])
    assert [arrays.tasks[t] for t in path] == ["n1", "n2", "n9", "n10"]


def test_equal_ranks_go_in_topological_order_of_the_task_list():
    # n3 and n4 both rank exactly 80 (in floats, up to the last bits).
    problem = topcuoglu_2002()
    arrays = compile_problem(problem)
    order = [arrays.tasks[t] for t in by_decreasing(upward_ranks(arrays), arrays)]
    assert order == ["n1", "n3", "n4", "n2", "n5", "n6", "n9", "n7", "n8", "n10"]  # paper, 4.1

    problem.tasks = ["n1", "n2", "n4", "n3", *problem.tasks[4:]]
    arrays = compile_problem(problem)
    order = [arrays.tasks[t] for t in by_decreasing(upward_ranks(arrays), arrays)]
    assert order.index("n4") < order.index("n3")


def test_equal_finish_times_go_to_the_node_listed_first():
    problem = SchedulingProblem(
        tasks=["a"],
        nodes=["x", "y"],
        compute={"a": {"x": 5.0, "y": 5.0}},
        edges=[],
        links={"x": {"y": LinkModel(0, 1)}, "y": {"x": LinkModel(0, 1)}},
    )
    assert heft.schedule(problem).node_of("a") == "x"
    assert cpop.schedule(problem).node_of("a") == "x"
    problem.nodes = ["y", "x"]
    assert heft.schedule(problem).node_of("a") == "y"
    assert cpop.schedule(problem).node_of("a") == "y"


def test_lower_bound_is_the_min_compute_critical_path():
    # n1 (9) n3 (11) n7 (7) n10 (7) = 34; n1 n4 n9 n10 = 9 + 8 + 12 + 7 = 36;
    # n1 n2 n9 n10 = 9 + 13 + 12 + 7 = 41 is the longest.
    assert critical_path_lower_bound(topcuoglu_2002()) == 41
