"""`jupiter schedule`: the --json contract, the table, --algorithm all, the cap option."""

from __future__ import annotations

import json

import pytest

from jupiter.cli import main
from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import BUILTIN, available_mappers, register, unregister
from jupiter.mapper.schedule import Assignment, Schedule


@pytest.fixture
def paper(tmp_path):
    path = tmp_path / "paper.json"
    topcuoglu_2002().save(path)
    return path


def run(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(paper, capsys):
    code, out, err = run(["schedule", str(paper), "--algorithm", "heft", "--json"], capsys)
    assert code == 0 and err == ""
    document = json.loads(out)
    assert list(document) == ["algorithm", "makespan", "seconds", "assignments"]
    assert document["algorithm"] == "heft"
    assert document["makespan"] == 80
    assert 0 < document["seconds"] < 5
    assert len(document["assignments"]) == 10
    for row in document["assignments"]:
        assert list(row) == ["task", "node", "start", "finish"]
    rows = {(r["task"], r["node"], r["start"], r["finish"]) for r in document["assignments"]}
    assert ("n10", "P2", 73, 80) in rows
    # The printed schedule is the schedule: rebuild it and check it against the problem.
    problem = SchedulingProblem.load(paper)
    Schedule("heft", {r["task"]: Assignment(**r) for r in document["assignments"]}).check(problem)


@pytest.mark.parametrize("algorithm", list(BUILTIN))
def test_json_for_every_algorithm(paper, capsys, algorithm):
    code, out, _ = run(["schedule", str(paper), "-a", algorithm, "--json"], capsys)
    assert code == 0
    assert json.loads(out)["algorithm"] == algorithm


def test_table(paper, capsys):
    code, out, _ = run(["schedule", str(paper)], capsys)
    assert code == 0
    assert "heft: makespan 80 s" in out
    assert "10 tasks on 3 of 3 nodes" in out
    lines = [line for line in out.splitlines() if "n10" in line]
    assert len(lines) == 1 and "P2" in lines[0] and "73" in lines[0] and "80" in lines[0]


def test_compare_all(paper, capsys):
    code, out, _ = run(["schedule", str(paper), "--algorithm", "all"], capsys)
    assert code == 0
    for name in BUILTIN:
        assert f" {name} " in out
    heft_row = next(line for line in out.splitlines() if " heft " in line)
    assert "80" in heft_row and "1.951" in heft_row and "best" in heft_row  # 80 / 41
    cpop_row = next(line for line in out.splitlines() if " cpop " in line)
    assert "86" in cpop_row and "2.098" in cpop_row
    assert "lower bound (41 s" in out


def test_compare_all_json(paper, capsys):
    code, out, _ = run(["schedule", str(paper), "-a", "all", "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["lower_bound"] == 41
    assert [r["algorithm"] for r in document["results"]] == list(BUILTIN)
    assert document["results"][0]["makespan"] == 80
    assert document["results"][0]["slr"] == pytest.approx(80 / 41)


def test_compare_all_flags_a_mapper_that_breaks_the_rules(paper, capsys):
    def cheat(problem):
        return Schedule("cheat", {t: Assignment(t, "P1", 0, 1) for t in problem.tasks})

    register("cheat", cheat)
    try:
        code, out, err = run(["schedule", str(paper), "-a", "all"], capsys)
    finally:
        unregister("cheat")
    assert code == 1
    assert "invalid schedule" in out
    assert err == "error: cheat failed; see the table\n"


def test_invalid_schedule_from_one_algorithm_exits_1(paper, capsys):
    register("cheat", lambda problem: Schedule("cheat", {}))
    try:
        code, out, err = run(["schedule", str(paper), "-a", "cheat", "--json"], capsys)
    finally:
        unregister("cheat")
    assert code == 1 and out == ""
    assert err.startswith("error: schedule from 'cheat' is invalid (10 violations)")


def test_mapper_must_return_a_schedule(paper, capsys):
    register("sloppy", lambda problem: {"n1": "P1"})
    try:
        code, out, err = run(["schedule", str(paper), "-a", "sloppy"], capsys)
    finally:
        unregister("sloppy")
    assert (code, out) == (1, "")
    assert err == "error: mapper 'sloppy' returned dict, not a Schedule\n"


def test_cap_option(paper, capsys):
    code, out, _ = run(["schedule", str(paper), "--max-tasks-per-node", "4", "--json"], capsys)
    assert code == 0
    per_node = {}
    for row in json.loads(out)["assignments"]:
        per_node[row["node"]] = per_node.get(row["node"], 0) + 1
    assert max(per_node.values()) <= 4


def test_cap_option_errors(paper, capsys):
    code, out, err = run(["schedule", str(paper), "--max-tasks-per-node", "3"], capsys)
    assert code == 2 and out == ""
    assert err == "error: --max-tasks-per-node: 3 per node on 3 nodes cannot hold 10 tasks\n"
    code, _, err = run(["schedule", str(paper), "--max-tasks-per-node", "0"], capsys)
    assert code == 2


def test_unknown_algorithm(paper, capsys):
    code, out, err = run(["schedule", str(paper), "--algorithm", "hefty"], capsys)
    assert code == 2 and out == ""
    names = available_mappers()
    assert names[:7] == ["heft", "cpop", "wave", "wave-random", "round-robin", "random", "fastest"]
    assert err == f"error: algorithm: unknown mapper 'hefty' (available: {', '.join(names)})\n"
