"""State bounded by the inputs in flight, not by the inputs so far: a 1,000-input stream whose
work dir stays under a stated bound, and back-pressure that holds injection while an agent's
queue is over its limit."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import yaml

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunContext, RunOptions, run

OUTPUT_BYTES = 64 * 1024

CODE = f'''
import hashlib
import time


def spread(inputs, output):
    """64 KiB that depend on every byte of the input."""
    (data,) = [path.read_bytes() for path in inputs.values()]
    block = hashlib.sha256(data).digest()
    output.write_bytes(block * ({OUTPUT_BYTES} // len(block)))


def fold(inputs, output):
    (data,) = [path.read_bytes() for path in inputs.values()]
    output.write_text(hashlib.sha256(data).hexdigest())


def slow_fold(inputs, output):
    time.sleep(0.15)
    fold(inputs, output)
'''


def write_app(root: Path, last: str = "fold") -> Path:
    root.mkdir(parents=True)
    (root / "tasks.py").write_text(CODE)
    (root / "samples").mkdir()
    for k in range(4):
        (root / "samples" / f"{k}.txt").write_text(f"reading {k}\n")
    estimate = {"seconds": 0.002, "output_bytes": OUTPUT_BYTES}
    spec = {
        "name": root.name,
        "sources": [{"name": "sensor", "feeds": ["a"], "inputs": ["samples/*.txt"]}],
        "tasks": {
            "a": {"python": "tasks.py:spread", "parents": [], "estimate": estimate},
            "b": {"python": "tasks.py:spread", "parents": ["a"], "estimate": estimate},
            "c": {"python": f"tasks.py:{last}", "parents": ["b"], "estimate": estimate},
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def expected(root: Path, input_id: int) -> str:
    data = (root / "samples" / f"{input_id % 4}.txt").read_bytes()
    for _ in range(2):
        block = hashlib.sha256(data).digest()
        data = block * (OUTPUT_BYTES // len(block))
    return hashlib.sha256(data).hexdigest()


def _du(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            pass  # removed while walked: a released input
    return total


def test_a_1000_input_stream_keeps_its_work_dir_bounded(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    inputs, in_flight = 1000, 8
    peak = {"bytes": 0, "held": 0}

    async def watch(context: RunContext) -> None:
        registry = context.state.registry
        while True:
            peak["bytes"] = max(peak["bytes"], _du(context.work_dir / "nodes"))
            held = max((len(b.held) for b in registry.last_beat.values()), default=0)
            peak["held"] = max(peak["held"], held)
            await asyncio.sleep(0.1)

    options = RunOptions(
        app=app,
        cluster=Cluster.default(3),
        backend=LocalBackend(),
        inputs=inputs,
        max_in_flight=in_flight,
        profiling=False,
        mapper="round-robin",
        timeout=240,
        out_dir=tmp_path / "out",
        on_stream=watch,
    )
    result = asyncio.run(run(options))
    for input_id in range(0, inputs, 37):
        assert (tmp_path / "out" / str(input_id) / "c").read_text() == expected(app, input_id)
    assert len(result.outputs) == inputs
    # Unbounded, the agents' stores would hold every input's two 64 KiB outputs, at least
    # once each: 1000 x 2 x 64 KiB = 125 MiB. Bounded by the inputs in flight (8) plus
    # those done but not yet released (up to a heartbeat's worth, 0.5 s of the stream),
    # held at most twice (made, and received): well under 12 MiB.
    bound = 12 * 1024**2
    assert 0 < peak["bytes"] < bound, f"peak {peak['bytes']} bytes"
    assert peak["held"] < 100
    # Every record still reached the report: sent home with heartbeats as inputs finished.
    assert len(result.stats) == inputs * 4


def test_back_pressure_holds_injection_while_an_agent_is_behind(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", last="slow_fold")
    peak = {"ready": 0}

    async def watch(context: RunContext) -> None:
        registry = context.state.registry
        while True:
            for beat in registry.last_beat.values():
                peak["ready"] = max(peak["ready"], beat.ready + beat.sending)
            await asyncio.sleep(0.05)

    options = RunOptions(
        app=app,
        cluster=Cluster.default(3),
        backend=LocalBackend(),
        inputs=30,
        # 20 inputs a second into a task that takes 6.7 a second.
        interval=0.05,
        profiling=False,
        mapper="round-robin",
        timeout=120,
        out_dir=tmp_path / "out",
        backpressure_queue=3,
        on_stream=watch,
    )
    result = asyncio.run(run(options))
    assert len(result.outputs) == 30
    for input_id in range(30):
        assert (tmp_path / "out" / str(input_id) / "c").read_text() == expected(app, input_id)
    # Without back-pressure the slow task's queue would grow by 13 a second, to 20 and more.
    # The limit is judged on heartbeats (every 0.5 s): the queue may overshoot it by what
    # arrives between two beats and the answer, about 10 inputs at this pace.
    assert peak["ready"] <= 3 + 10, peak
