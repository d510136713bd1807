"""Stream benchmark: `python bench/streams.py` prints each figure beside its target.

1. emulated throughput vs unemulated, small messages, anomaly-detection (target >= 0.8x):
   examples/anomaly-detection on the default 8-node cluster, --no-profile, the same inputs
   streamed with the WAN emulated and with it off. Its outputs are a few hundred bytes, so
   the emulated figure is bounded by how links carry many small messages: stop-and-wait
   links cap it at one file per latency, pipelined ones do not. The two kinds of run
   alternate, `--repeats` times each, and the medians are compared, so that a burst of load
   from elsewhere on the host does not fall on one side only.

Everything runs real agent processes on this machine; nothing is simulated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, run
from jupiter.report.report import throughput

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def stream_rate(app: Path, inputs: int, emulate: bool, out: Path) -> tuple[float, float]:
    """Inputs per second through the stream, and the median makespan, of one run."""
    cluster = Cluster.default(8).model_copy(update={"emulate": emulate})
    options = RunOptions(
        backend=LocalBackend(), app=app, cluster=cluster, inputs=inputs, out_dir=out
    )
    # Profiling measures the app; this figure is about the links alone.
    options.profiling = False
    result = asyncio.run(run(options))
    rate = throughput(result.injected_at, result.completed_at).per_second
    spans = sorted(result.makespans.values())
    return (rate or 0.0), spans[len(spans) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=30, help="inputs streamed per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind")
    args = parser.parse_args()
    logging.getLogger("jupiter").setLevel(logging.WARNING)
    console = Console()
    table = Table(title="Jupiter stream benchmark")
    for column in ("figure", "measured", "target", "verdict"):
        table.add_column(column)
    app = EXAMPLES / "anomaly-detection"
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as raw:
        tmp = Path(raw)
        for repeat in range(args.repeats):
            for emulate in (False, True):
                out = tmp / f"{'on' if emulate else 'off'}-{repeat}"
                runs[emulate].append(stream_rate(app, args.inputs, emulate, out))
    off = statistics.median(rate for rate, _ in runs[False])
    on = statistics.median(rate for rate, _ in runs[True])
    off_span = statistics.median(span for _, span in runs[False])
    on_span = statistics.median(span for _, span in runs[True])
    ratio = on / off if off else 0.0
    table.add_row(
        f"emulated throughput vs unemulated, small messages, anomaly-detection, "
        f"{args.inputs} inputs, median of {args.repeats}",
        f"{on:.1f} vs {off:.1f} inputs/s = {ratio:.2f}x "
        f"(median makespan {on_span * 1e3:.0f} vs {off_span * 1e3:.0f} ms)",
        ">= 0.8x",
        "[green]met[/]" if ratio >= 0.8 else "[red]missed[/]",
    )
    for emulate, label in ((True, "emulated"), (False, "unemulated")):
        rates = ", ".join(f"{rate:.1f}" for rate, _ in runs[emulate])
        table.add_row(f"  context: each {label} run", f"{rates} inputs/s", "", "")
    console.print(table)
    console.print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
