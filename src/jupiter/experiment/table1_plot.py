"""table1.png: each M's run as one stacked bar of its modules' seconds (matplotlib, the
optional `plot` extra; without it there is no picture and the caller says so)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from jupiter.experiment.table1 import Table1Row
from jupiter.experiment.table1_files import seconds

PNG_NAME = "table1.png"

# The parts of a run that add up to its whole: (row field, label). "other profiling" is the
# profile phase beyond the network and execution profiles (the resource probe, gathering).
STACK: tuple[tuple[str, str], ...] = (
    ("profiler_deploy_s", "profiler deploy"),
    ("network_profile_s", "first network profile"),
    ("execution_profile_s", "execution profile"),
    ("other_profile_s", "other profiling"),
    ("mapping_s", "mapping"),
    ("executor_deploy_s", "executor deploy"),
    ("stream_s", "stream (all inputs)"),
    ("teardown_s", "teardown"),
)
# Colour-blind-safe (Okabe-Ito), one a part, in order.
COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#999999", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")


def plotting_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def part(row: Table1Row, name: str) -> float:
    if name == "other_profile_s":
        profiled = (row.network_profile_s or 0.0) + (row.execution_profile_s or 0.0)
        return max(0.0, (row.profile_s or 0.0) - profiled)
    value = getattr(row, name)
    return float(value) if value is not None else 0.0


def write_plot(rows: list[Table1Row], out: Path, title: str) -> Path:
    """Draw the rows; the caller checks `plotting_available()` first."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never a window, whatever the environment says
    import matplotlib.pyplot as plt

    # A run that did not complete is drawn as far as it got, and says so.
    labels = [
        f"M={row.tasks}" + ("" if row.status == "completed" else f"\n({row.status})")
        for row in rows
    ]
    figure, axes = plt.subplots(figsize=(9, 4.5), layout="constrained")
    bottoms = [0.0] * len(rows)
    for (name, label), colour in zip(STACK, COLOURS, strict=True):
        heights = [part(row, name) for row in rows]
        axes.bar(labels, heights, bottom=bottoms, label=label, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for index, total in enumerate(bottoms):
        axes.annotate(seconds(total) + " s", (index, total), ha="center", va="bottom", fontsize=8)
    axes.set_ylabel("seconds (wall clock)")
    axes.set_title(title, fontsize=10)
    # Outside the axes: at any M the bars may reach the top.
    figure.legend(fontsize=8, loc="outside right upper")
    path = out / PNG_NAME
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
