"""Prediction benchmark: `python bench/prediction.py` prints measured over predicted makespan.

For every example (examples/*) on the default 8-node emulated cluster, and for a WfCommons
trace imported with `jupiter import-wfcommons` (bwa, from /work/shared/workflows) on 16
nodes, two real runs with the same profile:

- one input at a time (--max-in-flight 1): each input alone on the cluster;
- the stream: every input injected at once (the default of `jupiter run`).

Each row prints the measured mean makespan, the stream simulation's prediction for that run
(mapper/stream_sim.py, with the run's own inputs, interval and in-flight limit), their ratio
beside the target (<= 1.15; a miss is a figure and a note, not a failure), the ratio the
mapper's one-input makespan gave before (Schedule.makespan), measured over predicted
throughput, and the report's one-line explanation of the difference.

Everything runs real agent processes on this machine; only the prediction is simulated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, RunResult, run
from jupiter.errors import RunError
from jupiter.profiler.model import Profile
from jupiter.report.report import build_report

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TRACE = Path("/work/shared/workflows/bwa-chameleon-small-001.json")
TARGET = 1.15
HEARTBEAT_TIMEOUT_S = 15.0


@dataclass
class Row:
    app: str
    mode: str
    dilation: float
    measured: float
    predicted: float
    one_input: float
    throughput_ratio: float | None
    explanation: str


def measure(repeats: int, *args: Any) -> list[Row]:
    """`repeats` runs of `measure_once(*args)`: every run's rows."""
    return [row for _ in range(max(1, repeats)) for row in measure_once(*args)]


def measure_once(
    name: str,
    app: Path,
    cluster: Cluster,
    inputs: int,
    out: Path,
    profiling: bool,
    dilation: float | Literal["auto"],
) -> list[Row]:
    rows: list[Row] = []
    profile: Profile | None = None
    for mode, in_flight in (("one at a time", 1), ("stream", None)):
        options = RunOptions(
            backend=LocalBackend(),
            app=app,
            cluster=cluster,
            inputs=inputs,
            max_in_flight=in_flight,
            # A fresh folder each run: --out refuses one holding an earlier run's outputs.
            out_dir=Path(tempfile.mkdtemp(prefix=f"{name}-{in_flight}-", dir=out)),
            profiling=profiling,
            profile=profile,
            profile_source="the first run" if profile is not None else None,
            # Two shared cores stall agents now and then; this measures prediction, not
            # recovery from a lost agent.
            heartbeat_timeout=HEARTBEAT_TIMEOUT_S,
            time_dilation=dilation,
        )
        try:
            result = asyncio.run(run(options))
        except RunError as error:
            logging.getLogger(__name__).error("%s, %s: the run failed: %s", name, mode, error)
            continue
        # The second run maps from the first run's profile: the same mapping, both modes.
        profile = result.profile
        rows.append(row(name, mode, result))
    return rows


def row(name: str, mode: str, result: RunResult) -> Row:
    report = build_report(result, "heft")
    section = report.stream_prediction
    assert section is not None and report.makespan is not None
    assert report.predicted_makespan is not None
    measured_rate = report.throughput.per_second
    return Row(
        app=name,
        mode=mode,
        dilation=result.cluster.dilation,
        measured=report.makespan.mean,
        predicted=section.mean_makespan,
        one_input=report.makespan.mean / report.predicted_makespan,
        throughput_ratio=(
            measured_rate / section.throughput
            if measured_rate is not None and section.throughput
            else None
        ),
        explanation=section.explanation or "",
    )


def import_trace(trace: Path, out: Path) -> Path:
    app = out / trace.stem
    subprocess.run(
        [sys.executable, "-m", "jupiter", "import-wfcommons", str(trace), str(app)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10, help="inputs per example run")
    parser.add_argument("--trace-inputs", type=int, default=3, help="inputs per trace run")
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="map from the apps' declared estimates instead of a profile",
    )
    parser.add_argument(
        "--time-dilation",
        default="auto",
        help="K >= 1 or auto (the default: fits the runs into the cores other work leaves)",
    )
    parser.add_argument(
        "--nodes-106",
        action="store_true",
        help="also the 106-node row: a generated 30-task app (the paper's parameters, time "
        "scale 0.01), 10 inputs (long: 106 agents profile on this machine's cores)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs of each row (a row's verdict is the median ratio; this machine's two "
        "cores make one run of a small app vary by a third)",
    )
    parser.add_argument(
        "--only",
        metavar="NAME",
        help="only this example ('trace': the imported trace; '106': the 106-node row)",
    )
    args = parser.parse_args()
    dilation: float | Literal["auto"] = (
        "auto" if args.time_dilation == "auto" else float(args.time_dilation)
    )
    logging.getLogger("jupiter").setLevel(logging.WARNING)
    console = Console()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as raw:
        tmp = Path(raw)
        for app in sorted(p for p in EXAMPLES.iterdir() if (p / "app.yaml").is_file()):
            if args.only not in (None, app.name):
                continue
            rows += measure(
                args.repeats,
                app.name,
                app,
                Cluster.default(8),
                args.inputs,
                tmp,
                not args.no_profile,
                dilation,
            )
        if args.nodes_106 or args.only == "106":
            generated = tmp / "apps" / "generated-30"
            paper = ["--tasks", "30", "--time-scale", "0.01", "--seed", "1"]
            subprocess.run(
                [sys.executable, "-m", "jupiter", "generate-app", str(generated), *paper],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            rows += measure(
                args.repeats,
                "generated 30 tasks (106 nodes)",
                generated,
                Cluster.default(106),
                args.inputs,
                tmp,
                not args.no_profile,
                dilation,
            )
        if args.only not in (None, "trace"):
            pass  # another row was asked for
        elif TRACE.is_file():
            trace_app = import_trace(TRACE, tmp / "apps")
            rows += measure(
                args.repeats,
                f"{TRACE.stem} (16 nodes)",
                trace_app,
                Cluster.default(16),
                args.trace_inputs,
                tmp,
                not args.no_profile,
                dilation,
            )
        else:
            console.print(f"no trace at {TRACE}: the imported-trace rows are missing")
    if not rows:
        sys.exit(f"no rows: --only {args.only!r} names no example, 'trace' or '106'")
    table = Table(title="Measured over predicted mean makespan (stream simulation)")
    for column in (
        "app",
        "inputs",
        "K",
        "measured (s)",
        "predicted (s)",
        "measured/predicted",
        "target",
        "verdict",
        "before: /one-input",
        "throughput m/p",
    ):
        table.add_column(column)
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.app, r.mode), []).append(r)
    medians: list[float] = []
    for (app, mode), runs in groups.items():
        ratios = sorted(r.measured / r.predicted for r in runs)
        ratio = statistics.median(ratios)
        medians.append(ratio)
        throughputs = [r.throughput_ratio for r in runs if r.throughput_ratio is not None]
        table.add_row(
            app,
            mode,
            "/".join(f"{r.dilation:g}" for r in runs),
            "/".join(f"{r.measured:.3f}" for r in runs),
            "/".join(f"{r.predicted:.3f}" for r in runs),
            f"{ratio:.2f}" + (f" ({', '.join(f'{x:.2f}' for x in ratios)})" * (len(runs) > 1)),
            f"<= {TARGET}",
            "met" if ratio <= TARGET else "missed",
            f"{statistics.median(r.one_input for r in runs):.2f}",
            f"{statistics.median(throughputs):.2f}" if throughputs else "-",
        )
    console.print(table)
    console.print(
        f"median measured/predicted {statistics.median(medians):.2f} over {len(medians)} rows "
        f"({len(rows)} runs); {sum(x <= TARGET for x in medians)} of {len(medians)} rows "
        "within the target"
    )
    for r in rows:
        if r.measured / r.predicted > TARGET:
            console.print(f"note: {r.app}, {r.mode}: {r.explanation}", markup=False)


if __name__ == "__main__":
    main()
