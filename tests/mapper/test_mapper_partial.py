"""Partial schedules: kept tasks keep their nodes, excluded nodes take nothing, every
algorithm places only the displaced tasks, and the result is a valid schedule."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mapper_cases import random_case

from jupiter.mapper import heft
from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.partial import PartialScheduleError, reduced_problem
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.random_dag import random_problem
from jupiter.mapper.registry import BUILTIN, get_mapper, register, takes_partial, unregister
from jupiter.mapper.schedule import Assignment, Schedule, ScheduleError
from jupiter.mapper.simulate import simulate

ALGORITHMS = list(BUILTIN)


def lose(schedule: Schedule, lost: str) -> dict[str, str]:
    """What recovery keeps when `lost` dies: every task that was not on it."""
    return {task: node for task, node in schedule.mapping.items() if node != lost}


def remap_and_check(
    algorithm: str, problem: SchedulingProblem, existing: dict[str, str], exclude: list[str]
) -> Schedule:
    result = get_mapper(algorithm)(problem, existing=existing, exclude=exclude)
    result.check(problem, existing=existing, exclude=exclude)
    # Checked again by hand, so that a lenient check cannot hide a broken mapper.
    for task, node in existing.items():
        assert result.node_of(task) == node, task
    assert not set(result.mapping.values()) & set(exclude)
    assert set(result.assignments) == set(problem.tasks)
    return result


def losable_problem(seed: int) -> tuple[SchedulingProblem, str] | None:
    """A random problem with a node that can be lost: one that no task is pinned to, and a
    cap (when there is one) that the other nodes can still hold."""
    problem = random_case(seed)
    free = [n for n in problem.nodes if n not in problem.pinned.values()]
    if len(problem.nodes) < 2 or not free:
        return None
    lost = free[seed % len(free)]
    cap = problem.max_tasks_per_node
    if cap is not None and cap * (len(problem.nodes) - 1) < len(problem.tasks):
        problem = replace(
            problem, max_tasks_per_node=-(-len(problem.tasks) // (len(problem.nodes) - 1))
        )
    return problem, lost


# ---- every algorithm ----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("lost", ["P1", "P2", "P3"])
def test_paper_example_loses_each_node(algorithm: str, lost: str) -> None:
    problem = topcuoglu_2002()
    before = get_mapper(algorithm)(problem)
    remap_and_check(algorithm, problem, lose(before, lost), [lost])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_random_problems_lose_a_node(algorithm: str) -> None:
    mapper = get_mapper(algorithm)
    tried = 0
    for seed in range(200):
        case = losable_problem(seed)
        if case is None:
            continue
        problem, lost = case
        tried += 1
        remap_and_check(algorithm, problem, lose(mapper(problem), lost), [lost])
        # Excluding without keeping anything is a full schedule on the other nodes.
        remap_and_check(algorithm, problem, {}, [lost])
    assert tried >= 100


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_random_problems_keep_half_without_exclusions(algorithm: str) -> None:
    for seed in range(100):
        problem = random_case(seed)
        other = heft.schedule(problem).mapping
        kept = {t: other[t] for t in problem.tasks[::2]}
        remap_and_check(algorithm, problem, kept, [])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_paper_style_dag_loses_its_busiest_node(algorithm: str) -> None:
    problem = random_problem(100, 8, ccr=1.0, alpha=1.0, out_degree=3, seed=5)
    before = get_mapper(algorithm)(problem)
    lanes = before.by_node()
    busiest = max(lanes, key=lambda n: len(lanes[n]))
    remap_and_check(algorithm, problem, lose(before, busiest), [busiest])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_keeping_a_whole_schedule_gives_it_back(algorithm: str) -> None:
    mapper = get_mapper(algorithm)
    for seed in range(100):
        problem = random_case(seed)
        own = mapper(problem)
        assert mapper(problem, existing=own.mapping).assignments == own.assignments, seed
        # Another algorithm's mapping is kept as well (times are this algorithm's own).
        other = heft.schedule(problem).mapping
        assert mapper(problem, existing=other).mapping == other, seed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_arrays_path_equals_the_reduced_problem(algorithm: str) -> None:
    # The built-ins drop excluded nodes from the compiled arrays; plugins get a smaller
    # SchedulingProblem. Both must describe the same problem, to the last bit.
    mapper = get_mapper(algorithm)
    for seed in range(100):
        case = losable_problem(seed)
        if case is None:
            continue
        problem, lost = case
        existing = lose(mapper(problem), lost)
        fast = mapper(problem, existing=existing, exclude=[lost])
        slow = mapper(reduced_problem(problem, existing, [lost]))
        assert fast.assignments == slow.assignments, seed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_partial_is_the_full_schedule(algorithm: str) -> None:
    mapper = get_mapper(algorithm)
    for seed in range(50):
        problem = random_case(seed)
        full = mapper(problem).assignments
        assert mapper(problem, existing={}, exclude=[]).assignments == full
        assert mapper(problem, existing=None, exclude=()).assignments == full


# ---- HEFT on the paper example, by hand ----------------------------------------------------

# The paper's HEFT schedule (length 80) has n2 and n8 on P1. P1 is lost; the other eight
# tasks stay where they are. Ranks are over the surviving P2 and P3: mean compute over the
# two, transfer costs unchanged (1 s per byte both ways). Upward ranks:
#   n10 11.5; n7 13+17+11.5 = 41.5; n8 12.5+11+11.5 = 35; n9 16+13+11.5 = 40.5;
#   n2 18.5+max(19+35, 16+40.5) = 75; n3 16+23+41.5 = 80.5; n4 12.5+max(27+35, 23+40.5) = 76;
#   n5 11.5+13+40.5 = 65; n6 12.5+15+35 = 62.5; n1 12.5+max(18+75, 12+80.5, ...) = 105.5.
# Order: n1 n3 n4 n2 n5 n6 n7 n9 n8 n10. Kept tasks go to their nodes at their earliest:
#   n1 P3 0-9; n3 P3 9-28; n4 P2 18-26 (data from P3 at 9+9).
#   n2 (displaced): P2 ready 9+18 = 27, P2 free from 26 -> 27+19 = 46;
#                   P3 ready 9, P3 busy to 28 -> 28+18 = 46. A tie: the node listed
#                   first wins, P2: 27-46.
#   n5 P3 28-38; n6 P2: ready 9+14 = 23, no gap of 16 before 46 -> 46-62; n7 P3 38-49;
#   n9 P2: ready max(46, 26, 38+13) = 51, P2 busy to 62 -> 62-74.
#   n8 (displaced): P2 ready max(46, 26, 62) = 62, busy to 74 -> 74+11 = 85;
#                   P3 ready max(46+19, 26+27, 62+15) = 77 -> 77+14 = 91. P2: 74-85.
#   n10 P2: ready max(49+17, 85, 74) = 85 -> 85-92.
HEFT_WITHOUT_P1 = {
    ("n1", "P3", 0, 9),
    ("n3", "P3", 9, 28),
    ("n4", "P2", 18, 26),
    ("n2", "P2", 27, 46),
    ("n5", "P3", 28, 38),
    ("n6", "P2", 46, 62),
    ("n7", "P3", 38, 49),
    ("n9", "P2", 62, 74),
    ("n8", "P2", 74, 85),
    ("n10", "P2", 85, 92),
}


def test_heft_remaps_the_paper_schedule_without_p1_as_derived_by_hand() -> None:
    problem = topcuoglu_2002()
    before = heft.schedule(problem)
    assert {t for t, n in before.mapping.items() if n == "P1"} == {"n2", "n8"}
    after = heft.schedule(problem, existing=lose(before, "P1"), exclude=["P1"])
    after.check(problem, existing=lose(before, "P1"), exclude=["P1"])
    assert {(a.task, a.node, a.start, a.finish) for a in after.assignments.values()} == (
        HEFT_WITHOUT_P1
    )
    assert after.makespan == 92


# ---- errors --------------------------------------------------------------------------------


def paper_with_pin() -> SchedulingProblem:
    return replace(topcuoglu_2002(), pinned={"n1": "P3"})


ERRORS = [
    ({"ghost": "P1"}, [], "existing names unknown task 'ghost'"),
    ({"n2": "P9"}, [], "existing places task 'n2' on unknown node 'P9'"),
    ({}, ["P9"], "exclude names unknown node 'P9'"),
    ({"n2": "P1"}, ["P1"], "existing places task 'n2' on 'P1', which is excluded"),
    ({}, ["P3"], "task 'n1' is pinned to 'P3', which is excluded; a pinned task cannot move"),
    ({}, ["P1", "P2", "P3"], "every node is excluded; no node is left to run the tasks"),
    ({"n1": "P2"}, [], "existing places task 'n1' on 'P2', but the problem pins it to 'P3'"),
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("existing", "exclude", "message"), ERRORS)
def test_impossible_partial_schedules_are_clear_errors(
    algorithm: str, existing: dict[str, str], exclude: list[str], message: str
) -> None:
    with pytest.raises(PartialScheduleError) as caught:
        get_mapper(algorithm)(paper_with_pin(), existing=existing, exclude=exclude)
    assert str(caught.value) == f"cannot complete the partial schedule: {message}"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_cap_the_remaining_nodes_cannot_hold_is_an_error(algorithm: str) -> None:
    problem = replace(topcuoglu_2002(), max_tasks_per_node=4)
    with pytest.raises(PartialScheduleError, match="4 per node on 2 remaining nodes cannot hold"):
        get_mapper(algorithm)(problem, exclude=["P1"])
    kept = {"n1": "P2", "n2": "P2", "n3": "P2", "n4": "P2", "n5": "P2"}
    with pytest.raises(PartialScheduleError, match="5 tasks are kept or pinned on 'P2'"):
        get_mapper(algorithm)(problem, existing=kept)


def test_exclude_must_not_be_a_bare_name() -> None:
    with pytest.raises(TypeError, match="not the str 'P1'"):
        heft.schedule(topcuoglu_2002(), exclude="P1")


# ---- the check -----------------------------------------------------------------------------


def test_check_reports_a_moved_task_and_an_excluded_node() -> None:
    problem = topcuoglu_2002()
    schedule = simulate(problem, dict.fromkeys(problem.tasks, "P1"), "all-on-p1")
    schedule.check(problem)
    found = schedule.violations(problem, existing={"n1": "P2"}, exclude=["P1"])
    assert found[0] == "task 'n1' was kept on 'P2' but runs on 'P1'"
    assert found[1:] == [f"task {t!r} runs on excluded node 'P1'" for t in problem.tasks]
    with pytest.raises(ScheduleError, match="11 violations"):
        schedule.check(problem, existing={"n1": "P2"}, exclude=["P1"])


# ---- mappers that take only the problem ----------------------------------------------------


def first_node(problem: SchedulingProblem) -> Schedule:
    """A plugin of the documented kind: everything on the first node, pins honoured."""
    return simulate(
        problem, {**dict.fromkeys(problem.tasks, problem.nodes[0]), **problem.pinned}, "first"
    )


def ignores_pins(problem: SchedulingProblem) -> Schedule:
    return simulate(problem, dict.fromkeys(problem.tasks, problem.nodes[0]), "careless")


def test_builtins_take_partial_schedules_and_plain_mappers_do_not() -> None:
    assert all(takes_partial(get_mapper(name)) for name in ALGORITHMS)
    assert not takes_partial(first_node)


def test_a_plain_mapper_gets_the_reduced_problem() -> None:
    problem = topcuoglu_2002()
    register("first-node-test", first_node)
    try:
        mapper = get_mapper("first-node-test")
        assert mapper(problem).mapping == first_node(problem).mapping  # full: unchanged
        kept = {"n1": "P3", "n10": "P1"}
        result = mapper(problem, existing=kept, exclude=["P2"])
        result.check(problem, existing=kept, exclude=["P2"])
        # P2 is gone, so the first node is P1 for everything that was not kept.
        assert result.mapping == {**dict.fromkeys(problem.tasks, "P1"), "n1": "P3"}
        with pytest.raises(PartialScheduleError, match="unknown node 'P9'"):
            mapper(problem, exclude=["P9"])
    finally:
        unregister("first-node-test")


def test_a_plain_mapper_that_ignores_pins_is_caught_by_the_check() -> None:
    problem = topcuoglu_2002()
    register("careless-test", ignores_pins)
    try:
        result = get_mapper("careless-test")(problem, existing={"n1": "P3"}, exclude=["P2"])
        with pytest.raises(ScheduleError, match="task 'n1' was kept on 'P3' but runs on 'P1'"):
            result.check(problem, existing={"n1": "P3"}, exclude=["P2"])
    finally:
        unregister("careless-test")


def test_assignments_of_kept_tasks_are_real_assignments() -> None:
    # The partial result is a whole schedule: kept tasks have times too, not just nodes.
    problem = topcuoglu_2002()
    result = heft.schedule(problem, existing={"n1": "P1"}, exclude=["P3"])
    assert result.assignments["n1"] == Assignment("n1", "P1", 0.0, 14.0)
