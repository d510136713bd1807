"""Streams that survive: an agent SIGKILLed or SIGSTOPped mid-stream, real processes, every
input's outputs checked against the expected ones, each (input, exit) exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunContext, RunOptions, RunResult, run
from jupiter.errors import RunError
from jupiter.report.report import build_report

from .apps import expected_outputs, layered

INPUTS = 24


async def _busiest_agent(
    context: RunContext, after: int, with_source: bool = False
) -> tuple[str, int]:
    """Once `after` inputs are done: the node running the most tasks, and its pid; one that
    hosts a source (whose inputs must then enter again elsewhere) or one that hosts none
    (whose work is recovered from the outputs the others retained)."""
    state = context.state
    while sum(state.deliveries.done(k) for k in range(after)) < after:
        await asyncio.sleep(0.02)
    mapping = state.deployment.mapping if state.deployment else {}
    hosts_source = {mapping[s] for s in context.app.sources}
    tasks = [t for t in mapping if t in context.app.tasks]
    counts = {
        n: sum(mapping[t] == n for t in tasks)
        for n in state.agents
        if (n in hosts_source) == with_source
    }
    node = max(sorted(counts), key=counts.__getitem__)
    assert counts[node] > 0, "the chosen agent runs no task: nothing to recover"
    return node, state.registry.pids[node]


def _stream(app: Path, tmp_path: Path, fault: object, **options: object) -> RunResult:
    settings: dict[str, object] = {
        "app": app,
        "cluster": Cluster.default(6),
        "backend": LocalBackend(),
        "inputs": INPUTS,
        "interval": 0.05,
        "max_in_flight": 6,
        "profiling": False,
        "timeout": 120,
        "out_dir": tmp_path / "out",
        "on_stream": fault,
        **options,
    }
    return asyncio.run(run(RunOptions(**settings)))  # type: ignore[arg-type]


def _check_exactly_once(app: Path, result: RunResult, out: Path) -> None:
    exits = sorted(expected_outputs(app, 0))
    assert sorted(result.outputs) == list(range(INPUTS))
    for input_id in range(INPUTS):
        # One file per exit, no more, each with the right content.
        assert sorted(p.name for p in (out / str(input_id)).iterdir()) == exits
        got = {t: (out / str(input_id) / t).read_text() for t in exits}
        assert got == expected_outputs(app, input_id), f"input {input_id}"


@pytest.mark.parametrize("with_source", [False, True], ids=["retained-outputs", "source-moves"])
def test_an_agent_killed_mid_stream_is_replaced_and_every_input_arrives_once(
    tmp_path: Path, with_source: bool
) -> None:
    app = layered(tmp_path / "app", 14)
    killed: dict[str, object] = {}

    async def kill(context: RunContext) -> None:
        node, pid = await _busiest_agent(context, after=4, with_source=with_source)
        killed.update(node=node, at=time.monotonic())
        os.kill(pid, signal.SIGKILL)

    result = _stream(app, tmp_path, kill)
    _check_exactly_once(app, result, tmp_path / "out")
    assert result.status == "completed"
    (change,) = result.recovery
    assert change.lost == [killed["node"]]
    assert change.epoch == 1 and change.moved
    assert all(old == killed["node"] != new for old, new in change.moved.values())
    # The launcher reports the exit at once: far inside the heartbeat timeout.
    assert change.detection_s < 1.0
    # Inputs enter again only where a source moved; otherwise retained outputs are resent.
    assert bool(change.reinjected) == with_source
    # report.json says what happened: the epoch, the replayed inputs, where each input ran.
    report = build_report(result, "heft")
    (epoch,) = report.recovery.epochs
    assert (epoch.epoch, epoch.lost, epoch.detection_s) == (1, change.lost, change.detection_s)
    assert {t: (m.source, m.to) for t, m in epoch.moved.items()} == change.moved
    assert report.recovery.replayed_inputs == sorted(change.in_flight)
    replaced = {new for _, new in change.moved.values()}
    for entry in report.inputs:
        if entry.id in change.in_flight:
            assert replaced & set(entry.nodes), f"input {entry.id} ran on {entry.nodes}"
    # Every task of every input left a record, on whichever node ran it last.
    ran = {(r["task"], r["input_id"]) for r in result.stats if r["finish"] is not None}
    assert {t for t, _ in ran} >= set(result.app.tasks) - set(change.moved)


def test_an_agent_stopped_mid_stream_is_replaced_and_may_come_back(tmp_path: Path) -> None:
    app = layered(tmp_path / "app", 14)
    stopped: dict[str, object] = {}

    async def stop(context: RunContext) -> None:
        node, pid = await _busiest_agent(context, after=4)
        stopped.update(node=node, pid=pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            # Longer than the detection time: the home re-maps around it meanwhile.
            while not context.state.registry.lost:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        finally:
            # It comes back with its old mapping; the home brings it up to date.
            os.kill(pid, signal.SIGCONT)

    result = _stream(app, tmp_path, stop)
    _check_exactly_once(app, result, tmp_path / "out")
    (change,) = result.recovery
    assert change.lost == [stopped["node"]]
    assert "sent no heartbeat for" in change.reason
    # Silent for the heartbeat timeout (1.5 s), noticed within a watchdog tick of it.
    assert 1.5 <= change.detection_s < 2.5


def test_without_recovery_a_lost_agent_fails_the_run_naming_it(tmp_path: Path) -> None:
    app = layered(tmp_path / "app", 8)

    async def kill(context: RunContext) -> None:
        _, pid = await _busiest_agent(context, after=2, with_source=True)
        os.kill(pid, signal.SIGKILL)

    with pytest.raises(RunError, match=r"agent n\d+ exited with code -9"):
        _stream(app, tmp_path, kill, recovery=False)
