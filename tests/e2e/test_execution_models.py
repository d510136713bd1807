"""Execution models 1 and 2 (`--execution-model all|mapped`) with real agents: both complete
the bundled examples with every output right; under `mapped` only the nodes the mapping
uses run an executor (asked of every agent mid-stream), and a re-mapping onto a node that
ran none starts one there."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import yaml

from jupiter.api.client import CallFailed
from jupiter.api.models import RoleStatus
from jupiter.app.runner import TaskRunner
from jupiter.app.spec import load_app
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.controller.run import RunContext, RunOptions, RunResult, run
from jupiter.planning.settings import ExecutionModel
from jupiter.report.report import build_report

from .apps import expected_outputs, write_dag_app

EXAMPLES = Path(__file__).parents[2] / "examples"
INPUTS = 6


async def _reference(app_root: Path, inputs: int, scratch: Path) -> dict[int, dict[str, bytes]]:
    """Every exit output of every input, from the app's own tasks run here, one by one."""
    app = load_app(app_root)
    expected: dict[int, dict[str, bytes]] = {}
    async with TaskRunner(app, scratch_parent=scratch) as runner:
        for k in range(inputs):
            made = {s: app.input_for(s, k) for s in app.sources}
            while len(made) < len(app.sources) + len(app.tasks):
                for task in app.tasks:
                    upstream = app.upstream(task)
                    if task in made or not all(u in made for u in upstream):
                        continue
                    output = scratch / str(k) / task
                    await runner.run(task, {u: made[u] for u in upstream}, output)
                    made[task] = output
            expected[k] = {t: made[t].read_bytes() for t in app.exits}
    return expected


def _roles_mid_stream(seen: dict[str, RoleStatus]):  # type: ignore[no-untyped-def]
    """An on_stream observer: once the first input is done, every agent's executor role."""

    async def observe(context: RunContext) -> None:
        while not context.state.deliveries.done(0):
            await asyncio.sleep(0.02)
        agents = context.agents()
        answers = await asyncio.gather(*(agents.role(node) for node in agents.urls))
        seen.update({answer.node: answer for answer in answers})
        stopped = [a.node for a in answers if not a.running]
        if stopped and context.state.deployment is not None:
            # A stopped executor takes no deployment until it is started again.
            with pytest.raises(CallFailed) as refused:
                await agents.deploy(stopped[0], context.state.deployment)
            assert refused.value.status == 409
            assert not (await agents.role(stopped[0])).running

    return observe


@pytest.mark.parametrize("model", ["all", "mapped"])
@pytest.mark.parametrize("example", ["diamond", "anomaly-detection"])
def test_both_models_complete_the_examples(
    example: str, model: ExecutionModel, tmp_path: Path
) -> None:
    app = EXAMPLES / example
    roles: dict[str, RoleStatus] = {}
    options = RunOptions(
        app=app,
        cluster=Cluster.default(8),
        backend=LocalBackend(),
        inputs=INPUTS,
        max_in_flight=2,
        # Paced, so that the stream outlasts the observer's look at every agent's role (a
        # diamond's inputs take milliseconds: unpaced, the stream could end, and cancel the
        # observer, before its answers came back).
        interval=0.1,
        # Profiled: execution profiling warms a task worker on every node, and the mapped
        # model must close those of the nodes that run no executor.
        profiling=True,
        timeout=180,
        out_dir=tmp_path / "out",
        execution_model=model,
        on_stream=_roles_mid_stream(roles),
    )
    result = asyncio.run(run(options))
    scratch = tmp_path / "reference"
    scratch.mkdir()
    expected = asyncio.run(_reference(app, INPUTS, scratch))
    assert sorted(result.outputs) == list(range(INPUTS))
    for k in range(INPUTS):
        got = {t: Path(p).read_bytes() for t, p in result.outputs[k].items()}
        assert got == expected[k], f"input {k}"
    assert result.duplicates == []
    assert result.schedule is not None
    used = set(result.schedule.mapping.values())
    assert set(roles) == set(options.cluster.node_names)
    if model == "all":
        assert all(r.running and r.epoch == 0 for r in roles.values())
        assert result.executors_started == []
        section = build_report(result, "heft").executors
        assert section is not None and (section.model, section.started) == ("all", [])
        return
    assert used < set(roles), "the mapping uses every node: nothing to tell apart"
    for node, role in roles.items():
        if node in used:
            assert role.running and role.epoch == 0, role
        else:
            # No executor, no deployment, and no task worker left by profiling.
            assert (role.running, role.epoch, role.task_workers) == (False, -1, 0), role
    assert sorted(s.node for s in result.executors_started) == sorted(used)
    assert {s.epoch for s in result.executors_started} == {0}
    # report.json says where the executors ran.
    section = build_report(result, "heft").executors
    assert section is not None and section.model == "mapped"
    assert sorted(s.node for s in section.started) == sorted(used)


def test_a_remapping_onto_a_new_node_starts_an_executor_there(tmp_path: Path) -> None:
    """The chain on three like nodes: the mapping uses n0 only. n0 is killed mid-stream;
    its tasks move, and the node they move to gets an executor before the new epoch."""
    app = write_dag_app(tmp_path / "app", {"a": [], "b": ["a"], "c": ["b"]}, {"input": ["a"]})
    nodes = [{"name": f"n{i}", "region": "sfo", "speed": 1.0} for i in range(3)]
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump({"nodes": nodes}))
    before: dict[str, RoleStatus] = {}
    killed: list[str] = []

    async def kill_the_only_executor(context: RunContext) -> None:
        await _roles_mid_stream(before)(context)
        (node,) = [n for n, role in before.items() if role.running]
        killed.append(node)
        os.kill(context.state.registry.pids[node], signal.SIGKILL)

    options = RunOptions(
        app=app,
        cluster=load_cluster(tmp_path / "cluster.yaml"),
        backend=LocalBackend(),
        inputs=12,
        interval=0.05,
        max_in_flight=3,
        profiling=False,
        timeout=120,
        out_dir=tmp_path / "out",
        execution_model="mapped",
        on_stream=kill_the_only_executor,
        # The kill is reported at once by the launcher; a late heartbeat on a loaded host
        # must not count as a second loss.
        heartbeat_timeout=10.0,
    )
    result: RunResult = asyncio.run(run(options))
    assert sorted(result.outputs) == list(range(12))
    for k in range(12):
        got = {t: Path(p).read_text() for t, p in result.outputs[k].items()}
        assert got == expected_outputs(app, k), f"input {k}"
    assert result.duplicates == []
    # Only the mapped node ran an executor before; the others had none.
    assert sorted(n for n, role in before.items() if not role.running) == sorted(
        set(before) - set(killed)
    )
    (change,) = result.recovery
    assert change.lost == killed
    targets = {new for _, new in change.moved.values()}
    started = {(s.node, s.epoch) for s in result.executors_started}
    assert started == {(killed[0], 0), *((node, 1) for node in targets)}
    assert killed[0] not in targets
