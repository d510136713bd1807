"""Faults benchmark: `python bench/faults.py` prints each figure beside its target.

A generated app (30 tasks, CCR 0.5) streams across 16 emulated nodes at a steady rate.
Mid-stream, one agent that hosts tasks is SIGKILLed (scenario 1) or SIGSTOPped and never
resumed (scenario 2). Every output is checked against the app's expected.json. Printed:

- detection time: from the signal to the home's decision (target <= 2 s);
- time until outputs flow again: from the signal to the first input completed after the
  re-mapping was pushed (target <= 5 s);
- inputs lost and duplicated in the output folder (target 0 and 0), and the redeliveries the
  home dropped (replays of work that was not lost);
- throughput before, during (the 10 s after the signal) and after;
- the work dirs' peak size against the inputs in flight.

Then the soak: 1,000 inputs with no fault, disk and RSS at the start, middle and end.
Everything runs real agent processes; nothing is simulated.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from jupiter.app.generator import GenerateParams, generate_app
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunContext, RunOptions, RunResult, run
from jupiter.logs import configure

NODES = 16
DURING_S = 10.0


@dataclass
class Sampler:
    """Disk under the work dir and RSS of the home and its agents, every `every` seconds."""

    every: float = 0.5
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)

    async def run(self, context: RunContext, done: Callable[[], int]) -> None:
        me = psutil.Process()
        while True:
            disk = sum(p.stat().st_size for p in context.work_dir.rglob("*") if _is_file(p))
            rss = sum(_rss(p) for p in [me, *me.children(recursive=True)])
            self.samples.append((time.monotonic(), done(), disk, rss))
            await asyncio.sleep(self.every)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


@dataclass
class Fault:
    name: str  # "SIGKILL" or "SIGSTOP"
    after_inputs: int
    at: float | None = None  # Unix time of the signal
    node: str = ""
    pid: int = 0


def make_app(root: Path) -> Path:
    params = GenerateParams(
        tasks=30, depth=6, min_width=2, max_width=8, ccr=0.5, seed=7, time_scale=0.004
    )
    generate_app(root, params, force=True)
    return root


def check_outputs(app: Path, outputs: dict[int, dict[str, str]]) -> tuple[int, int]:
    """(inputs whose outputs are missing or wrong, files beyond one per (input, exit))."""
    expected = json.loads((app / "expected.json").read_text())
    wrong = 0
    for input_id, got in outputs.items():
        want = expected["outputs"][str(input_id % expected["samples"])]
        digests = {t: hashlib.sha256(Path(p).read_bytes()).hexdigest() for t, p in got.items()}
        wrong += digests != want
    return wrong, 0


async def inject_fault(context: RunContext, fault: Fault) -> None:
    state = context.state
    while sum(state.deliveries.done(k) for k in range(fault.after_inputs)) < fault.after_inputs:
        await asyncio.sleep(0.05)
    mapping = state.deployment.mapping if state.deployment else {}
    # An agent that runs tasks, not only a source, so that recovery has work to move.
    busy = sorted({n for t, n in mapping.items() if t in context.app.tasks})
    fault.node = busy[len(busy) // 2]
    fault.pid = state.registry.pids[fault.node]
    fault.at = time.time()
    os.kill(fault.pid, signal.SIGKILL if fault.name == "SIGKILL" else signal.SIGSTOP)


def stream(
    app: Path, inputs: int, interval: float, fault: Fault | None, sampler: Sampler
) -> RunResult:
    out = Path(tempfile.mkdtemp(prefix="jupiter-bench-out-", dir=app.parent))

    async def observe(context: RunContext) -> None:
        done = lambda: sum(context.state.deliveries.done(k) for k in range(inputs))  # noqa: E731
        watch = asyncio.ensure_future(sampler.run(context, done))
        try:
            if fault is not None:
                await inject_fault(context, fault)
            await asyncio.Event().wait()
        finally:
            watch.cancel()

    options = RunOptions(
        app=app,
        cluster=Cluster.default(NODES),
        backend=LocalBackend(),
        inputs=inputs,
        interval=interval,
        max_in_flight=20,
        profiling=False,
        timeout=600,
        out_dir=out,
        on_stream=observe,
    )
    # A stopped agent is never continued: teardown's SIGKILL ends it all the same.
    return asyncio.run(run(options))


def rate(result: RunResult, start: float, end: float) -> float:
    count = sum(1 for t in result.completed_at.values() if start <= t < end)
    return count / (end - start) if end > start else 0.0


def fault_figures(
    app: Path, inputs: int, interval: float, name: str
) -> tuple[dict[str, str], dict[str, bool]]:
    fault = Fault(name, after_inputs=inputs // 3)
    sampler = Sampler()
    result = stream(app, inputs, interval, fault, sampler)
    assert fault.at is not None
    changes = result.recovery
    first = changes[0] if changes else None
    detection = (first.decided_at - fault.at) if first else float("nan")
    flowing = min(
        (t for t in result.completed_at.values() if first and t > first.at), default=float("nan")
    )
    flowing_s = flowing - fault.at
    wrong, _ = check_outputs(app, result.outputs)
    lost = inputs - len(result.outputs)
    files = sum(len(list((result.out_dir / str(k)).iterdir())) for k in result.outputs)
    exits = len(result.app.exits)
    extra_files = files - exits * len(result.outputs)
    began = min(result.injected_at.values())
    ended = max(result.completed_at.values())
    in_flight_peak = max(
        sum(
            1
            for k in result.injected_at
            if result.injected_at[k] <= t < result.completed_at.get(k, 1e18)
        )
        for t in result.injected_at.values()
    )
    disk_peak = max(sample[2] for sample in sampler.samples) if sampler.samples else 0
    figures = {
        "detection": f"{detection:.2f} s (agent {fault.node}, pid {fault.pid})",
        "flowing": f"{flowing_s:.2f} s",
        "lost / duplicated": f"{lost + wrong} / {max(0, extra_files)}"
        f" ({len(result.duplicates)} redeliveries dropped by the home)",
        "throughput": (
            f"before {rate(result, began, fault.at):.2f}/s, during "
            f"{rate(result, fault.at, fault.at + DURING_S):.2f}/s, after "
            f"{rate(result, fault.at + DURING_S, ended + 1e-9):.2f}/s"
        ),
        "work dir peak": f"{disk_peak / 1e6:.1f} MB with at most {in_flight_peak} inputs in flight",
        "epochs": "; ".join(
            f"epoch {c.epoch}: moved {len(c.moved)} tasks, re-injected {len(c.reinjected)}"
            for c in changes
        ),
    }
    verdicts = {
        "detection": detection <= 2.0,
        "flowing": flowing_s <= 5.0,
        "lost / duplicated": lost + wrong == 0 and extra_files <= 0,
    }
    return figures, verdicts


def soak(app: Path, inputs: int, interval: float) -> list[str]:
    sampler = Sampler(every=1.0)
    result = stream(app, inputs, interval, None, sampler)
    wrong, _ = check_outputs(app, result.outputs)
    if not sampler.samples:
        return ["no samples"]
    third = len(sampler.samples) // 3
    picks = {
        "start": sampler.samples[min(2, len(sampler.samples) - 1)],
        "middle": sampler.samples[third + len(sampler.samples) // 6],
        "end": sampler.samples[-1],
    }
    lines = [
        f"{name}: {done} inputs done, work dir {disk / 1e6:.1f} MB, RSS {rss / 2**20:.0f} MiB"
        for name, (_, done, disk, rss) in picks.items()
    ]
    lines.append(
        f"{len(result.outputs)} of {inputs} inputs delivered, {wrong} wrong; "
        f"median makespan {statistics.median(result.makespans.values()):.2f} s"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=300)
    parser.add_argument("--soak-inputs", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between inputs")
    parser.add_argument("--only", choices=["SIGKILL", "SIGSTOP", "soak"])
    args = parser.parse_args()
    console = Console()
    configure("error")  # the re-mapping's own warning line would break the table
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-faults-") as tmp:
        app = make_app(Path(tmp) / "app")
        table = Table(title=f"Jupiter faults benchmark: 30 tasks, CCR 0.5, {NODES} nodes")
        for column in ("scenario", "figure", "measured", "target", "verdict"):
            table.add_column(column)
        targets = {"detection": "<= 2 s", "flowing": "<= 5 s", "lost / duplicated": "0 / 0"}
        for name in ("SIGKILL", "SIGSTOP"):
            if args.only not in (None, name):
                continue
            figures, verdicts = fault_figures(app, args.inputs, args.interval, name)
            for figure, measured in figures.items():
                verdict = verdicts.get(figure)
                table.add_row(
                    name,
                    figure,
                    measured,
                    targets.get(figure, ""),
                    "" if verdict is None else ("met" if verdict else "missed"),
                )
        console.print(table)
        if args.only in (None, "soak"):
            console.print(f"soak, {args.soak_inputs} inputs:")
            for line in soak(app, args.soak_inputs, args.interval):
                console.print(f"  {line}")
    console.print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
