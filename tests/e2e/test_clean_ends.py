"""Clean ends: whatever way a run ends, nothing it started is left running, no work dir is
left behind, and no output folder mixes two runs.

The app's command task detaches a `sleep` with setsid (a new session, out of the task's
process group) in a subshell that exits at once (so the sleep is orphaned): exactly what a
task's process-group lifeline cannot reach. Each test picks its own sleep duration so that
it recognises its own sleeps and no one else's.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from jupiter.agent import reaper
from jupiter.cli import main
from jupiter.cli.outdir import MARKER, claim_out_dir
from jupiter.errors import SpecError

from .home_processes import jupiter

REFUSAL = "already holds outputs of an earlier run; give another folder or --force to clear it"


@pytest.fixture
def sleep_seconds() -> Iterator[str]:
    seconds = str(random.randint(10_000_000, 99_999_999))
    yield seconds
    for process in sleeps(seconds):
        process.kill()  # only if the test failed: it asserts there are none


def sleeps(seconds: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        alive = process.info["status"] != psutil.STATUS_ZOMBIE
        if alive and process.info["cmdline"] == ["sleep", seconds]:
            found.append(process)
    return found


def no_sleeps_within(seconds: str, within: float) -> list[psutil.Process]:
    deadline = time.monotonic() + within
    while (left := sleeps(seconds)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def detaching_app(root: Path, seconds: str, samples: int = 3) -> Path:
    """One source, one command task that leaves a setsid'd sleep behind on every run."""
    (root / "samples").mkdir(parents=True)
    for k in range(samples):
        (root / "samples" / f"{k}.txt").write_text(f"sample {k}\n")
    spec = {
        "name": "detacher",
        "sources": [{"name": "input", "feeds": ["detach"], "inputs": ["samples/*.txt"]}],
        "tasks": {
            "detach": {
                "command": f"(setsid sleep {seconds} &) ; sleep 0.05 ; cat {{in:input}} > {{out}}",
                "estimate": {"seconds": 0.05, "output_bytes": 16},
            }
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def start_run(
    tmp_path: Path, seconds: str, inputs: int = 3, out: str = "out", *extra: str
) -> subprocess.Popen[bytes]:
    app = tmp_path / "app"
    if not app.exists():
        detaching_app(app, seconds)
    return jupiter(
        tmp_path,
        "run",
        str(app),
        "--nodes",
        "2",
        "--inputs",
        str(inputs),
        "--no-profile",
        "--out",
        str(tmp_path / out),
        "--quiet",
        *extra,
    )


def command_line(process: psutil.Process) -> list[str]:
    """Its command line; none for one that just exited (a zombie the launcher has not reaped
    yet, such as the shell that detached a sleep)."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def launcher_of(home: subprocess.Popen[bytes]) -> psutil.Process:
    for child in psutil.Process(home.pid).children():
        if "jupiter.agent.launcher" in command_line(child):
            return child
    raise AssertionError("no agent launcher under the home")


def wait_for_adopted_sleeps(
    home: subprocess.Popen[bytes], seconds: str
) -> tuple[psutil.Process, list[psutil.Process]]:
    """Once the stream has left sleeps behind: the launcher, and its agents."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and home.poll() is None:
        found = sleeps(seconds)
        if found:
            launcher = launcher_of(home)
            # Adopted by the launcher, not by PID 1: what lets it kill them.
            assert {process.ppid() for process in found} == {launcher.pid}
            agents = [
                child
                for child in launcher.children()
                if "jupiter.agent.launcher" in command_line(child)
            ]
            return launcher, agents
        time.sleep(0.05)
    home.kill()
    raise AssertionError(f"the run never left a sleep behind: {home.communicate()}")


def test_a_finished_run_leaves_no_detached_process(tmp_path: Path, sleep_seconds: str) -> None:
    home = start_run(tmp_path, sleep_seconds)
    _, stderr = home.communicate(timeout=120)
    assert home.returncode == 0, stderr
    assert (tmp_path / "out" / "2" / "detach").read_text() == "sample 2\n"
    assert no_sleeps_within(sleep_seconds, within=2) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_agent_killed_mid_run_takes_what_its_tasks_detached(
    tmp_path: Path, sleep_seconds: str
) -> None:
    home = start_run(tmp_path, sleep_seconds, inputs=10_000)
    launcher, agents = wait_for_adopted_sleeps(home, sleep_seconds)
    assert len(agents) == 2
    detached = sleeps(sleep_seconds)
    agents[0].kill()
    # The launcher kills the orphans the moment it learns an agent died. The run goes on
    # (recovery moves the task to the other agent, whose runs leave new sleeps behind):
    # the ones left before the kill must be gone all the same.
    _, alive = psutil.wait_procs(detached, timeout=5)
    assert alive == []
    home.send_signal(signal.SIGTERM)
    _, stderr = home.communicate(timeout=60)
    assert home.returncode == 143, stderr
    assert not launcher.is_running()
    assert no_sleeps_within(sleep_seconds, within=2) == []
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_tear_down_like_ctrl_c(
    tmp_path: Path, sleep_seconds: str, signum: signal.Signals, code: int
) -> None:
    report = tmp_path / "report"
    home = start_run(tmp_path, sleep_seconds, 10_000, "out", "--report", str(report))
    launcher, agents = wait_for_adopted_sleeps(home, sleep_seconds)
    tree = [launcher, *agents]
    home.send_signal(signum)
    _, stderr = home.communicate(timeout=60)
    assert home.returncode == code, stderr
    assert stderr.decode().strip().splitlines()[-1] == (
        f"stopped by {signum.name}: every agent was stopped"
    )
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert alive == []
    assert no_sleeps_within(sleep_seconds, within=2) == []
    # The home's work dir (agents' configs, logs, data) and the outputs in transit are gone.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "out" / ".incoming").exists()
    # The run still says what it did before it was stopped.
    written = json.loads((report / "report.json").read_text())
    assert (written["status"], written["error"]) == ("interrupted", "interrupted")
    for entry in written["inputs"]:
        assert Path(entry["outputs"]["detach"]).is_file()


def test_sigterm_stops_jupiter_profile_too(tmp_path: Path, sleep_seconds: str) -> None:
    app = detaching_app(tmp_path / "app", sleep_seconds)
    home = jupiter(tmp_path, "profile", str(app), "--nodes", "2", "--repeats", "1000", "--quiet")
    wait_for_adopted_sleeps(home, sleep_seconds)
    home.send_signal(signal.SIGTERM)
    _, stderr = home.communicate(timeout=60)
    assert home.returncode == 143, stderr
    assert b"stopped by SIGTERM: every agent was stopped" in stderr
    assert no_sleeps_within(sleep_seconds, within=2) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_killed_home_leaves_a_work_dir_the_next_run_removes(
    tmp_path: Path, sleep_seconds: str
) -> None:
    home = start_run(tmp_path, sleep_seconds, inputs=10_000)
    launcher, agents = wait_for_adopted_sleeps(home, sleep_seconds)
    (work_dir,) = (tmp_path / "tmp").glob("jupiter-*")
    assert len(list((work_dir / "nodes").iterdir())) == 2
    home.kill()
    home.communicate(timeout=10)
    # The agents stop by their lifeline, and the launcher by end of file on its stdin, with
    # every process a task detached.
    _, alive = psutil.wait_procs([launcher, *agents], timeout=10)
    assert alive == []
    assert no_sleeps_within(sleep_seconds, within=2) == []
    # Each agent removed its own work dir; only the home's own part is left.
    assert work_dir.is_dir()
    assert list((work_dir / "nodes").iterdir()) == []
    # The next run on this machine finds it and removes it: its owner is dead.
    next_run = start_run(tmp_path, sleep_seconds, inputs=1, out="next-out")
    _, stderr = next_run.communicate(timeout=120)
    assert next_run.returncode == 0, stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_hand_started_agent_takes_what_its_tasks_detached(
    tmp_path: Path, sleep_seconds: str
) -> None:
    """The hosts backend: each run's agent is its own `python -m jupiter.agent` process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.31", 0))
        address = f"127.0.0.31:{probe.getsockname()[1]}"
    token = tmp_path / "token"
    agent = jupiter(tmp_path, "agent", "--listen", address, "--token-file", str(token), "--once")
    app = detaching_app(tmp_path / "app", sleep_seconds)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        yaml.safe_dump({"nodes": [{"name": "pi0", "region": "sfo", "address": address}]})
    )
    deadline = time.monotonic() + 30
    while not token.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    home = jupiter(
        tmp_path, "run", str(app), "--backend", "hosts", "--cluster", str(cluster),
        "--token-file", str(token), "--no-profile", "--inputs", "3", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    _, stderr = home.communicate(timeout=120)
    assert home.returncode == 0, stderr
    assert (tmp_path / "out" / "2" / "detach").read_text() == "sample 2\n"
    # --once: the agent exits after the run, and what the tasks detached went with the run.
    _, stderr = agent.communicate(timeout=30)
    assert agent.returncode == 0, stderr
    assert no_sleeps_within(sleep_seconds, within=2) == []


# -- the reaper on its own ---------------------------------------------------------------

SUBREAPER = """
import os, subprocess, sys, time
from jupiter.agent import reaper

assert reaper.become_subreaper()
subprocess.run(["/bin/sh", "-c", "(setsid sh -c 'sleep {seconds} & sleep {seconds}' &)"])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    import psutil
    adopted = [c for c in psutil.Process().children() if c.cmdline()[:1] == ["sh"]]
    if adopted and adopted[0].children():
        break
    time.sleep(0.02)
print(os.getpid(), adopted[0].pid, flush=True)
sys.stdin.readline()
reaper.{how}()
print("done", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("how", ["kill_adopted", "stop_adopted"])
def test_a_subreaper_adopts_and_kills_a_double_forked_tree(sleep_seconds: str, how: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SUBREAPER.format(seconds=sleep_seconds, how=how)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        me, orphan = map(int, process.stdout.readline().split())
        # The session leader the task detached, and the sleep it started, are now ours.
        assert psutil.Process(orphan).ppid() == me
        assert len(sleeps(sleep_seconds)) == 2
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline() == "done\n"
        assert no_sleeps_within(sleep_seconds, within=5) == []
        if how == "stop_adopted":
            # Reaped, too: no zombie is left among the subreaper's children.
            assert psutil.Process(me).children() == []
    finally:
        process.kill()
        process.wait()


def test_become_subreaper_says_so_where_it_cannot(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    caplog.set_level(logging.INFO, logger=reaper.__name__)
    assert reaper.become_subreaper() is False
    assert "may outlive its agent" in caplog.text


# -- --out ----------------------------------------------------------------------------------


def test_run_refuses_an_out_folder_holding_an_earlier_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sleep_seconds: str
) -> None:
    app = detaching_app(tmp_path / "app", sleep_seconds)
    out = tmp_path / "out"
    (out / "0").mkdir(parents=True)
    (out / "0" / "detach").write_text("an earlier run's\n")
    with pytest.raises(SystemExit) as stopped:
        main(["run", str(app), "--nodes", "2", "--out", str(out)])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"error: --out: {out} {REFUSAL}\n"
    # Nothing started, nothing touched.
    assert (out / "0" / "detach").read_text() == "an earlier run's\n"
    assert list(Path(os.environ["TMPDIR"]).glob("jupiter-*")) == []


def test_force_clears_the_out_folder_first(tmp_path: Path, sleep_seconds: str) -> None:
    app = detaching_app(tmp_path / "app", sleep_seconds)
    out = tmp_path / "out"
    (out / "7").mkdir(parents=True)
    (out / "notes.txt").write_text("mine\n")
    run = ["run", str(app), "--nodes", "2", "--inputs", "2", "--no-profile", "--quiet"]
    main([*run, "--out", str(out), "--force"])
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "0", "1"]
    assert json.loads((out / MARKER).read_text())["command"] == "run"
    assert no_sleeps_within(sleep_seconds, within=2) == []


def test_an_empty_or_missing_out_folder_is_fine(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "missing" / "deeper"):
        claim_out_dir(out, force=False, app=app, command="run")
        assert [p.name for p in out.iterdir()] == [MARKER]
    # A run that failed before delivering anything left its mark and maybe outputs in
    # transit: not outputs.
    (tmp_path / "empty" / ".incoming" / "0").mkdir(parents=True)
    claim_out_dir(tmp_path / "empty", force=False, app=app, command="run")
    assert [p.name for p in (tmp_path / "empty").iterdir()] == [MARKER]


def test_bad_input_leaves_no_out_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sleep_seconds: str
) -> None:
    app = detaching_app(tmp_path / "app", sleep_seconds)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        # Found by the run itself, after the CLI claimed the folder.
        main(["run", str(app), "--nodes", "2", "--inputs", "0", "--out", str(out)])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "error: --inputs: input should be greater than or equal to 1, got 0\n"
    )
    assert not out.exists()


def test_demo_clears_only_an_earlier_demo(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    out = tmp_path / "jupiter-out"
    claim_out_dir(out, force=False, app=app, command="demo")
    (out / "0").mkdir()
    (out / "0" / "merge").write_text("{}")
    (out / ".incoming").mkdir()
    # A second demo: the newcomer's case.
    claim_out_dir(out, force=False, app=app, command="demo")
    assert [p.name for p in out.iterdir()] == [MARKER]
    # Anything of the user's is not the demo's to clear...
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(SpecError) as refused:
        claim_out_dir(out, force=False, app=app, command="demo")
    assert str(refused.value) == f"--out: {out} {REFUSAL}"
    assert (out / "notes.txt").exists()
    # ...nor are the outputs of a `jupiter run`.
    run_out = tmp_path / "run-out"
    claim_out_dir(run_out, force=False, app=app, command="run")
    (run_out / "0").mkdir()
    with pytest.raises(SpecError, match="already holds outputs"):
        claim_out_dir(run_out, force=False, app=app, command="demo")
    assert (run_out / "0").is_dir()


def test_demo_refuses_a_folder_it_did_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jupiter-out").mkdir()
    (tmp_path / "jupiter-out" / "thesis.tex").write_text("mine\n")
    with pytest.raises(SystemExit) as stopped:
        main(["demo"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"error: --out: jupiter-out {REFUSAL}\n"
    assert (tmp_path / "jupiter-out" / "thesis.tex").exists()


def test_force_never_clears_a_folder_around_the_app_or_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "work" / "app"
    app.mkdir(parents=True)
    (app / "app.yaml").write_text("name: x\n")
    monkeypatch.chdir(tmp_path / "work")
    for out in (tmp_path / "work", tmp_path):
        with pytest.raises(SpecError, match="--force will not clear it"):
            claim_out_dir(out, force=True, app=app, command="run")
    assert (app / "app.yaml").exists()


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpecError, match="is not a folder"):
        claim_out_dir(tmp_path / "file", force=True, app=tmp_path, command="run")
