"""WfCommons traces as a neutral DAG, in both layouts, and as scheduling problems."""

from __future__ import annotations

import json

import pytest
from mapper_cases import TRACES, WORKFLOWS

from jupiter.errors import SpecError
from jupiter.mapper.from_workflow import problem_from_trace, problem_from_workflow
from jupiter.mapper.network import random_network
from jupiter.workflows.wfcommons import load_workflow, parse_workflow


def raw(name: str) -> dict:
    return json.loads((WORKFLOWS / name).read_text())


@pytest.mark.parametrize("trace", TRACES, ids=lambda p: p.stem)
def test_every_trace_parses_into_a_consistent_dag(trace):
    data = json.loads(trace.read_text())
    workflow = load_workflow(trace)
    tasks = data["workflow"]["tasks"]
    assert len(workflow.tasks) == len(tasks)
    expected = {(p, t["name"]) for t in tasks for p in t.get("parents", [])}
    expected |= {(t["name"], c) for t in tasks for c in t.get("children", [])}
    assert {(e.src, e.dst) for e in workflow.edges} == expected
    runtimes = {t["name"]: t["runtimeInSeconds"] for t in tasks}
    assert {t.id: t.runtime for t in workflow.tasks} == runtimes
    for edge in workflow.edges:
        parent, child = workflow.task(edge.src), workflow.task(edge.dst)
        assert edge.bytes == sum(parent.outputs[f] for f in edge.files)
        assert set(edge.files) == set(parent.outputs) & set(child.inputs)
    problem_from_workflow(workflow, random_network(4)).validate()


def test_edge_bytes_for_a_known_blast_edge():
    # split_fasta writes small.fasta.0 (6 bytes); blastall_ID000002 reads it, plus its own
    # executable and database, which split_fasta did not write.
    workflow = load_workflow(WORKFLOWS / "blast-chameleon-small-002.json")
    edge = next(
        e
        for e in workflow.edges
        if e.src == "split_fasta_ID000001" and e.dst == "blastall_ID000002"
    )
    assert (edge.files, edge.bytes) == (("small.fasta.0",), 6)
    assert workflow.task("blastall_ID000002").inputs == {
        "blastall": 7688,
        "small.fasta.0": 6,
        "nt": 0,
    }


def test_sources_and_sinks():
    workflow = load_workflow(WORKFLOWS / "epigenomics-chameleon-hep-1seq-100k-001.json")
    assert len(workflow.sources()) == 1 and len(workflow.sinks()) == 1
    seismology = load_workflow(WORKFLOWS / "seismology-chameleon-100p-001.json")
    assert len(seismology.sources()) == 100
    sink = seismology.sinks()[0]
    assert len(seismology.parents(sink)) == 100


def to_v15(data: dict) -> dict:
    """The same trace in the WfFormat 1.5 layout, ids distinct from names."""
    tasks = data["workflow"]["tasks"]
    ident = {t["name"]: f"id-{i}" for i, t in enumerate(tasks)}
    files: dict[str, int] = {}
    spec_tasks = []
    for t in tasks:
        for f in t["files"]:
            files[f["name"]] = f["sizeInBytes"]
        spec_tasks.append(
            {
                "name": t["name"].split("_ID")[0],  # names need not be unique in 1.5
                "id": ident[t["name"]],
                "parents": [ident[p] for p in t.get("parents", [])],
                "children": [ident[c] for c in t.get("children", [])],
                "inputFiles": [f["name"] for f in t["files"] if f["link"] == "input"],
                "outputFiles": [f["name"] for f in t["files"] if f["link"] == "output"],
            }
        )
    return {
        "name": data["name"],
        "schemaVersion": "1.5",
        "workflow": {
            "specification": {
                "tasks": spec_tasks,
                "files": [{"id": k, "sizeInBytes": v} for k, v in files.items()],
            },
            "execution": {
                "makespanInSeconds": 1,
                "executedAt": "2024-01-01T00:00:00Z",
                "tasks": [
                    {"id": ident[t["name"]], "runtimeInSeconds": t["runtimeInSeconds"]}
                    for t in tasks
                ],
            },
        },
    }


@pytest.mark.parametrize(
    "name", ["montage-chameleon-2mass-005d-001.json", "cycles-chameleon-1l-1c-9p-001.json"]
)
def test_the_15_layout_gives_the_same_dag(name):
    data = raw(name)
    old = parse_workflow(data)
    new = parse_workflow(to_v15(data))
    assert new.schema_version == "1.5"
    rename = {f"id-{i}": t.id for i, t in enumerate(old.tasks)}
    assert [rename[t.id] for t in new.tasks] == [t.id for t in old.tasks]
    assert [t.runtime for t in new.tasks] == [t.runtime for t in old.tasks]
    assert {(rename[e.src], rename[e.dst], e.bytes) for e in new.edges} == {
        (e.src, e.dst, e.bytes) for e in old.edges
    }
    assert any(e.bytes > 0 for e in new.edges)


def test_bad_traces_name_the_field(tmp_path):
    data = raw("srasearch-chameleon-10a-001.json")
    data["workflow"]["tasks"][3]["parents"].append("nobody")
    with pytest.raises(SpecError, match="names unknown task 'nobody'"):
        parse_workflow(data, "t.json")
    data = raw("srasearch-chameleon-10a-001.json")
    del data["workflow"]["tasks"][2]["runtimeInSeconds"]
    with pytest.raises(SpecError, match=r"workflow\.tasks\[2\]\.runtimeInSeconds: missing"):
        parse_workflow(data, "t.json")
    data = raw("srasearch-chameleon-10a-001.json")
    data["workflow"]["tasks"][0]["files"][0]["sizeInBytes"] = -1
    with pytest.raises(SpecError, match=r"files\[0\]\.sizeInBytes: must be a non-negative"):
        parse_workflow(data, "t.json")
    v15 = to_v15(raw("srasearch-chameleon-10a-001.json"))
    v15["workflow"]["specification"]["tasks"][0]["inputFiles"].append("ghost.dat")
    with pytest.raises(SpecError, match=r"'ghost\.dat' is not in workflow\.specification\.files"):
        parse_workflow(v15)
    with pytest.raises(SpecError, match="no such file"):
        load_workflow(tmp_path / "missing.json")


def test_trace_problem_uses_speeds_and_links():
    network = random_network(16, seed=5)
    workflow = load_workflow(TRACES[0])
    problem = problem_from_workflow(workflow, network)
    task = workflow.tasks[0]
    for node in network.nodes:
        assert problem.compute[task.id][node] == pytest.approx(task.runtime / network.speeds[node])
    assert problem.links == network.links
    assert problem_from_trace(TRACES[0], 16, seed=5) == problem
