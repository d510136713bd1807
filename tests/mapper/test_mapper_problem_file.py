"""The pydantic contract of PROBLEM.json: what it accepts, what it refuses and how it says so."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from mapper_cases import TRACES, random_case
from pydantic import ValidationError
from test_mapper_bad_problems import CORPUS, EXPECTED

from jupiter.errors import SpecError
from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.from_workflow import problem_from_trace
from jupiter.mapper.network import random_network
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.problem_file import (
    ProblemFile,
    ProblemShape,
    field_path,
    parse_document,
    read_json,
)
from jupiter.mapper.problem_rules import find_cycle
from jupiter.mapper.random_dag import random_problem


def example_problems() -> list[tuple[str, SchedulingProblem]]:
    """Every kind of problem the mapper suite schedules."""
    found = [("topcuoglu_2002", topcuoglu_2002())]
    found += [(f"random_case({seed})", random_case(seed)) for seed in range(60)]
    found += [
        (
            f"random_case({seed}, integral, unconstrained)",
            random_case(seed, integral=True, constrained=False),
        )
        for seed in range(20)
    ]
    found += [
        ("random_problem(100, 8)", random_problem(100, 8, out_degree=3, beta=0.5, seed=4)),
        ("random_problem(200, 10)", random_problem(200, 10, ccr=5.0, beta=1.0, seed=9)),
        ("random_problem(50, 4, homogeneous)", random_problem(50, 4, beta=0.0, seed=1)),
        (
            "random_problem(80, 6, network)",
            random_problem(80, 6, network=random_network(6, seed=3), seed=3),
        ),
    ]
    found += [(f"trace {path.stem}", problem_from_trace(path, 16, seed=3)) for path in TRACES]
    return found


EXAMPLES = example_problems()


@pytest.mark.parametrize(("name", "problem"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_model_accepts_every_example_problem(name, problem):
    data = json.loads(json.dumps(problem.to_dict()))  # exactly what PROBLEM.json holds
    doc = ProblemFile.model_validate(data)
    assert doc.tasks == problem.tasks and doc.nodes == problem.nodes
    assert len(doc.edges) == len(problem.edges)
    assert SchedulingProblem.from_dict(data) == problem
    problem.validate()


def test_the_suite_uses_the_traces():
    assert len(TRACES) >= 10


# Decoding problems (bad JSON, a key given twice) come before the model sees a document.
MODEL_CASES = sorted(set(EXPECTED) - {"invalid_json.json", "duplicate_key.json"})


@pytest.mark.parametrize("name", MODEL_CASES)
def test_the_model_refuses_each_bad_case_naming_the_field(name):
    data = json.loads((CORPUS / name).read_text())
    expected = EXPECTED[name]
    field = expected.split(": ", 1)[0] if ": " in expected else ""  # top level: no field
    with pytest.raises(ValidationError) as caught:
        ProblemFile.model_validate(data)
    assert field_path(caught.value.errors()[0]["loc"]) == field


def test_decoding_problems_are_found_before_the_model():
    with pytest.raises(SpecError, match=r"^d\.json: compute\.a\.n1: given twice$"):
        read_json((CORPUS / "duplicate_key.json").read_text(), "d.json")
    with pytest.raises(SpecError, match=r"^b\.json: invalid JSON at line 7 column 3"):
        read_json((CORPUS / "invalid_json.json").read_text(), "b.json")


def test_a_key_given_twice_is_found_inside_lists_too():
    text = '{"edges": [{"from": "a"}, {"from": "a", "to": "b", "to": "c"}]}'
    with pytest.raises(SpecError) as caught:
        read_json(text, "p.json")
    assert str(caught.value) == "p.json: edges[1].to: given twice"


def test_field_paths_read_like_the_file():
    assert field_path(("links", "n1", "n2", "q")) == "links.n1.n2.q"
    assert field_path(("edges", 2, "bytes")) == "edges[2].bytes"
    assert field_path(("tasks", 0)) == "tasks[0]"
    assert field_path(()) == ""


def spec_error_of(data: object, *, rules: bool = True) -> str:
    with pytest.raises(SpecError) as caught:
        parse_document(data, "p.json", rules=rules)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def paper_data() -> dict:
    return json.loads(json.dumps(topcuoglu_2002().to_dict()))


def test_unknown_keys_name_what_was_expected_at_their_level():
    data = paper_data()
    data["links"]["P1"]["P2"]["s"] = 1
    assert spec_error_of(data) == "p.json: links.P1.P2.s: unknown field (expected: p, q, r)"
    data = paper_data()
    data["edges"][3]["form"] = "n1"
    assert spec_error_of(data) == "p.json: edges[3].form: unknown field; did you mean 'from'?"
    data = paper_data()
    data["comment"] = "x"
    assert spec_error_of(data) == (
        "p.json: comment: unknown field (expected: tasks, nodes, compute, edges, links, pinned, "
        "max_tasks_per_node, load)"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["links"]["P1"]["P2"].update(r=None),
            "links.P1.P2.r: must be a number, got null",
        ),
        (
            lambda d: d["links"]["P3"].update(P1=[0, 1]),
            "links.P3.P1: must be a JSON object, got a list",
        ),
        (
            lambda d: d["edges"][0].update(to=""),
            "edges[0].to: must be a non-empty string, got the string ''",
        ),
        (lambda d: d["nodes"].append(7), "nodes[3]: must be a non-empty string, got the number 7"),
        (lambda d: d.update(tasks=[]), "tasks: needs at least one task"),
        (
            lambda d: d["compute"]["n1"].update(P1=float("inf")),
            "compute.n1.P1: must be a non-negative number of seconds, got inf",
        ),
        (
            lambda d: d.update(load={"P1": {"cpu": -3}}),
            "load.P1.cpu: must be a non-negative percentage, got -3",
        ),
        (
            lambda d: d.update(max_tasks_per_node=0),
            "max_tasks_per_node: must be a positive integer, got 0",
        ),
        (
            lambda d: d.update(max_tasks_per_node=True),
            "max_tasks_per_node: must be an integer, got a boolean",
        ),
        (
            lambda d: d.update(pinned={"n1": None}),
            "pinned.n1: must be a non-empty string, got null",
        ),
        (lambda d: d["links"].update(P9={}), "links.P9: unknown node 'P9'"),
        (lambda d: d["compute"].update(n11=d["compute"]["n1"]), "compute.n11: unknown task 'n11'"),
    ],
)
def test_each_bad_field_is_named_with_a_clear_message(change, expected):
    data = paper_data()
    change(data)
    assert spec_error_of(data) == f"p.json: {expected}"


def test_without_rules_each_field_is_still_checked_on_its_own():
    data = paper_data()
    data["edges"].append({"from": "n10", "to": "n1", "bytes": 1})  # a cycle: a rule
    data["pinned"] = {"n1": "nowhere"}  # an unknown node: a rule
    doc = parse_document(data, "p.json", rules=False)
    assert isinstance(doc, ProblemShape) and not isinstance(doc, ProblemFile)
    assert spec_error_of(data).startswith("p.json: edges: cycle: n1 -> ")
    data["edges"][-1]["bytes"] = -1  # a bad number: the field itself
    assert spec_error_of(data, rules=False) == (
        "p.json: edges[15].bytes: must be a non-negative number, got -1"
    )


def test_load_keeps_only_the_figures_the_file_gives():
    data = paper_data()
    data["load"] = {"P2": {"memory": 40}, "P1": {"cpu": 10.5, "memory": 0}}
    problem = SchedulingProblem.from_dict(data)
    assert problem.load == {"P2": {"memory": 40}, "P1": {"cpu": 10.5, "memory": 0}}
    assert problem.to_dict()["load"] == data["load"]


def test_validate_checks_what_was_built_in_python():
    problem = topcuoglu_2002()
    problem.links["P1"]["P2"] = 3  # type: ignore[assignment]
    with pytest.raises(
        SpecError, match=r"^links\.P1\.P2: must be a JSON object, got the number 3$"
    ):
        problem.validate()
    problem = topcuoglu_2002()
    problem.edges.append(Edge("n1", "n2", 5))
    with pytest.raises(SpecError, match=r"^edges\[15\]: edge n1 -> n2 is listed twice$"):
        problem.validate()
    problem = topcuoglu_2002()
    problem.links["P1"]["P1"] = LinkModel(0, 0, 0)  # a zero self-link is harmless
    problem.validate()


def test_validation_errors_name_the_problem_source(tmp_path: Path):
    path = tmp_path / "p.json"
    topcuoglu_2002().save(path)
    problem = SchedulingProblem.load(path)
    problem.compute["n2"]["P3"] = -1.5
    with pytest.raises(SpecError) as caught:
        problem.validate()
    assert str(caught.value) == (
        f"{path}: compute.n2.P3: must be a non-negative number of seconds, got -1.5"
    )


def random_graph(seed: int) -> tuple[list[str], list[Edge]]:
    rng = random.Random(seed)
    tasks = [f"t{i}" for i in range(rng.randint(1, 12))]
    edges = [Edge(a, b, 0) for a in tasks for b in tasks if rng.random() < 0.15]
    rng.shuffle(edges)
    return tasks, edges


def has_cycle_by_elimination(tasks: list[str], edges: list[Edge]) -> bool:
    # Reference: keep removing tasks without a remaining parent; a cycle is what is left.
    left = set(tasks)
    while True:
        with_parent = {e.dst for e in edges if e.src in left and e.dst in left}
        if with_parent == left:
            return bool(left)
        left = with_parent


@pytest.mark.parametrize("seed", range(200))
def test_find_cycle_reports_a_real_cycle_exactly_when_there_is_one(seed):
    tasks, edges = random_graph(seed)
    cycle = find_cycle(tasks, edges)
    assert bool(cycle) == has_cycle_by_elimination(tasks, edges)
    pairs = {(e.src, e.dst) for e in edges}
    assert len(set(cycle)) == len(cycle)
    for a, b in zip(cycle, [*cycle[1:], *cycle[:1]], strict=True):
        assert (a, b) in pairs


def test_a_cycle_below_an_acyclic_part_is_named_with_its_members():
    tasks = ["s", "a", "b", "c", "d", "z"]
    edges = [Edge("s", "a", 1), Edge("a", "b", 1), Edge("b", "c", 1), Edge("c", "d", 1)]
    edges += [Edge("d", "b", 1), Edge("s", "z", 1)]
    problem = SchedulingProblem(tasks, ["x"], {t: {"x": 1} for t in tasks}, edges, {})
    with pytest.raises(SpecError) as caught:
        problem.validate()
    assert caught.value.field == "edges"
    assert caught.value.message == "cycle: b -> c -> d -> b"
