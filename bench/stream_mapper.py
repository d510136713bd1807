"""The stream-aware mapper against HEFT: analytic period and real streamed runs.

    python bench/stream_mapper.py [--quick] [--no-runs] [--inputs 30] [--interval 0.1]

Analytic: on the bench/mapper.py instances (random DAGs of 200 and 1,000 tasks on 106
nodes, WfCommons traces on 16 nodes) and on the two apps below as the planner sees them
(declared estimates, `Cluster.default(8)`), the bottleneck period (seconds per input of the
busiest node or link) and the single-input makespan of HEFT's mapping and of `stream`'s,
and the time `stream` takes (target: well under 1 s at 200 x 106).

Runs: examples/anomaly-detection and a generated fan-in app (`jupiter generate-app`), each
streamed with `jupiter run --mapper heft` and `--mapper stream` on 8 emulated nodes,
--no-profile, the same inputs at the same fixed interval (faster than either mapping's
period, so the bottleneck sets the rate): measured throughput and mean makespan from
report.json.

Goal (issue 12): >= 1.5x HEFT's throughput on fan-in apps at no worse single-input
makespan. Each figure is printed beside it; a miss is a figure and a note, not a failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jupiter.cluster.spec import Cluster
from jupiter.mapper import heft, stream
from jupiter.mapper.from_workflow import problem_from_workflow
from jupiter.mapper.network import random_network
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.random_dag import random_problem
from jupiter.mapper.simulate import simulate
from jupiter.planning.app_problem import app_problem
from jupiter.workflows.wfcommons import load_workflow

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = Path("/work/shared/workflows")
ANOMALY = ROOT / "examples" / "anomaly-detection"
# Four sources fanning into three levels that narrow to a few exits.
FAN_IN_APP = [
    "--tasks", "12", "--depth", "3", "--min-width", "1", "--max-width", "8",
    "--ccr", "0.1", "--seed", "1", "--sources", "4",
]  # fmt: skip
GOAL_THROUGHPUT = 1.5
TARGET_SECONDS_200 = 1.0
NODES = 8


@dataclass
class Analytic:
    name: str
    tasks: int
    nodes: int
    heft_period: float
    stream_period: float
    heft_makespan: float  # HEFT's mapping run first come first served (simulate.py)
    stream_makespan: float
    seconds: float


def analytic(name: str, problem: SchedulingProblem) -> Analytic:
    base = heft.schedule(problem)
    began = time.perf_counter()
    result = stream.schedule(problem)
    seconds = time.perf_counter() - began
    result.check(problem)
    return Analytic(
        name,
        len(problem.tasks),
        len(problem.nodes),
        stream.period(problem, base.mapping),
        stream.period(problem, result.mapping),
        simulate(problem, base.mapping, "heft").makespan,
        result.makespan,
        seconds,
    )


def instances(quick: bool, fan_in: Path) -> list[tuple[str, SchedulingProblem]]:
    found: list[tuple[str, SchedulingProblem]] = []
    for v in (200,) if quick else (200, 1000):
        network = random_network(106, seed=v, latency=(0.0, 0.0))
        problem = random_problem(v, 106, ccr=1.0, alpha=1.0, out_degree=3, network=network, seed=v)
        found.append((f"random-{v}x106", problem))
    traces = sorted(WORKFLOWS.glob("*.json"))
    for path in traces[:3] if quick else traces:
        network = random_network(16, seed=0, latency=(0.0, 0.0))
        found.append((path.stem, problem_from_workflow(load_workflow(path), network)))
    cluster = Cluster.default(NODES, seed=0)
    found.append(("app anomaly-detection", app_problem(ANOMALY, cluster)))
    found.append(("app generated fan-in", app_problem(fan_in, cluster)))
    return found


def analytic_table(rows: list[Analytic]) -> Table:
    table = Table(title="Analytic: bottleneck period and single-input makespan")
    for column in ("instance", "tasks x nodes", "period heft", "period stream", "throughput x",
                   "makespan x", "stream time"):  # fmt: skip
        table.add_column(column, justify="left" if column == "instance" else "right")
    for row in rows:
        gain = row.heft_period / row.stream_period if row.stream_period > 0 else 1.0
        table.add_row(
            row.name,
            f"{row.tasks} x {row.nodes}",
            f"{row.heft_period:.4g}",
            f"{row.stream_period:.4g}",
            f"{gain:.2f}",
            f"{row.stream_makespan / row.heft_makespan:.3f}",
            f"{row.seconds * 1e3:.0f} ms",
        )
    return table


@dataclass
class Measured:
    app: str
    mapper: str
    throughput: float
    mean_makespan: float
    predicted_makespan: float | None


def streamed(
    app: Path, mapper: str, inputs: int, interval: float, work: Path, dilation: str | None
) -> Measured:
    report = work / f"{app.name}-{mapper}"
    command = [
        sys.executable, "-m", "jupiter", "run", str(app), "--nodes", str(NODES),
        "--mapper", mapper, "--no-profile", "--inputs", str(inputs),
        "--interval", str(interval), "--report", str(report), "--out", str(report / "out"),
        "--quiet",
    ]  # fmt: skip
    if dilation is not None:
        command += ["--time-dilation", dilation]
    subprocess.run(command, check=True, cwd=work)
    document = json.loads((report / "report.json").read_text())
    return Measured(
        app.name,
        mapper,
        document["throughput"]["per_second"],
        document["makespan"]["mean"],
        document.get("predicted_makespan"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 tasks and 3 traces only")
    parser.add_argument("--no-runs", action="store_true", help="analytic figures only")
    parser.add_argument("--inputs", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument(
        "--time-dilation",
        default="auto",
        help="passed to jupiter run (auto|K; default auto): 8 nodes' CPU demand exceeds 2 host "
        "cores, and a mapping that spreads work gains nothing on a contended host; 1 shows the "
        "contended figures",
    )
    parser.add_argument("--apps", default="anomaly-detection,fan-in")
    options = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory(prefix="jupiter-stream-bench-") as folder:
        work = Path(folder)
        fan_in = work / "fan-in"
        subprocess.run(
            [sys.executable, "-m", "jupiter", "generate-app", str(fan_in), *FAN_IN_APP],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        rows = [analytic(name, problem) for name, problem in instances(options.quick, fan_in)]
        console.print(analytic_table(rows))
        at_200 = next(r for r in rows if r.name == "random-200x106")
        console.print(
            f"stream at 200 x 106: {at_200.seconds * 1e3:.0f} ms "
            f"(target < {TARGET_SECONDS_200 * 1e3:.0f} ms)"
        )
        for row in rows:
            if row.name.startswith("app "):
                gain = row.heft_period / row.stream_period
                makespan = row.stream_makespan / row.heft_makespan
                console.print(
                    f"{row.name}: analytic throughput {gain:.2f}x HEFT (goal >= "
                    f"{GOAL_THROUGHPUT}x), single-input makespan {makespan:.3f}x (goal <= 1)"
                )
        if options.no_runs:
            return

        table = Table(
            title=f"Streamed: {options.inputs} inputs every {options.interval} s, "
            f"{NODES} emulated nodes, --no-profile"
        )
        for column in ("app", "mapper", "inputs/s", "mean makespan", "predicted (1 input)"):
            table.add_column(column, justify="left" if column in {"app", "mapper"} else "right")
        verdicts = []
        apps = [app for app in (ANOMALY, fan_in) if app.name in options.apps.split(",")]
        for app in apps:
            heft_run, stream_run = (
                streamed(app, mapper, options.inputs, options.interval, work, options.time_dilation)
                for mapper in ("heft", "stream")
            )
            for run in (heft_run, stream_run):
                predicted = run.predicted_makespan
                table.add_row(
                    run.app,
                    run.mapper,
                    f"{run.throughput:.2f}",
                    f"{run.mean_makespan:.3f} s",
                    "-" if predicted is None else f"{predicted:.3f} s",
                )
            gain = stream_run.throughput / heft_run.throughput
            makespan = stream_run.mean_makespan / heft_run.mean_makespan
            verdicts.append(
                f"{app.name}: measured throughput {gain:.2f}x HEFT (goal >= {GOAL_THROUGHPUT}x), "
                f"mean streamed makespan {makespan:.2f}x HEFT's"
            )
        console.print(table)
        for line in verdicts:
            console.print(line)


if __name__ == "__main__":
    main()
