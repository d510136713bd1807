"""Task controller benchmark: `python bench/controller.py` prints how makespans recover after
a node is slowed 5x mid-stream, with no controller, the lazy one and the active one.

The app is a chain (source -> a -> b -> c), each task spinning TASK_CPU_S of CPU; the three
nodes are alike and near, so the mapper puts the whole chain on one node (no transfers).
cluster.yaml's schedule slows that node 5x at SLOW_AT_S into the stream. Inputs go one at a
time (max_in_flight 1), so each makespan is the chain's own time. Printed per controller:

- makespans (median): before the slowdown, during it (injected after the slowdown and
  before the controller's first change; for `none`, until the end), and after (injected
  once the controller's last change was pushed);
- when the first change came, seconds after the slowdown, and the epochs it made;
- every output checked against the chain's expected one, each (input, exit) exactly once.

Figures are in emulated seconds (host seconds over the dilation). The run is time-dilated
(`--time-dilation`, 3 by default): a slowed node's tasks hold their slot for 5x their CPU
time, but never less than their wall time, and on a loaded host the wall time of a small
task can exceed several times its CPU time, hiding most of the slowdown.

Targets: with lazy and active, the median makespan after recovers to within 1.5x of the one
before; with none it stays about 5x.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import load_cluster
from jupiter.controller.run import RunOptions, RunResult, run
from jupiter.logs import configure
from jupiter.planning.settings import (
    ActiveSettings,
    ControllerMode,
    ControllerSettings,
    LazySettings,
)

TASK_CPU_S = 0.1
SLOW_AT_S = 4.0
FACTOR = 5
RECOVERED_WITHIN = 1.5

TASKS = """
import hashlib
import time


def _spin_then_hash(name, inputs, output):
    end = time.thread_time() + {cpu}
    while time.thread_time() < end:
        pass
    digest = hashlib.sha256(name.encode())
    for upstream in sorted(inputs):
        digest.update(inputs[upstream].read_bytes())
    output.write_text(digest.hexdigest())


def a(inputs, output):
    _spin_then_hash("a", inputs, output)


def b(inputs, output):
    _spin_then_hash("b", inputs, output)


def c(inputs, output):
    _spin_then_hash("c", inputs, output)
"""

SETTINGS: dict[ControllerMode, ControllerSettings] = {
    "none": ControllerSettings(mode="none"),
    "lazy": ControllerSettings(mode="lazy", lazy=LazySettings(drift_threshold=1.3, window=5)),
    "active": ControllerSettings(
        mode="active", active=ActiveSettings(period=1.0, hysteresis=2, gain_threshold=0.2)
    ),
}


def write_chain(root: Path, samples: int = 4) -> Path:
    (root / "samples").mkdir(parents=True)
    for k in range(samples):
        (root / "samples" / f"{k}.txt").write_text(f"sample {k}\n" * (k + 1))
    (root / "tasks.py").write_text(TASKS.replace("{cpu}", str(TASK_CPU_S)))
    estimate = {"seconds": TASK_CPU_S, "output_bytes": 64}
    spec = {
        "name": "chain",
        "sources": [{"name": "input", "feeds": ["a"], "inputs": ["samples/*.txt"]}],
        "tasks": {
            "a": {"python": "tasks.py:a", "estimate": estimate},
            "b": {"python": "tasks.py:b", "parents": ["a"], "estimate": estimate},
            "c": {"python": "tasks.py:c", "parents": ["b"], "estimate": estimate},
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def expected(root: Path, input_id: int, samples: int = 4) -> str:
    data = (root / "samples" / f"{input_id % samples}.txt").read_bytes()
    for task in "abc":
        data = hashlib.sha256(task.encode() + data).hexdigest().encode()
    return data.decode()


@dataclass
class Figures:
    mode: ControllerMode
    before: float
    during: float | None
    after: float | None
    first_change_s: float | None
    epochs: int
    exactly_once: bool


def measure(mode: ControllerMode, inputs: int, folder: Path, dilation: float) -> Figures:
    root = folder / mode
    app = write_chain(root / "app")
    nodes = [{"name": f"n{i}", "region": "sfo", "speed": 1.0} for i in range(3)]
    events = [{"at": SLOW_AT_S, "slow": "n0", "factor": FACTOR}]
    (root / "cluster.yaml").write_text(yaml.safe_dump({"nodes": nodes, "events": events}))
    options = RunOptions(
        app=app,
        cluster=load_cluster(root / "cluster.yaml"),
        backend=LocalBackend(),
        inputs=inputs,
        max_in_flight=1,
        profiling=False,
        timeout=600,
        out_dir=root / "out",
        controller=SETTINGS[mode],
        time_dilation=dilation,
    )
    result: RunResult = asyncio.run(run(options))
    out = root / "out"
    exactly_once = sorted(result.outputs) == list(range(inputs)) and all(
        sorted(p.name for p in (out / str(k)).iterdir()) == ["c"]
        and (out / str(k) / "c").read_text() == expected(app, k)
        for k in range(inputs)
    )
    start = min(result.injected_at.values())
    # The schedule's times are emulated seconds: K times as long on the host's clock.
    slow_at = start + SLOW_AT_S * dilation
    changes = [c for c in result.recovery if c.trigger != "recovery"]
    first = changes[0].at if changes else float("inf")
    last = changes[-1].at if changes else float("inf")
    spans = result.makespans
    before = [spans[k] for k in spans if result.completed_at[k] < slow_at]
    during = [spans[k] for k in spans if slow_at <= result.injected_at[k] < first]
    after = [spans[k] for k in spans if result.injected_at[k] > last]
    # Reported in emulated seconds, as report.json does under time dilation.
    return Figures(
        mode=mode,
        before=statistics.median(before) / dilation,
        during=statistics.median(during) / dilation if during else None,
        after=statistics.median(after) / dilation if after else None,
        first_change_s=(first - slow_at) / dilation if changes else None,
        epochs=len(changes),
        exactly_once=exactly_once,
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=30)
    parser.add_argument(
        "--time-dilation",
        type=float,
        default=3.0,
        help="The emulated clock K times slower than the host's, so that a node's 5x "
        "slowdown shows on a busy host too (a task holds its slot for the larger of its "
        "wall time and K x speed x its CPU time; docs/emulation.md).",
    )
    args = parser.parse_args()
    configure("error")
    console = Console(width=150)
    table = Table(title=f"controller recovery after a {FACTOR}x slowdown at {SLOW_AT_S:g} s")
    for column in (
        "controller",
        "before (s)",
        "during (s)",
        "after (s)",
        "after / before",
        "first change after the slowdown (s)",
        "epochs",
        "outputs exactly once",
    ):
        table.add_column(column, justify="right")
    ok = True
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-controller-") as folder:
        for mode in SETTINGS:
            figures = measure(mode, args.inputs, Path(folder), args.time_dilation)
            ratio = None if figures.after is None else figures.after / figures.before
            table.add_row(
                mode,
                _seconds(figures.before),
                _seconds(figures.during),
                _seconds(figures.after),
                "-" if ratio is None else f"{ratio:.2f}x",
                _seconds(figures.first_change_s),
                str(figures.epochs),
                "yes" if figures.exactly_once else "NO",
            )
            ok = ok and figures.exactly_once
            if mode != "none":
                met = ratio is not None and ratio <= RECOVERED_WITHIN
                ok = ok and met
                shown = "no change made" if ratio is None else f"{ratio:.2f}x"
                lines.append(
                    f"{mode}: after/before {shown} (target <= {RECOVERED_WITHIN}x) "
                    f"{'ok' if met else 'MISSED'}"
                )
    console.print(table)
    for line in lines:
        console.print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
