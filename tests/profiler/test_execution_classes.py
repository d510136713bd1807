"""Execution profiles per hardware class with real agents: each task is timed on at most two
nodes of each class (counted from the agents' own records), every node still gets a figure
with its source, and the stream's task records refine figures in report.json."""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from jupiter.api.client import AgentClient
from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.backends.local import LocalBackend
from jupiter.cli import main
from jupiter.cluster.spec import load_cluster
from jupiter.controller.run import RunContext, RunOptions, run
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.report.report import build_report, print_summary, write_report

pytestmark = pytest.mark.e2e

# CPU work, so that node speed stretches it alike when profiled and when streamed.
CODE = """
import time


def spin(inputs, output, seconds=0.004):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    data = b"".join(path.read_bytes()[:200] for path in inputs.values())
    output.write_bytes(data or b"x")


def a(inputs, output):
    spin(inputs, output)


def b(inputs, output):
    spin(inputs, output)


def c(inputs, output):
    spin(inputs, output)
"""

# Three classes; speeds differ within each class and across them.
NODES = [
    ("a1", 1.0, "cpu-a"),
    ("a2", 0.5, "cpu-a"),
    ("a3", 0.8, "cpu-a"),
    ("a4", 0.25, "cpu-a"),
    ("b1", 0.6, "cpu-b"),
    ("b2", 0.3, "cpu-b"),
    ("b3", 0.9, "cpu-b"),
    ("g1", 0.7, "gpu"),
]
# Slowest and fastest of each class, the one node of `gpu`.
TIMED = {"cpu-a": ["a1", "a4"], "cpu-b": ["b2", "b3"], "gpu": ["g1"]}
TASKS = ("a", "b", "c")
INPUTS = 6


def write_app(root: Path, pins: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    (root / "tasks.py").write_text(CODE)
    (root / "samples").mkdir()
    for k in range(2):
        (root / "samples" / f"{k}.bin").write_bytes(bytes([65 + k]) * 500)
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    spec = {
        "name": "classes",
        "sources": [{"name": "input", "feeds": ["a"], "inputs": ["samples/*.bin"]}],
        "tasks": {
            task: {
                "python": f"tasks.py:{task}",
                "parents": parents[task],
                **({"node": pins[task]} if task in pins else {}),
            }
            for task in TASKS
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def write_cluster(path: Path) -> Path:
    nodes = [{"name": n, "region": "sfo", "speed": s, "class": k} for n, s, k in NODES]
    path.write_text(yaml.safe_dump({"nodes": nodes}))
    return path


def test_tasks_are_timed_per_class_and_the_run_refines_the_figures(tmp_path: Path) -> None:
    # `b` runs on a3, a node the profiler never timed: its figure comes from cpu-a, and the
    # stream then teaches it.
    app = write_app(tmp_path / "app", pins={"b": "a3"})
    cluster = load_cluster(write_cluster(tmp_path / "cluster.yaml"))
    agents_said: dict[str, dict[str, Any]] = {}

    async def ask_the_agents(context: RunContext) -> None:
        # Each agent's own record of what its execution profiler ran.
        client = context.agents()
        for node in cluster.node_names:
            answer = await client.execution(node)
            agents_said[node] = answer.profiled

    options = RunOptions(
        app=app,
        cluster=cluster,
        backend=LocalBackend(),
        inputs=INPUTS,
        max_in_flight=1,
        timeout=120,
        out_dir=tmp_path / "out",
        # Links are not under test here: the link model serves.
        profile_settings=ProfileSettings(network=False),
        on_stream=ask_the_agents,
    )
    result = asyncio.run(run(options))
    assert len(result.completed_at) == INPUTS
    built = build_report(result, "heft")
    report = json.loads(write_report(built, tmp_path / "r").read_text())
    console = Console(record=True, width=300)
    print_summary(built, console)
    summary = console.export_text()

    # Counted from the agents: only the chosen nodes ran tasks under the profiler, each
    # task at most twice per class, and the report's count is theirs.
    assert set(agents_said) == set(cluster.node_names)
    timed_nodes = {node for node, profiled in agents_said.items() if profiled}
    assert timed_nodes == {node for nodes in TIMED.values() for node in nodes}
    for task in TASKS:
        ran = [node for node in timed_nodes if agents_said[node][task]["runs"] >= 1]
        for kind, nodes in TIMED.items():
            assert len([n for n in ran if n in nodes]) <= 2, (task, kind)
    runs = sum(figures["runs"] for node in timed_nodes for figures in agents_said[node].values())
    section = report["execution_profile"]
    assert section["runs"] == runs
    assert runs <= len(TASKS) * len(timed_nodes) * 3  # at most 3 timed runs each
    assert section["nodes"] == "per-class"
    assert section["timed"] == TIMED
    assert section["classes"] == {
        "cpu-a": ["a1", "a2", "a3", "a4"],
        "cpu-b": ["b1", "b2", "b3"],
        "gpu": ["g1"],
    }

    # The matrix is full, each figure's source right, from-class figures the class's
    # speed-scaled median, measured ones what the agent measured.
    speeds = {n: s for n, s, _ in NODES}
    profile = report["profile"]
    for task in TASKS:
        assert set(profile["compute"][task]) == set(cluster.node_names)
        for kind, timed in TIMED.items():
            work = statistics.median(agents_said[n][task]["seconds"] * speeds[n] for n in timed)
            for node in section["classes"][kind]:
                figure = section["figures"][task][node]
                assert figure["profiled"] == profile["compute"][task][node]
                if node in timed:
                    assert figure["profiled_source"] == "measured"
                    assert figure["profiled"] == agents_said[node][task]["seconds"]
                else:
                    assert figure["profiled_source"] == "from-class"
                    assert figure["profiled"] == pytest.approx(work / speeds[node])

    # Runtime refinement: every (task, node) that ran in the stream is learned, by the EWMA
    # of its durations (in order of finish) from the profiled figure; the rest kept theirs.
    durations: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for record in report["stats"]:
        if record["task"] in TASKS:
            durations.setdefault((record["task"], record["node"]), []).append(
                (record["finish"], record["duration"])
            )
    assert ("b", "a3") in durations
    alpha = section["alpha"]
    assert alpha == 0.3
    for task in TASKS:
        for node, figure in section["figures"][task].items():
            ran = sorted(durations.get((task, node), []))
            if not ran:
                assert figure["source"] == figure["profiled_source"]
                assert figure["seconds"] == figure["profiled"]
                assert figure["samples"] == 0
                continue
            expected = figure["profiled"]
            for _, duration in ran:
                expected += alpha * (duration - expected)
            assert figure["source"] == "learned"
            assert figure["samples"] == len(ran)
            assert figure["seconds"] == pytest.approx(expected)
            assert figure["seconds"] != figure["profiled"]
    learned = len(durations)
    counts = section["counts"]
    assert counts["learned"] == learned
    assert sum(counts.values()) == len(TASKS) * len(NODES)
    from_class_left = sum(
        1
        for task in TASKS
        for figure in section["figures"][task].values()
        if figure["source"] == "from-class"
    )
    assert counts.get("from-class", 0) == from_class_left > 0
    assert section["figures"]["b"]["a3"]["profiled_source"] == "from-class"
    assert (
        f"execution profile: per-class, 5 of 8 nodes timed (3 classes), {runs} runs; "
        f"figures: {counts.get('from-class', 0)} from-class, {learned} learned, "
        f"{counts['measured']} measured"
    ) in " ".join(summary.split())  # the summary wraps at 80 columns
    assert report["figure_sources"]["compute"].endswith(
        "timed on 5 of 8 nodes (3 hardware classes), "
        f"{len(TASKS) * 3} figures from the node's class scaled by speed"
    )


def test_every_node_mode_times_every_task_on_every_node(tmp_path: Path) -> None:
    app_root = write_app(tmp_path / "app", pins={})
    cluster = load_cluster(write_cluster(tmp_path / "cluster.yaml"))
    settings = ProfileSettings(network=False, execution_nodes="every-node", execution_repeats=1)

    async def profile_and_ask() -> tuple[Any, dict[str, dict[str, Any]]]:
        app = load_app(app_root)
        async with local_agents(app, cluster) as agents:
            profile = await gather_profile(
                agents.session, agents.urls, app, cluster, agents.auth, settings
            )
            client = AgentClient(agents.session, agents.urls, agents.auth)
            said = {node: (await client.execution(node)).profiled for node in agents.urls}
        return profile, said

    profile, said = asyncio.run(profile_and_ask())
    assert all(set(said[node]) == set(TASKS) for node in cluster.node_names)
    assert profile.settings["execution"]["runs"] == len(TASKS) * len(NODES)
    assert {profile.source_of(task, node) for task in TASKS for node in cluster.node_names} == {
        "measured"
    }


def test_jupiter_run_takes_the_execution_nodes_from_jupiter_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_app(tmp_path / "app", pins={})
    cluster_file = write_cluster(tmp_path / "cluster.yaml")
    config = tmp_path / "jupiter.yaml"
    config.write_text(yaml.safe_dump({"profiler": {"execution": "every-node", "network": False}}))
    main(
        [
            "run",
            str(app),
            "--config",
            str(config),
            "--cluster",
            str(cluster_file),
            "--inputs",
            "3",
            "--out",
            str(tmp_path / "out"),
            "--report",
            str(tmp_path / "report"),
        ]
    )
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    section = report["execution_profile"]
    assert section["nodes"] == "every-node"
    assert section["timed"] == section["classes"]
    ran = {(r["task"], r["node"]) for r in report["stats"] if r["task"] in TASKS}
    assert ran and section["counts"] == {
        "measured": len(TASKS) * len(NODES) - len(ran),
        "learned": len(ran),
    }
    assert {
        (task, node)
        for task, row in section["figures"].items()
        for node, figure in row.items()
        if figure["source"] == "learned"
    } == ran
    out = capsys.readouterr().out
    assert "execution profile: every-node, 8 of 8 nodes timed (3 classes)" in " ".join(out.split())
