"""A controller's mapping switch takes effect at an input boundary, with real agents: the
inputs injected before it finish on the mapping they started on (inputs in flight keep
their tasks' nodes), the inputs from it on run on the new one, and every output arrives
exactly once. report.json names the first input of each epoch and its measured effect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import load_cluster
from jupiter.controller.recovery import EpochChange
from jupiter.controller.run import RunContext, RunOptions, run
from jupiter.report.report import build_report

from .apps import expected_outputs, write_dag_app

INPUTS = 16
SWITCH_AFTER = 4


def test_a_switch_applies_from_the_next_input_and_in_flight_ones_finish_where_they_were(
    tmp_path: Path,
) -> None:
    app = write_dag_app(tmp_path / "app", {"a": [], "b": ["a"], "c": ["b"]}, {"input": ["a"]})
    nodes = [{"name": f"n{i}", "region": "sfo", "speed": 1.0} for i in range(3)]
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump({"nodes": nodes}))
    # b takes a while, so that inputs are under way when the switch comes.
    code = (app / "tasks.py").read_text()
    code = code.replace(
        "    mix('b', inputs, output)",
        "    __import__('time').sleep(0.05)\n    mix('b', inputs, output)",
    )
    (app / "tasks.py").write_text(code)
    changes: list[EpochChange] = []
    under_way: list[int] = []

    async def switch(context: RunContext) -> None:
        state = context.state
        while sum(state.deliveries.done(k) for k in range(SWITCH_AFTER)) < SWITCH_AFTER:
            await asyncio.sleep(0.01)
        assert context.recovery is not None and state.deployment is not None
        # b and c move off the node the whole chain is on, to another one.
        first = state.deployment.mapping
        target = next(n for n in ("n0", "n1", "n2") if n != first["b"])
        moved = {**first, "b": target, "c": target}
        # Injected and not done as the switch is decided (adopt takes its boundary at once).
        under_way.extend(k for k in range(state.inputs_injected) if not state.deliveries.done(k))
        change = await context.recovery.adopt(moved, "active", "moved by the test", 0.25)
        assert change is not None
        changes.append(change)

    options = RunOptions(
        app=app,
        cluster=load_cluster(tmp_path / "cluster.yaml"),
        backend=LocalBackend(),
        inputs=INPUTS,
        # Always four in flight: some are under way when the switch comes.
        max_in_flight=4,
        profiling=False,
        timeout=120,
        out_dir=tmp_path / "out",
        on_stream=switch,
    )
    result = asyncio.run(run(options))
    # Every output, exactly once, right.
    assert sorted(result.outputs) == list(range(INPUTS))
    assert result.duplicates == []
    for k in range(INPUTS):
        assert sorted(p.name for p in (tmp_path / "out" / str(k)).iterdir()) == ["c"]
        assert (tmp_path / "out" / str(k) / "c").read_text() == expected_outputs(app, k)["c"]
    (change,) = changes
    assert result.recovery == [change]
    boundary = change.first_input
    assert boundary is not None and SWITCH_AFTER <= boundary < INPUTS
    # Some inputs were under way at the switch: they are the ones that must finish where
    # they started.
    assert under_way and max(under_way) < boundary
    assert result.schedule is not None
    old = result.schedule.mapping
    new_node = change.moved["b"][1]
    assert old["b"] == old["c"] != new_node
    # Where each (task, input) ran: on the old mapping below the boundary, the new from it.
    ran = {(r["task"], r["input_id"]): r["node"] for r in result.stats if r["finish"]}
    for k in range(INPUTS):
        for task in ("b", "c"):
            where = old[task] if k < boundary else new_node
            assert ran[task, k] == where, (task, k, boundary)
    # Each (task, input) ran once: nothing replayed on the new mapping.
    runs = [(r["task"], r["input_id"]) for r in result.stats if r["task"] in "abc"]
    assert sorted(runs) == sorted((t, k) for t in "abc" for k in range(INPUTS))
    # report.json: the epoch, its first input, the measured effect on each side of it.
    report = build_report(result, "heft")
    (epoch,) = report.recovery.epochs
    assert (epoch.epoch, epoch.trigger, epoch.first_input) == (1, "active", boundary)
    assert epoch.predicted_gain == 0.25
    assert epoch.makespan_before is not None and epoch.makespan_after is not None
    spans = result.makespans
    before = [spans[k] for k in range(boundary)]
    assert abs(epoch.makespan_before - sum(before) / len(before)) < 1e-9
