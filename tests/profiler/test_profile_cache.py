"""Profiles reused: the cache's keys and files, and runs that reuse, skip or refresh it.

Every test has its own XDG_CACHE_HOME (tests/conftest.py), so nothing reaches the real home.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest
from profiler_scenarios import write_app, write_cluster

from jupiter.api.client import AgentClient
from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.cli import main
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.profiler.cache import ProfileCache, app_key, cache_root, cluster_key
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile
from jupiter.profiler.reuse import ProfileReuse, mark_from_cache, start_refresh, store_refresh

KIB = 1024
QUICK = ProfileSettings(sizes=[4 * KIB, 16 * KIB], interval=0, execution_repeats=1)

THREE_NODES = """
nodes:
  - {name: x, region: ra, speed: 1.0}
  - {name: y, region: rb, speed: 1.0}
  - {name: z, region: rb, speed: 0.5}
regions: [{key: ra}, {key: rb}]
links:
  - {from: ra, to: ra, rtt_ms: 1, bandwidth_mbps: 800}
  - {from: rb, to: rb, rtt_ms: 1, bandwidth_mbps: 800}
  - {from: ra, to: rb, rtt_ms: 10, bandwidth_mbps: 200}
"""


def jupiter(*args: object) -> None:
    main([str(arg) for arg in args])


def fake_profile(app_name: str, tasks: list[str], nodes: list[str], **settings: object) -> Profile:
    """A profile as the cache sees one: its figures are never read here."""
    return Profile(
        app=app_name,
        tasks=tasks,
        nodes=nodes,
        emulated=True,
        created_at=time.time(),
        compute={task: dict.fromkeys(nodes, 0.01) for task in tasks},
        output_bytes=dict.fromkeys(tasks, 123),
        settings=dict(settings),
    )


def test_the_cache_lives_under_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "jupiter" / "profiles"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_root() == Path.home() / ".cache" / "jupiter" / "profiles"


def test_keys_change_with_speed_regions_and_code_not_with_timeouts(tmp_path: Path) -> None:
    cluster = load_cluster(write_cluster(tmp_path / "c.yaml", THREE_NODES))
    slower = load_cluster(write_cluster(tmp_path / "s.yaml", THREE_NODES.replace("0.5", "0.4")))
    moved = load_cluster(
        write_cluster(
            tmp_path / "m.yaml", THREE_NODES.replace("name: z, region: rb", "name: z, region: ra")
        )
    )
    keys = {cluster_key(cluster), cluster_key(slower), cluster_key(moved)}
    assert len(keys) == 3
    assert cluster_key(cluster) == cluster_key(load_cluster(tmp_path / "c.yaml"))
    assert cluster_key(cluster) != cluster_key(cluster.model_copy(update={"emulate": False}))

    root = write_app(tmp_path / "app", {"load": [], "work": ["load"]})
    key = app_key(load_app(root))
    spec = (root / "app.yaml").read_text()
    (root / "app.yaml").write_text(spec.replace("name: app", "name: app\ndefaults: {timeout: 9}"))
    assert app_key(load_app(root)) == key  # a timeout changes no figure
    (root / "tasks.py").write_text((root / "tasks.py").read_text() + "\n# edited\n")
    assert app_key(load_app(root)) != key  # edited code is profiled afresh


def test_an_entry_is_private_atomic_and_found_only_when_it_matches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = load_app(write_app(tmp_path / "app", {"load": [], "work": ["load"]}))
    cluster = Cluster.default(3)
    cache = ProfileCache(app, cluster)
    assert cache.lookup() is None
    network = {"sizes": [4 * KIB, 64 * KIB]}
    path = cache.store(fake_profile("app", ["load", "work"], cluster.node_names, network=network))
    assert path.parent.parent == cache_root()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    found = cache.lookup()
    assert found is not None and found.path == path and 0 <= found.age < 60
    used = mark_from_cache(found)
    assert used.settings["cache"]["path"] == str(path)
    assert found.profile.settings.get("cache") is None  # the entry itself is untouched

    # Other probe sizes asked for, another cluster, too old, or unreadable: a miss.
    assert cache.lookup(sizes=[4 * KIB, 8 * KIB]) is None
    assert cache.lookup(sizes=[64 * KIB, 4 * KIB]) is not None
    assert ProfileCache(app, Cluster.default(4)).lookup() is None
    old = found.profile.model_copy(update={"created_at": time.time() - 25 * 3600})
    cache.store(old)
    assert cache.lookup() is None
    assert cache.lookup(max_age=None) is not None  # --profile cached: whatever its age
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert cache.lookup() is None
    assert "unreadable" in caplog.text


def test_measured_output_sizes_come_from_any_cluster_s_entry(tmp_path: Path) -> None:
    app = load_app(write_app(tmp_path / "app", {"load": [], "work": ["load"]}))
    assert ProfileCache(app, Cluster.default(5)).measured_output_bytes() == {}
    other = ProfileCache(app, Cluster.default(2))
    other.store(fake_profile("app", ["load", "work"], Cluster.default(2).node_names))
    assert ProfileCache(app, Cluster.default(5)).measured_output_bytes() == {
        "load": 123,
        "work": 123,
    }


def run_report(app: Path, out: Path, *flags: object) -> dict:
    report_dir = out.with_name(out.name + "-report")
    jupiter("run", app, *flags, "--inputs", 2, "--out", out, "--report", report_dir, "--quiet")
    return json.loads((report_dir / "report.json").read_text())


@pytest.mark.e2e
def test_a_second_run_reuses_the_cached_profile_another_cluster_does_not(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"load": [], "work": ["load"]})
    cluster = write_cluster(tmp_path / "c.yaml", THREE_NODES)
    first = run_report(app, tmp_path / "o1", "--cluster", cluster)
    assert first["figure_sources"]["profile"].startswith("fresh: profiled by this run")
    assert "cache" not in first["profile"]["settings"]
    assert first["phases"]["profile"] > 0.1

    second = run_report(app, tmp_path / "o2", "--cluster", cluster)
    assert second["figure_sources"]["profile"].startswith("cache: ")
    assert "taken " in second["figure_sources"]["profile"]
    cached = second["profile"]["settings"]["cache"]
    assert cached["age_seconds"] >= 0 and cached["taken_at"] == first["profile"]["created_at"]
    assert second["profile"]["compute"] == first["profile"]["compute"]
    assert second["phases"]["profile"] < 1.0  # a file read, not a measurement

    # Another speed is another cluster; --profile fresh ignores a matching entry.
    slower = write_cluster(tmp_path / "s.yaml", THREE_NODES.replace("0.5", "0.25"))
    third = run_report(app, tmp_path / "o3", "--cluster", slower)
    assert third["figure_sources"]["profile"].startswith("fresh")
    fourth = run_report(app, tmp_path / "o4", "--cluster", cluster, "--profile", "fresh")
    assert fourth["figure_sources"]["profile"].startswith("fresh")
    assert fourth["profile"]["created_at"] > first["profile"]["created_at"]


@pytest.mark.e2e
def test_run_sizes_are_honoured_and_app_sizes_are_the_default(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"load": [], "work": ["load"]})
    given = run_report(app, tmp_path / "o1", "--nodes", 3, "--sizes", "4K,64K")
    assert given["profile"]["settings"]["network"]["sizes"] == [4 * KIB, 64 * KIB]
    assert given["profile"]["settings"]["probe_sizes"]["from"] == "--sizes"
    assert all(
        fit["sizes"] == [4 * KIB, 64 * KIB]
        for row in given["profile"]["links"].values()
        for fit in row.values()
    )
    # Without --sizes, the app's: the first run measured load's output, 50,000 bytes (its
    # estimate said 100), so the probes span the 2,000-byte samples (floor 4K) to 49K.
    sized = run_report(app, tmp_path / "o2", "--nodes", 3, "--profile", "fresh")
    assert sized["profile"]["settings"]["network"]["sizes"] == [4 * KIB, 14 * KIB, 49 * KIB]
    assert sized["profile"]["settings"]["probe_sizes"]["from"].startswith("the app: measured")


@pytest.mark.e2e
def test_a_reused_profile_s_links_are_refreshed_by_the_agents(tmp_path: Path) -> None:
    app = load_app(write_app(tmp_path / "app", {"load": [], "work": ["load"]}))
    cluster = Cluster.default(3)
    cache = ProfileCache(app, cluster)

    async def scenario() -> tuple[Profile, Profile | None]:
        async with local_agents(app, cluster) as agents:
            taken = await gather_profile(
                agents.session, agents.urls, app, cluster, agents.auth, QUICK
            )
        cache.store(taken)
        found = cache.lookup()
        assert found is not None
        reuse = ProfileReuse(mark_from_cache(found), cache, from_cache=True)
        async with local_agents(app, cluster) as agents:
            await start_refresh(reuse, agents.session, agents.urls, cluster, agents.auth, QUICK)
            assert reuse.refreshing
            # The run would stream meanwhile; here, wait for every agent's round.
            client = AgentClient(agents.session, agents.urls, agents.auth)
            for node in cluster.node_names:
                await client.network(node, samples=False, wait_first=30, timeout=40)
            return taken, await store_refresh(reuse, agents.session, agents.urls, agents.auth)

    taken, refreshed = asyncio.run(scenario())
    assert refreshed is not None
    entry = Profile.load(cache.path)
    assert entry.settings["refresh"]["nodes"] == cluster.node_names
    assert entry.created_at == taken.created_at  # the compute figures' age
    assert entry.compute == taken.compute
    for node, row in entry.links.items():
        for peer, fit in row.items():
            assert fit.fitted_at > taken.links[node][peer].fitted_at
            assert fit.sizes == [4 * KIB, 16 * KIB]
    assert "cache" not in entry.settings
    assert os.stat(cache.path).st_mode & 0o077 == 0
