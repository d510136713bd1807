"""Every bad PROBLEM.json gets one clear line naming the field, and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jupiter.cli import main
from jupiter.errors import SpecError
from jupiter.mapper.problem import SchedulingProblem

CORPUS = Path(__file__).parent / "bad_problems"

# file -> the part of the message after "error: FILE: "
EXPECTED = {
    "cap_not_integer.json": "max_tasks_per_node: must be an integer, got the number 2.5",
    "cap_too_small.json": "max_tasks_per_node: 1 per node on 2 nodes cannot hold 3 tasks",
    "compute_boolean.json": "compute.a.n2: must be a number, got a boolean",
    "compute_missing_entry.json": "compute.b.n2: missing: no seconds for task 'b' on node 'n2'",
    "compute_missing_task.json": "compute.c: missing: every task needs seconds on every node",
    "compute_negative.json": "compute.a.n1: must be a non-negative number of seconds, got -2",
    "compute_unknown_node.json": "compute.a.n3: unknown node 'n3'",
    "cycle.json": "edges: cycle: a -> b -> c -> a",
    "duplicate_key.json": "compute.a.n1: given twice",
    "edge_listed_twice.json": "edges[2]: edge a -> b is listed twice",
    "edge_missing_bytes.json": "edges[0].bytes: missing",
    "edge_negative_bytes.json": "edges[0].bytes: must be a non-negative number, got -5",
    "edge_to_unknown_task.json": "edges[1].to: unknown task 'zz'",
    "invalid_json.json": "invalid JSON at line 7 column 3",
    "link_missing.json": "links.n2.n1: missing link model from 'n2' to 'n1'",
    "link_negative.json": "links.n1.n2.q: must be a non-negative number, got -1",
    "link_same_node_nonzero.json": "links.n1.n1: a transfer on the same node always takes 0 s",
    "load_unknown_field.json": "load.n1.disk: unknown field (expected: cpu, memory)",
    "load_unknown_node.json": "load.n7: unknown node 'n7'",
    "missing_links.json": "links: missing required field",
    "no_nodes.json": "nodes: needs at least one node",
    "node_listed_twice.json": "nodes[2]: node 'n1' is listed twice",
    "pinned_unknown_node.json": "pinned.a: unknown node 'n9'",
    "pinned_unknown_task.json": "pinned.q: unknown task 'q'",
    "pins_over_cap.json": "max_tasks_per_node: 3 tasks are pinned to 'n1', more than 2",
    "self_loop.json": "edges: cycle: c -> c",
    "task_listed_twice.json": "tasks[1]: task 'a' is listed twice",
    "tasks_not_a_list.json": "tasks: must be a list, got the string 'a b c'",
    "top_level_list.json": "must be a JSON object, got a list",
    "unknown_field.json": "max_task_per_node: unknown field; did you mean 'max_tasks_per_node'?",
}


def test_every_file_in_the_corpus_has_an_expectation():
    assert sorted(p.name for p in CORPUS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_raises_a_spec_error_naming_the_field(name):
    path = CORPUS / name
    with pytest.raises(SpecError) as caught:
        SchedulingProblem.load(path)
    assert str(caught.value).startswith(f"{path}: {EXPECTED[name]}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_exits_2_with_one_line(name, capsys):
    path = CORPUS / name
    with pytest.raises(SystemExit) as exited:
        main(["schedule", str(path), "--algorithm", "heft"])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {path}: {EXPECTED[name]}")


def test_the_installed_command_exits_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jupiter", "schedule", str(CORPUS / "cycle.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"error: {CORPUS / 'cycle.json'}: edges: cycle: a -> b -> c -> a\n"


def test_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["schedule", str(tmp_path / "nope.json")])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.json'}: no such file\n"
