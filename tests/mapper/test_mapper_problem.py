"""The problem model: construction, PROBLEM.json round trip, validation."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from mapper_cases import random_case

from jupiter.errors import SpecError
from jupiter.mapper.examples import topcuoglu_2002
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem


def test_link_model_seconds():
    link = LinkModel(0.5, 0.01, 0.0001)
    assert link.seconds(0) == 0.5
    assert link.seconds(100) == pytest.approx(0.5 + 1 + 1)
    assert LinkModel(1, 2).r == 0.0
    with pytest.raises(AttributeError):
        link.p = 3  # frozen


def test_edge_is_positional_src_dst_bytes():
    edge = Edge("a", "b", 10)
    assert (edge.src, edge.dst, edge.bytes) == ("a", "b", 10)


def test_construction_does_not_validate():
    problem = SchedulingProblem(
        tasks=["a", "b"], nodes=["x"], compute={"a": {"x": 1}}, edges=[], links={}
    )
    assert problem.pinned == {} and problem.max_tasks_per_node is None and problem.load == {}
    with pytest.raises(SpecError, match=r"compute\.b: missing"):
        problem.validate()
    problem.compute["b"] = {"x": 2}
    problem.validate()


def test_defaults_are_not_shared():
    one = SchedulingProblem(["a"], ["x"], {"a": {"x": 1}}, [], {})
    two = SchedulingProblem(["a"], ["x"], {"a": {"x": 1}}, [], {})
    one.pinned["a"] = "x"
    one.load["x"] = {"cpu": 5}
    assert two.pinned == {} and two.load == {}


def test_load_is_both_the_file_reader_and_the_load_figures(tmp_path):
    problem = topcuoglu_2002()
    problem.load = {"P1": {"cpu": 50.0, "memory": 20.0}}
    path = tmp_path / "p.json"
    problem.save(path)
    again = SchedulingProblem.load(path)
    assert again.load == {"P1": {"cpu": 50.0, "memory": 20.0}}
    assert again.node_load("P1") == (50.0, 20.0)
    assert again.node_load("P2") == (0.0, 0.0)
    assert SchedulingProblem.from_file(path) == again


@pytest.mark.parametrize("seed", range(40))
def test_round_trip_through_json(seed, tmp_path):
    problem = random_case(seed)
    path = tmp_path / "problem.json"
    problem.save(path)
    loaded = SchedulingProblem.load(path)
    assert loaded == problem
    assert loaded.source == str(path)
    assert SchedulingProblem.from_dict(json.loads(path.read_text())) == problem


def test_to_dict_is_the_contract_format():
    problem = replace(topcuoglu_2002(), pinned={"n1": "P1"}, max_tasks_per_node=5)
    data = problem.to_dict()
    assert set(data) == {
        "tasks",
        "nodes",
        "compute",
        "edges",
        "links",
        "pinned",
        "max_tasks_per_node",
    }
    assert data["edges"][0] == {"from": "n1", "to": "n2", "bytes": 18}
    assert data["links"]["P1"]["P2"] == {"p": 0.0, "q": 1.0, "r": 0.0}
    assert "P1" not in data["links"]["P1"]
    assert data["compute"]["n10"] == {"P1": 21, "P2": 7, "P3": 16}


def test_optional_fields_and_zero_self_links_are_accepted():
    data = topcuoglu_2002().to_dict()
    data["links"]["P1"]["P1"] = {"p": 0, "q": 0, "r": 0}  # tools that fill the full matrix
    del data["links"]["P2"]["P3"]["r"]  # r defaults to 0
    data["load"] = {"P3": {"cpu": 12.5}}
    problem = SchedulingProblem.from_dict(data, "inline.json")
    assert problem.links["P2"]["P3"] == LinkModel(0, 1, 0)
    assert problem.transfer_seconds("P1", "P1", 1e9) == 0.0
    assert problem.transfer_seconds("P1", "P2", 5) == 5.0


def test_from_dict_can_skip_validation():
    data = topcuoglu_2002().to_dict()
    data["edges"].append({"from": "n10", "to": "n1", "bytes": 1})
    problem = SchedulingProblem.from_dict(data, validate=False)
    with pytest.raises(SpecError, match="cycle: "):
        problem.validate()


def test_errors_name_the_file_and_field():
    data = topcuoglu_2002().to_dict()
    data["compute"]["n4"]["P2"] = float("nan")
    with pytest.raises(SpecError) as caught:
        SchedulingProblem.from_dict(data, "mine.json")
    assert caught.value.file == "mine.json"
    assert caught.value.field == "compute.n4.P2"
    assert str(caught.value) == (
        "mine.json: compute.n4.P2: must be a non-negative number of seconds, got nan"
    )


def test_cycle_in_a_long_chain_is_named_without_recursion_limits():
    n = 5000
    tasks = [f"t{i}" for i in range(n)]
    edges = [Edge(tasks[i], tasks[i + 1], 0) for i in range(n - 1)] + [
        Edge(tasks[-1], tasks[-3], 0)
    ]
    problem = SchedulingProblem(tasks, ["x"], {t: {"x": 1} for t in tasks}, edges, {})
    with pytest.raises(SpecError, match=r"cycle: t4997 -> t4998 -> t4999 -> t4997$"):
        problem.validate()


def test_algorithms_report_bad_problems_as_spec_errors():
    from jupiter.mapper.registry import BUILTIN, get_mapper

    problem = topcuoglu_2002()
    del problem.compute["n3"]["P2"]
    for name in BUILTIN:
        with pytest.raises(SpecError, match=r"compute\.n3\.P2: missing"):
            get_mapper(name)(problem)
