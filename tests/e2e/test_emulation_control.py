"""Changing conditions mid-run: a node slowed 5x by cluster.yaml's schedule shows in its task
durations and is restored; the home's and agents' routes refuse strangers, bad bodies and
slowdowns without emulation; `jupiter emulate` changes a live `jupiter run`.

Real agents, real sockets, real `jupiter` processes. Bounds on durations are generous: the
host is shared.
"""

from __future__ import annotations

import asyncio
import json
import signal
import stat
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from jupiter.agent.auth import auth_headers
from jupiter.api import paths
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import load_cluster
from jupiter.controller.run import RunContext, RunOptions, run
from jupiter.report.report import build_report

from .apps import write_dag_app
from .home_processes import jupiter as jupiter_process

SPIN = """

def spin_then_mix(name, inputs, output, seconds):
    import time
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    mix(name, inputs, output)
"""

TASK_CPU_S = 0.08


def spin_app(root: Path) -> Path:
    """source -> a; `a` spins TASK_CPU_S of CPU."""
    app = write_dag_app(root, {"a": []}, {"input": ["a"]}, samples=1, extra_code=SPIN)
    code = (app / "tasks.py").read_text()
    code = code.replace(
        "    mix('a', inputs, output)", f"    spin_then_mix('a', inputs, output, {TASK_CPU_S})"
    )
    (app / "tasks.py").write_text(code)
    return app


def cluster_file(tmp_path: Path, names: list[str], **extra: Any) -> Path:
    path = tmp_path / "cluster.yaml"
    regions = ["sfo", "nyc", "ams"]
    nodes = [{"name": n, "region": regions[i % 3], "speed": 1.0} for i, n in enumerate(names)]
    path.write_text(yaml.safe_dump({"nodes": nodes, **extra}))
    return path


def test_a_scheduled_slowdown_stretches_the_node_s_tasks_5x_then_restores(tmp_path: Path) -> None:
    events = [{"at": 1.0, "slow": "n0", "factor": 5}, {"at": 3.0, "restore": "n0"}]
    cluster = load_cluster(cluster_file(tmp_path, ["n0"], events=events))
    options = RunOptions(
        app=spin_app(tmp_path / "app"),
        cluster=cluster,
        backend=LocalBackend(),
        inputs=28,
        max_in_flight=1,
        out_dir=tmp_path / "out",
        profiling=False,
        timeout=120,
    )
    result = asyncio.run(run(options))
    assert len(result.completed_at) == 28
    report = build_report(result, "heft")
    assert report.conditions is not None
    slow, restore = report.conditions
    assert (slow.kind, slow.node, slow.factor, slow.source) == ("slow", "n0", 5.0, "schedule")
    assert (restore.kind, restore.factor, restore.change) == ("restore", 1.0, "restore n0")
    # Applied at their times after the stream began (give or take the loop's wake-up).
    assert slow.stream_s is not None and 1.0 <= slow.stream_s < 1.5
    assert restore.stream_s is not None and 3.0 <= restore.stream_s < 3.5

    runs = [r for r in report.stats if r.task == "a"]
    # A run's hold is decided when it ends: class runs by their end, skipping those that
    # straddle a change.
    before = [r for r in runs if r.finish is not None and r.finish < slow.at]
    during = [
        r for r in runs if r.start is not None and slow.at < r.start and r.finish < restore.at
    ]  # type: ignore[operator]
    after = [r for r in runs if r.start is not None and r.start > restore.at]
    assert len(before) >= 3 and len(during) >= 2 and len(after) >= 3, (
        len(before),
        len(during),
        len(after),
    )

    def per_cpu(records: list[Any]) -> float:
        # Against the CPU each run used: the slot holds CPU x stretch (never less than the
        # wall time), and the CPU a run uses does not grow with the host's load.
        return statistics.median(r.duration / r.cpu for r in records)

    # Stretched 5x while slowed; not before or after (a busy host's contention may still
    # lengthen a run's wall time, hence the margin).
    assert 4.0 < per_cpu(during) < 7.0, per_cpu(during)
    assert per_cpu(before) < 3.5, per_cpu(before)
    assert per_cpu(after) < 3.5, per_cpu(after)


def test_routes_refuse_strangers_and_bad_bodies_and_pass_changes_to_the_agent(
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    async def poke(context: RunContext) -> None:
        home = context.home_url + paths.HOME_EMULATION
        agent = context.state.agents["n0"] + paths.EMULATION
        auth = auth_headers(context.token)
        async with aiohttp.ClientSession() as session:

            async def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, str]:
                async with session.post(url, json=body, headers=headers) as response:
                    return response.status, await response.text()

            seen["home_no_token"] = await post(home, {"slow": "n0", "factor": 5}, {})
            wrong = auth_headers("not-the-token")
            seen["agent_wrong_token"] = await post(agent, {"node": 5}, wrong)
            async with session.get(agent) as response:
                seen["agent_get_no_token"] = response.status
            for name, body in {
                "no_change": {"factor": 5},
                "two_changes": {"slow": "n0", "restore": "n1", "factor": 2},
                "below_one": {"slow": "n0", "factor": 0.5},
                "no_factor": {"slow": "n0"},
                "unknown_field": {"slow": "n0", "factor": 2, "speed": 1},
                "self_link": {"slow_link": ["n0", "n0"], "factor": 2},
            }.items():
                seen[f"home_{name}"] = await post(home, body, auth)
            seen["home_unknown_node"] = await post(home, {"slow": "n9", "factor": 2}, auth)
            seen["agent_empty"] = await post(agent, {}, auth)
            seen["agent_string_factor"] = await post(agent, {"node": "5"}, auth)
            seen["agent_unknown_link"] = await post(
                agent, {"link": {"to": "n9", "factor": 2}}, auth
            )

            seen["slow_link"] = await post(home, {"slow_link": ["n0", "n1"], "factor": 4}, auth)
            seen["slow_node"] = await post(home, {"slow": "n1", "factor": 3}, auth)
            async with session.get(agent, headers=auth) as response:
                seen["agent_state"] = await response.json()
            seen["restore_link"] = await post(home, {"restore_link": ["n0", "n1"]}, auth)
            seen["restore_node"] = await post(home, {"restore": "n1"}, auth)
        seen["done"] = True

    options = RunOptions(
        app=spin_app(tmp_path / "app"),
        cluster=load_cluster(cluster_file(tmp_path, ["n0", "n1"])),
        backend=LocalBackend(),
        inputs=40,
        max_in_flight=1,
        out_dir=tmp_path / "out",
        profiling=False,
        on_stream=poke,
    )
    result = asyncio.run(run(options))
    assert seen.get("done"), seen
    assert seen["home_no_token"][0] == 401
    assert seen["agent_wrong_token"][0] == 401
    assert seen["agent_get_no_token"] == 401
    for name in ("no_change", "two_changes", "below_one", "no_factor", "unknown_field"):
        status, text = seen[f"home_{name}"]
        assert status == 400 and "\n" not in text.strip(), (name, status, text)
    assert seen["home_self_link"][0] == 400 and "itself" in seen["home_self_link"][1]
    assert seen["home_unknown_node"] == (404, "no agent 'n9' in this run")
    assert seen["agent_empty"][0] == 400 and "give node, link or both" in seen["agent_empty"][1]
    assert seen["agent_string_factor"][0] == 400
    assert seen["agent_unknown_link"] == (400, "bad link: no node 'n9' in this run")

    status, text = seen["slow_link"]
    assert status == 200, text
    applied = json.loads(text)
    assert applied["change"] == "slow n0->n1 x4"
    assert applied["slowdowns"] == {"node": "n0", "factor": 1.0, "links": {"n1": 4.0}}
    assert json.loads(seen["slow_node"][1])["slowdowns"]["factor"] == 3.0
    assert seen["agent_state"] == {"node": "n0", "factor": 1.0, "links": {"n1": 4.0}}
    assert json.loads(seen["restore_link"][1])["slowdowns"]["links"] == {}
    assert json.loads(seen["restore_node"][1])["slowdowns"]["factor"] == 1.0
    # The report lists the four changes applied, in order; refused ones are not there.
    changes = [(c.change, c.source) for c in build_report(result, "heft").conditions or []]
    assert changes == [
        ("slow n0->n1 x4", "request"),
        ("slow n1 x3", "request"),
        ("restore n0->n1", "request"),
        ("restore n1", "request"),
    ]


def test_slowing_without_emulation_is_refused_with_409(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def poke(context: RunContext) -> None:
        auth = auth_headers(context.token)
        async with aiohttp.ClientSession() as session:
            for name, url, body in (
                ("home", context.home_url + paths.HOME_EMULATION, {"slow": "n0", "factor": 2}),
                ("agent", context.state.agents["n0"] + paths.EMULATION, {"node": 2}),
            ):
                async with session.post(url, json=body, headers=auth) as response:
                    seen[name] = (response.status, await response.text())
        seen["done"] = True

    cluster = load_cluster(cluster_file(tmp_path, ["n0"], emulate=False))
    options = RunOptions(
        app=spin_app(tmp_path / "app"),
        cluster=cluster,
        backend=LocalBackend(),
        inputs=20,
        max_in_flight=1,
        out_dir=tmp_path / "out",
        profiling=False,
        on_stream=poke,
    )
    result = asyncio.run(run(options))
    assert seen.get("done"), seen
    for name in ("home", "agent"):
        status, text = seen[name]
        assert status == 409 and text.startswith("emulation is off"), (name, status, text)
        assert "\n" not in text.strip()
    assert build_report(result, "heft").conditions is None


# -- `jupiter run` + `jupiter emulate` -----------------------------------------------------


def jupiter(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    """`jupiter ARGS` run from `cwd`, where it writes its run file (.jupiter/run.json)."""
    return jupiter_process(cwd, *args, cwd=cwd)


def emulate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupiter", "emulate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_jupiter_emulate_changes_a_live_run_through_its_run_file(tmp_path: Path) -> None:
    app = spin_app(tmp_path / "app")
    cluster = cluster_file(tmp_path, ["n0", "n1"])
    run_file = tmp_path / ".jupiter" / "run.json"
    # No run yet: one line, exit 2.
    missing = emulate(tmp_path, "slow", "n0", "--factor", "5")
    assert missing.returncode == 2 and "no run file" in missing.stderr
    home = jupiter(
        tmp_path,
        "run",
        str(app),
        "--cluster",
        str(cluster),
        "--inputs",
        "400",
        "--max-in-flight",
        "1",
        "--no-profile",
        "--no-config",
        "--out",
        str(tmp_path / "out"),
        "--report",
        str(tmp_path / "report"),
        "--quiet",
    )
    deadline = time.monotonic() + 60
    while not run_file.exists():
        assert home.poll() is None, home.communicate()
        assert time.monotonic() < deadline, "no run file"
        time.sleep(0.1)
    # Readable by its owner only: it holds the run token.
    assert stat.S_IMODE(run_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(run_file.parent.stat().st_mode) == 0o700
    assert json.loads(run_file.read_text())["tls"] is None  # a local run: no TLS by default
    assert set(json.loads(run_file.read_text())) == {"home_url", "run_id", "token", "pid", "tls"}

    slowed = emulate(tmp_path, "slow", "n0", "--factor", "5")
    assert slowed.returncode == 0, slowed.stderr
    assert slowed.stdout.strip().endswith(": slow n0 x5")
    link = emulate(tmp_path, "slow-link", "n0", "n1", "--factor", "2", "--run", str(run_file))
    assert link.returncode == 0 and "slow n0->n1 x2" in link.stdout, link.stderr
    unknown = emulate(tmp_path, "slow", "n7", "--factor", "5")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: no agent 'n7' in this run"
    too_fast = emulate(tmp_path, "slow", "n0", "--factor", "0.5")
    assert too_fast.returncode == 2
    assert emulate(tmp_path, "restore-link", "n0", "n1").returncode == 0
    assert emulate(tmp_path, "restore", "n0").returncode == 0
    # A stranger with the run file's URL but without its token is refused.
    url = json.loads(run_file.read_text())["home_url"] + paths.HOME_EMULATION

    async def stranger() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"restore": "n0"}) as response,
        ):
            return response.status

    assert asyncio.run(stranger()) == 401

    home.send_signal(signal.SIGINT)
    home.communicate(timeout=60)
    assert not run_file.exists() and not run_file.parent.exists()
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [c["change"] for c in report["conditions"]] == [
        "slow n0 x5",
        "slow n0->n1 x2",
        "restore n0->n1",
        "restore n0",
    ]


def test_jupiter_emulate_reaches_a_home_with_tls_through_its_run_file(tmp_path: Path) -> None:
    app = spin_app(tmp_path / "app")
    cluster = cluster_file(tmp_path, ["n0", "n1"])
    run_file = tmp_path / ".jupiter" / "run.json"
    home = jupiter(
        tmp_path, "run", str(app), "--cluster", str(cluster), "--inputs", "400",
        "--max-in-flight", "1", "--no-profile", "--no-config", "--tls",
        "--out", str(tmp_path / "out"), "--quiet",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not run_file.exists():
            assert home.poll() is None, home.communicate()
            assert time.monotonic() < deadline, "no run file"
            time.sleep(0.1)
        published = json.loads(run_file.read_text())
        assert published["home_url"].startswith("https://")
        # The home's own certificate files, in its private work dir.
        for path in published["tls"].values():
            assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
        slowed = emulate(tmp_path, "slow", "n0", "--factor", "5")
        assert slowed.returncode == 0, slowed.stderr
        assert slowed.stdout.strip().endswith(": slow n0 x5")

        # Without a certificate of the run, even with the token, no request gets through.
        async def stranger() -> None:
            async with aiohttp.ClientSession() as session:
                await session.post(
                    published["home_url"] + paths.HOME_EMULATION,
                    json={"restore": "n0"},
                    headers={"Authorization": f"Bearer {published['token']}"},
                    ssl=False,
                )

        with pytest.raises(aiohttp.ClientError):
            asyncio.run(stranger())
    finally:
        home.send_signal(signal.SIGINT)
        home.communicate(timeout=60)
    assert not run_file.exists()
