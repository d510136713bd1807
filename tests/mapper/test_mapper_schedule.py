"""Schedule.check finds every kind of violation, and accepts what it should."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.heft import schedule as heft
from jupiter.mapper.schedule import Assignment, Schedule, ScheduleError


@pytest.fixture
def problem():
    return topcuoglu_2002()


@pytest.fixture
def good(problem):
    return heft(problem)


def edited(schedule: Schedule, task: str, **changes) -> Schedule:
    assignments = dict(schedule.assignments)
    assignments[task] = replace(assignments[task], **changes)
    return Schedule(schedule.algorithm, assignments)


def violations_of(schedule, problem):
    with pytest.raises(ScheduleError) as caught:
        schedule.check(problem)
    return caught.value.violations


def test_paper_schedule_is_valid(good, problem):
    good.check(problem)
    assert good.violations(problem) == []
    assert good.makespan == 80
    assert good.node_of("n10") == "P2"
    assert good.mapping["n2"] == "P1"


def test_missing_task(good, problem):
    del good.assignments["n5"]
    assert violations_of(good, problem) == ["task 'n5' is not scheduled"]


def test_unknown_task_and_node(good, problem):
    good.assignments["ghost"] = Assignment("ghost", "P1", 100, 101)
    bad = edited(good, "n10", node="P9")
    found = violations_of(bad, problem)
    assert "unknown task 'ghost' is scheduled" in found
    assert "task 'n10' is on unknown node 'P9'" in found


def test_starting_before_the_data_arrives(good, problem):
    # n10 on P2 needs n7's output from P3: 49 + 17 = 66 <= 73, n8's from P1: 62 + 11 = 73.
    bad = edited(good, "n10", start=72, finish=79)
    found = violations_of(bad, problem)
    assert any("'n10' starts at 72 before the data of 'n8' arrives at 73" in v for v in found)


def test_wrong_duration(good, problem):
    bad = edited(good, "n7", finish=50)
    assert violations_of(bad, problem) == ["task 'n7' runs 12 s on 'P3' but needs 11 s there"]


def test_overlap_on_a_node(good, problem):
    # n5 (P3, 28-38) moved onto P2 during n6 (26-42): 13 s there.
    bad = edited(good, "n5", node="P2", start=29, finish=42)
    found = violations_of(bad, problem)
    assert any("overlap on 'P2'" in v for v in found)


def test_pins_and_cap(good, problem):
    problem.pinned = {"n1": "P1"}
    problem.max_tasks_per_node = 3
    found = violations_of(good, problem)
    assert "task 'n1' is pinned to 'P1' but runs on 'P3'" in found
    assert "node 'P2' runs 4 tasks, more than the cap of 3" in found
    assert "node 'P3' runs 4 tasks, more than the cap of 3" in found


def test_negative_start(good, problem):
    bad = edited(good, "n1", start=-1, finish=8)
    assert "task 'n1' starts before 0 (at -1)" in violations_of(bad, problem)


def test_float_noise_is_tolerated(good, problem):
    fuzzy = edited(good, "n10", start=73 - 1e-12, finish=80 - 1e-12)
    fuzzy.check(problem)


def test_message_lists_violations_and_counts_the_rest(good, problem):
    for task in ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n2"]:
        good.assignments.pop(task, None)
    with pytest.raises(ScheduleError) as caught:
        good.check(problem)
    assert "(10 violations)" in str(caught.value)
    problem.tasks.extend(f"x{i}" for i in range(5))
    for i in range(5):
        problem.compute[f"x{i}"] = {"P1": 1, "P2": 1, "P3": 1}
    with pytest.raises(ScheduleError) as caught:
        good.check(problem)
    assert str(caught.value).endswith("and 5 more")


def test_iteration_and_dict_are_by_start(good):
    starts = [a.start for a in good]
    assert starts == sorted(starts)
    document = good.to_dict()
    assert document["makespan"] == 80
    assert [a["task"] for a in document["assignments"]][:2] == ["n1", "n3"]
