"""Profiles in use: the mapper follows them, `jupiter run` makes or reuses one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from profiler_scenarios import write_app, write_cluster

from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.backends.local import LocalBackend
from jupiter.cli import main
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.controller.run import RunOptions, run
from jupiter.errors import RunError
from jupiter.mapper.registry import get_mapper
from jupiter.planning.problem import build_problem
from jupiter.profiler.home import ProfileSettings, gather_profile

pytestmark = pytest.mark.e2e

KIB = 1024

# Inputs enter on `src`, a node far too slow to compute on; `fast` computes four times as fast as
# `slow` (a margin that host contention, which inflates `fast`'s wall time, does not close),
# and every link is quick, until SLOWED makes src -> fast a 2 Mbit/s link.
THREE_NODES = """
nodes:
  - {name: src, region: rs, speed: 0.05}
  - {name: fast, region: rp, speed: 1.0}
  - {name: slow, region: rq, speed: 0.25}
regions: [{key: rs}, {key: rp}, {key: rq}]
links:
  - {from: rs, to: rs, rtt_ms: 1, bandwidth_mbps: 800}
  - {from: rp, to: rp, rtt_ms: 1, bandwidth_mbps: 800}
  - {from: rq, to: rq, rtt_ms: 1, bandwidth_mbps: 800}
  - {from: rs, to: rp, rtt_ms: 10, bandwidth_mbps: 400}
  - {from: rs, to: rq, rtt_ms: 10, bandwidth_mbps: 400}
  - {from: rp, to: rq, rtt_ms: 10, bandwidth_mbps: 400}
"""
SLOWED = THREE_NODES.replace(
    "{from: rs, to: rp, rtt_ms: 10, bandwidth_mbps: 400}",
    "{from: rs, to: rp, rtt_ms: 10, bandwidth_mbps: 2}",
)


def jupiter(*args: object) -> None:
    main([str(arg) for arg in args])


async def mapping_on(app_root: Path, cluster: Cluster) -> tuple[dict[str, str], str]:
    app = load_app(app_root)
    settings = ProfileSettings(sizes=[4 * KIB, 32 * KIB, 128 * KIB])
    async with local_agents(app, cluster) as agents:
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
    built = build_problem(app, cluster, profile)
    schedule = get_mapper("heft")(built.problem)
    schedule.check(built.problem)
    return schedule.mapping, built.sources["links"]


def test_the_mapper_moves_work_off_a_link_that_is_made_slow(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "app",
        {"load": [], "work": ["load"]},
        pins={"input": "src"},
        sample_bytes=200_000,
    )
    before, sources = asyncio.run(
        mapping_on(app, load_cluster(write_cluster(tmp_path / "even.yaml", THREE_NODES)))
    )
    after, _ = asyncio.run(
        mapping_on(app, load_cluster(write_cluster(tmp_path / "slowed.yaml", SLOWED)))
    )
    assert sources.startswith("network profile")
    # 200 KB of input: a few ms to `fast` over 400 Mbit/s, most of a second over 2 Mbit/s.
    assert before["load"] == "fast"
    assert after["load"] == "slow"


def test_run_profiles_by_default_and_reports_where_figures_came_from(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"load": [], "work": ["load"]})
    report_dir = tmp_path / "report"
    jupiter(
        "run",
        app,
        "--nodes",
        4,
        "--inputs",
        3,
        "--out",
        tmp_path / "out",
        "--report",
        report_dir,
        # Sizes that resolve every link's bandwidth: sized to this app's tiny outputs, the
        # probes may leave a fast link's bandwidth to the link model (and say so).
        "--sizes",
        "4K,256K,1M",
        "--quiet",
    )
    report = json.loads((report_dir / "report.json").read_text())
    assert report["phases"]["profile"] > 0
    sources = report["figure_sources"]
    assert sources["compute"].startswith("execution profile")
    assert sources["links"] == "network profile: quadratic fits of timed transfers, 12 of 12 links"
    assert report["profile"]["nodes"] == ["n00", "n01", "n02", "n03"]
    # Each task's measured run durations sit beside what the profile said for that node.
    for task in ("load", "work"):
        entry = report["execution"][task]
        assert set(entry["profiled"]) == {"n00", "n01", "n02", "n03"}
        node = report["mapping"][task]
        measured = entry["measured"][node]
        assert measured["runs"] == 3
        assert measured["profiled"] == entry["profiled"][node]
        assert measured["median"] > 0


def test_a_saved_profile_is_reused_and_a_mismatched_one_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_app(tmp_path / "app", {"load": [], "work": ["load"]})
    saved = tmp_path / "profile.json"
    jupiter("profile", app, "--nodes", 4, "--sizes", "4K,64K", "--save", saved, "--quiet")
    report_dir = tmp_path / "report"
    jupiter(
        "run",
        app,
        "--nodes",
        4,
        "--profile",
        saved,
        "--inputs",
        2,
        "--out",
        tmp_path / "out",
        "--report",
        report_dir,
        "--quiet",
    )
    report = json.loads((report_dir / "report.json").read_text())
    assert report["phases"]["profile"] < 0.1  # nothing measured: the file was used
    assert report["figure_sources"]["compute"].startswith("execution profile")
    assert report["profile"] == json.loads(saved.read_text())
    capsys.readouterr()

    with pytest.raises(SystemExit) as exited:
        jupiter("run", app, "--nodes", 5, "--profile", saved, "--quiet")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    lacks = "does not match this run's nodes: it lacks n04"
    assert err == f"error: {saved}: nodes: profile of 'app' {lacks}\n"
    other = write_app(tmp_path / "other", {"load": [], "work": ["load"], "more": ["work"]})
    with pytest.raises(SystemExit):
        jupiter("run", other, "--nodes", 4, "--profile", saved, "--quiet")
    assert capsys.readouterr().err.count("\n") == 1


def test_a_task_that_fails_on_the_sample_input_fails_profiling(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"load": [], "boom": ["load"]}, {"boom": "explode"})
    options = RunOptions(
        backend=LocalBackend(), app=app, cluster=Cluster.default(3), inputs=1, timeout=60
    )
    with pytest.raises(
        RunError,
        match=r"(?s)profiling on node n00 \(sample input 0\): "
        r"task 'boom' failed: .*sensor offline",
    ):
        asyncio.run(run(options))
