"""report.json (the DESIGN.md contract) and the summary table printed after a run."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from jupiter.controller.run import RunResult
from jupiter.profiler.summary import execution_comparison, profile_document

REPORT_VERSION = 1


def build_report(result: RunResult, mapper: str) -> dict[str, Any]:
    makespans = result.makespans
    values = list(makespans.values())
    schedule = result.schedule
    return {
        "version": REPORT_VERSION,
        "run_id": result.run_id,
        "app": result.app.name,
        "mapper": mapper,
        "nodes": [
            {"name": n.name, "region": n.region, "speed": n.speed} for n in result.cluster.nodes
        ],
        "emulated": result.cluster.emulate,
        "sources": list(result.app.sources),
        "mapping": schedule.mapping,
        "predicted_makespan": schedule.makespan,
        "predicted_schedule": [
            {"task": a.task, "node": a.node, "start": a.start, "finish": a.finish}
            for a in sorted(schedule.assignments.values(), key=lambda a: (a.start, a.task))
        ],
        "figure_sources": result.figure_sources,
        # Profiled seconds per (task, node) beside the durations the executors measured.
        "execution": execution_comparison(result.app.tasks, result.profile, result.stats),
        "profile": profile_document(result.profile),
        "inputs": [
            {
                "id": k,
                "injected_at": result.injected_at[k],
                "completed_at": result.completed_at[k],
                "makespan": makespans[k],
                "outputs": result.outputs[k],
            }
            for k in makespans
        ],
        "makespan": {
            "mean": statistics.fmean(values),
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        },
        "phases": result.phases,
        "duplicates": [{"input_id": k, "task": t} for k, t in result.duplicates],
        "stats": result.stats,
    }


def write_report(report: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(json.dumps(report, indent=2))
    return path


def print_summary(report: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"{report['app']} — {len(report['inputs'])} inputs, mapper {report['mapper']}"
    )
    table.add_column("input", justify="right")
    table.add_column("makespan (s)", justify="right")
    for entry in report["inputs"]:
        table.add_row(str(entry["id"]), f"{entry['makespan']:.3f}")
    spans = report["makespan"]
    table.add_section()
    table.add_row("mean", f"{spans['mean']:.3f}")
    table.add_row("predicted", f"{report['predicted_makespan']:.3f}")
    console.print(table)
    phases = "  ".join(f"{name} {seconds:.2f}s" for name, seconds in report["phases"].items())
    console.print(f"phases: {phases}")
