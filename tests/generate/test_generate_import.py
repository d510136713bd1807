"""WfCommons traces as apps and as scheduling problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from generate_helpers import TRACES, expected, run_in_process

from jupiter.app.spec import load_app
from jupiter.app.synthetic_names import app_names, python_names
from jupiter.app.synthetic_writer import write_app
from jupiter.app.wfcommons_import import (
    SOURCE_NAME,
    import_trace,
    plan_from_workflow,
)
from jupiter.cli import main
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.mapper.heft import schedule as heft
from jupiter.mapper.problem import SchedulingProblem
from jupiter.planning.app_problem import app_problem, plan_problem
from jupiter.workflows.wfcommons import load_workflow, parse_workflow


def test_the_shared_traces_are_there() -> None:
    assert len(TRACES) == 18


@pytest.mark.parametrize("trace", TRACES, ids=lambda p: p.stem)
def test_every_trace_imports_loads_and_schedules(trace: Path, tmp_path: Path) -> None:
    imported = import_trace(trace, tmp_path / "app")
    app = load_app(tmp_path / "app")
    workflow = load_workflow(trace)
    assert len(app.tasks) == len(workflow.tasks)
    assert app.has_estimates
    # The DAG is the trace's, edge for edge.
    names = {task.id: task.id for task in workflow.tasks} | imported.renamed
    assert sorted((names[e.src], names[e.dst]) for e in workflow.edges) == sorted(
        (p, t) for t, spec in app.tasks.items() for p in spec.parents
    )
    assert sorted(app.entry_tasks()) == sorted(names[t] for t in workflow.sources())
    assert sorted(app.exits) == sorted(names[t] for t in workflow.sinks())
    for task in workflow.tasks:
        assert app.tasks[names[task.id]].estimate_seconds == pytest.approx(
            task.runtime * 0.01, abs=1e-6
        )
    problem = app_problem(tmp_path / "app", Cluster.default(8))
    assert set(problem.tasks) == {*app.tasks, SOURCE_NAME}
    schedule = heft(problem)
    schedule.check(problem)


def test_output_sizes_come_from_the_files_children_read(tmp_path: Path) -> None:
    trace = next(t for t in TRACES if t.stem.startswith("epigenomics-chameleon-hep-1seq-100k"))
    workflow = load_workflow(trace)
    plan = plan_from_workflow(workflow, size_scale=0.5).plan
    sizes = {t.name: t.output_bytes for t in plan.tasks}
    for task in workflow.tasks:
        out_edges = [e for e in workflow.edges if e.src == task.id]
        files = {f for e in out_edges for f in e.files} if out_edges else set(task.outputs)
        assert sizes[task.id] == max(32, round(0.5 * sum(task.outputs[f] for f in files)))


def test_scales_keep_or_change_the_ccr_as_documented() -> None:
    workflow = load_workflow(TRACES[0])
    base = plan_from_workflow(workflow, time_scale=0.01, size_scale=0.01).plan
    double = plan_from_workflow(workflow, time_scale=0.02, size_scale=0.01).plan
    for a, b in zip(base.tasks, double.tasks, strict=True):
        assert b.seconds == pytest.approx(2 * a.seconds, abs=2e-6)
        assert b.output_bytes == a.output_bytes


def messy_workflow() -> dict[str, object]:
    """A schema-1.5 trace whose task ids are not valid app names, one even colliding."""
    ids = ["split file.1", "work:a", "work_a", "-merge", "for", "open"]
    links = {
        "split file.1": ["work:a", "work_a", "for"],
        "work:a": ["-merge"],
        "work_a": ["-merge"],
        "for": ["open"],
        "open": ["-merge"],
    }
    files = [{"id": f"{i}.out", "sizeInBytes": 1000 * (n + 1)} for n, i in enumerate(ids)]
    tasks = [
        {
            "id": task_id,
            "name": task_id.split(":")[0],
            "parents": [p for p, cs in links.items() if task_id in cs],
            "children": links.get(task_id, []),
            "inputFiles": [f"{p}.out" for p, cs in links.items() if task_id in cs],
            "outputFiles": [f"{task_id}.out"],
        }
        for task_id in ids
    ]
    return {
        "name": "messy workflow! 😀",
        "schemaVersion": "1.5",
        "workflow": {
            "specification": {"tasks": tasks, "files": files},
            "execution": {"tasks": [{"id": i, "runtimeInSeconds": 2.0} for i in ids]},
        },
    }


def test_invalid_trace_names_become_valid_unique_names_and_stay_in_comments(
    tmp_path: Path,
) -> None:
    workflow = parse_workflow(messy_workflow(), "messy.json")
    imported = plan_from_workflow(workflow, time_scale=0.001)
    assert imported.renamed == {
        "split file.1": "split_file_1",
        "work:a": "work_a_2",  # work_a is a valid trace name and keeps it
        "-merge": "t-merge",
    }
    write_app(imported.plan, tmp_path / "app")
    app = load_app(tmp_path / "app")
    assert app.name == "messy_workflow_"
    assert app.description.startswith("WfCommons trace messy workflow! 😀 (schema 1.5)")
    assert sorted(app.tasks) == sorted(
        ["split_file_1", "work_a_2", "work_a", "t-merge", "for", "open"]
    )
    text = (tmp_path / "app" / "app.yaml").read_text()
    for original in ("split file.1", "work:a", "-merge"):
        assert f'# trace task "{original}"' in text
    # Functions named like Python keywords and builtins would break the task code.
    assert app.tasks["for"].python_function == "for_"
    assert app.tasks["open"].python_function == "open_2"
    for k in range(3):
        assert run_in_process(app, k) == expected(tmp_path / "app", k)


def test_name_helpers() -> None:
    assert app_names(["ok", "a b", "a_b", "a?b"], reserved=["ok"]) == {
        "ok": "ok_2",
        "a b": "a_b_2",
        "a_b": "a_b",
        "a?b": "a_b_3",
    }
    long = app_names(["x" * 200, "x" * 200 + "!"])
    assert all(len(name) <= 128 for name in long.values())
    assert len(set(long.values())) == 2
    assert python_names(["9lives", "a-b", "a_b", "task", "None"]) == {
        "9lives": "t_9lives",
        "a-b": "a_b",
        "a_b": "a_b_2",
        "task": "task_2",
        "None": "None_",
    }


def test_a_cyclic_trace_is_a_spec_error() -> None:
    data = messy_workflow()
    spec = data["workflow"]["specification"]  # type: ignore[index]
    spec["tasks"][0]["parents"] = ["open"]
    with pytest.raises(SpecError, match=r"cycle in the task graph"):
        plan_from_workflow(parse_workflow(data, "loop.json"))


def test_problem_without_an_app_folder_loads_with_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = next(t for t in TRACES if t.stem.startswith("montage-chameleon-2mass"))
    problem_file = tmp_path / "problems" / "montage.json"
    main(
        [
            "import-wfcommons",
            str(trace),
            "--problem",
            str(problem_file),
            "--nodes",
            "5",
            "--seed",
            "3",
        ]
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "problems"]  # no app folder written
    problem = SchedulingProblem.load(problem_file)
    assert len(problem.nodes) == 5
    # Same figures as the controller gets from the imported app on the same cluster.
    imported = import_trace(trace, tmp_path / "app")
    assert problem.to_dict() == app_problem(tmp_path / "app", Cluster.default(5, 3)).to_dict()
    assert problem.to_dict() == plan_problem(imported.plan, Cluster.default(5, 3)).to_dict()
    capsys.readouterr()
    main(["schedule", str(problem_file), "--algorithm", "heft", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["algorithm"] == "heft"
    assert {a["task"] for a in result["assignments"]} == set(problem.tasks)


def test_problem_on_a_cluster_file_and_app_together(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        "nodes:\n  - {name: edge, region: sfo, speed: 0.5}\n  - {name: cloud, region: fra}\n"
    )
    trace = next(t for t in TRACES if t.stem.startswith("blast-chameleon-small-002"))
    main(
        [
            "import-wfcommons",
            str(trace),
            str(tmp_path / "app"),
            "--problem",
            str(tmp_path / "p.json"),
            "--cluster",
            str(cluster),
        ]
    )
    problem = SchedulingProblem.load(tmp_path / "p.json")
    assert problem.nodes == ["edge", "cloud"]
    assert (tmp_path / "app" / "app.yaml").is_file()
    slow, fast = (problem.compute["blastall_ID000002"][n] for n in ("edge", "cloud"))
    assert slow == pytest.approx(2 * fast)


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        ([], "OUT"),
        (["--problem", "p.json", "--nodes", "0"], "--nodes"),
        (["--problem", "p.json", "--nodes", "2", "--cluster", "c.yaml"], "--nodes/--cluster"),
        (["OUTDIR", "--nodes", "2"], "--nodes"),
        (["OUTDIR", "--time-scale", "0"], "--time-scale"),
        (["OUTDIR", "--size-scale", "-1"], "--size-scale"),
    ],
)
def test_bad_import_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], option: str
) -> None:
    argv = ["import-wfcommons", str(TRACES[0])]
    argv += [str(tmp_path / x) if x in ("OUTDIR", "p.json", "c.yaml") else x for x in extra]
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option}: ") and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_a_broken_trace_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "broken.json"
    trace.write_text('{"workflow": {"tasks": [{"name": "a"}]}}')
    with pytest.raises(SystemExit) as stopped:
        main(["import-wfcommons", str(trace), str(tmp_path / "app")])
    assert stopped.value.code == 2
    assert "runtimeInSeconds: missing" in capsys.readouterr().err
    assert not (tmp_path / "app").exists()
