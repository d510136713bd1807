"""The distributed WAVE on real agents over real sockets: the agents' mapper roles decide
from their own link fits and the load announced through the home, and make exactly the
decisions of the in-process function fed the same views; a run mapped that way completes
with every output and reports the messages it took."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import aiohttp
import pytest

from jupiter.agent.auth import auth_headers
from jupiter.api import paths
from jupiter.app.spec import load_app
from jupiter.backends.local import LocalBackend
from jupiter.cli import main
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import deployed_agents
from jupiter.controller.wave_home import distributed_wave
from jupiter.mapper import wave
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.wave_plan import WavePlan, decide_in_process, link_rows

from .apps import diamond, expected_outputs, layered


def random_problem(cluster: Cluster, tasks: int, seed: int, cap: int | None) -> SchedulingProblem:
    """A random DAG over the cluster's nodes, its links the cluster's link model: what an
    agent without a network profile takes as its own view."""
    rng = random.Random(seed)
    nodes = cluster.node_names
    names = [f"t{i:02d}" for i in range(tasks)]
    edges = []
    for i, task in enumerate(names[2:], start=2):
        for parent in rng.sample(names[:i], rng.randint(1, min(3, i))):
            edges.append(Edge(parent, task, rng.uniform(1e3, 5e6)))
    compute = {t: {n: rng.uniform(0.05, 2.0) for n in nodes} for t in names}
    links = {
        a: {
            b: LinkModel(cluster.link(a, b).latency, 1.0 / cluster.link(a, b).bandwidth)
            for b in nodes
            if b != a
        }
        for a in nodes
    }
    pinned = {names[-1]: nodes[0]}
    return SchedulingProblem(names, nodes, compute, edges, links, pinned, cap)


@pytest.mark.parametrize("peer_links", [False, True])
def test_agents_decide_as_the_in_process_wave_from_the_same_views(
    tmp_path: Path, peer_links: bool
) -> None:
    app = load_app(diamond(tmp_path / "diamond"))
    cluster = Cluster.default(6)
    problem = random_problem(cluster, 40, seed=5, cap=9)
    problem.validate()

    async def scenario() -> None:
        async with deployed_agents(app, cluster, LocalBackend(), profiling=False) as context:
            outcome = await distributed_wave(
                context.state.wave,
                context.agents(),
                context.state.latch,
                problem,
                peer_links=peer_links,
            )
            await refused_after_the_wave(context.home_url, context.token)
        a = compile_problem(problem)
        in_process = decide_in_process(WavePlan.of(a), link_rows(a), peer_links=peer_links)
        assert outcome.decisions == in_process
        assert outcome.same_as_in_process
        expected = wave.schedule(problem, peer_links=peer_links).mapping
        assert outcome.schedule.mapping == expected
        outcome.schedule.check(problem)
        # Each agent decided from its own row, which here is the cluster's link model.
        assert outcome.links == a.problem.links
        # Really distributed: most tasks were decided by agents, on several nodes.
        deciders = [d.decider for d in outcome.decisions]
        entries = sum(1 for t in problem.tasks if not any(e.dst == t for e in problem.edges))
        assert deciders.count(None) == entries == 2
        assert len({d for d in deciders if d is not None}) >= 3
        m = outcome.messages
        assert m.start == 6
        assert m.turns == m.announcements == 38
        assert m.appointments + m.local_appointments == 40
        assert m.total == 6 + m.appointments + 2 * 38

    asyncio.run(scenario())


async def refused_after_the_wave(home_url: str, token: str) -> None:
    """The ledger's routes: the token is checked, a bad body is a 400, a turn outside a WAVE
    a 409; never a 5xx."""
    turn = f"{home_url}{paths.HOME_WAVE_TURN}"
    body = {"node": "n00", "task": "t05"}
    async with aiohttp.ClientSession() as session:
        async with session.post(turn, json=body) as response:
            assert response.status == 401
        headers = auth_headers(token)
        async with session.post(turn, json={"node": "n00"}, headers=headers) as response:
            assert response.status == 400
        async with session.post(turn, json=body, headers=headers) as response:
            assert response.status == 409
            assert (
                "no distributed WAVE" in await response.text() or "ended" in await response.text()
            )


def test_a_run_mapped_by_the_agents_completes_and_reports_the_messages(tmp_path: Path) -> None:
    app = layered(tmp_path / "twenty", 20)
    out, report_dir = tmp_path / "out", tmp_path / "report"
    main(
        [
            "run",
            str(app),
            "--nodes",
            "6",
            "--inputs",
            "4",
            "--mapper",
            "wave-distributed",
            "--out",
            str(out),
            "--report",
            str(report_dir),
            "--quiet",
        ]
    )
    report = json.loads((report_dir / "report.json").read_text())
    assert report["mapper"] == "wave-distributed"
    assert sorted(entry["id"] for entry in report["inputs"]) == [0, 1, 2, 3]
    for entry in report["inputs"]:
        got = {task: Path(path).read_text() for task, path in entry["outputs"].items()}
        assert got == expected_outputs(app, entry["id"])
    section = report["wave"]
    # 20 tasks and 2 sources, each appointed once; the sources are the home's to appoint.
    assert section["decisions"] == len(report["mapping"]) == 22
    assert section["same_as_in_process"] is True
    m = section["messages"]
    assert m["start"] == 6
    assert m["turns"] == m["announcements"] == section["by_agents"]
    assert m["appointments"] + m["local_appointments"] == 22
    assert m["total"] == m["start"] + m["appointments"] + m["turns"] + m["announcements"]
