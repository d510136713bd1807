"""The profile beside what the run measured, for report.json.

The executors' monitor records (GET /circe/stats) are the second source of execution figures:
how long each task really took on its node during the run. Putting them next to the
profiled seconds shows how far the mapper's picture was from what happened.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from jupiter.profiler.model import Profile


def execution_comparison(
    tasks: Iterable[str], profile: Profile | None, stats: list[dict[str, Any]]
) -> dict[str, Any]:
    """Per task: profiled seconds per node, and measured run durations per node."""
    measured: dict[str, dict[str, list[float]]] = {}
    for record in stats:
        if record.get("failed") is None and record.get("duration") is not None:
            by_node = measured.setdefault(record["task"], {})
            by_node.setdefault(record["node"], []).append(float(record["duration"]))
    comparison: dict[str, Any] = {}
    for task in tasks:
        profiled = profile.compute.get(task) if profile is not None else None
        runs = measured.get(task, {})
        comparison[task] = {
            "profiled": dict(profiled) if profiled else None,
            "measured": {
                node: {
                    "runs": len(values),
                    "median": statistics.median(values),
                    "mean": statistics.fmean(values),
                    "profiled": profiled.get(node) if profiled else None,
                }
                for node, values in sorted(runs.items())
            },
        }
    return comparison
