"""Runtime refinement: the execution figures the stream teaches, per (task, node).

Each task record the executors send home (its `duration`: start to finish, node speed
emulation included, as a profiled figure is) moves that task's figure on that node towards
what was measured, by an exponentially weighted moving average:

    figure <- figure + alpha * (duration - figure)

seeded with the profiled figure (measured, or from its class), so that one run does not
throw the profile away and a run that keeps telling the same thing wins within a few
samples: with alpha 0.3, 5 samples carry 83% of the weight, 10 carry 97%. A figure that
learned from a record is marked `learned`. The task controller (controller/task_controller.py)
re-maps on these figures; report.json's `execution_profile` shows them.

`alpha` is the controller's `active.ewma_alpha` (jupiter.yaml; 0.3 by default), the same
weight its per-node drift factors use. A learned figure includes whatever the stream added
to the task's run on that node (other tasks sharing its cores, on the local backend).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupiter.profiler.classes import LEARNED, MEASURED, FigureSource
from jupiter.profiler.model import Profile

DEFAULT_ALPHA = 0.3


def ewma(average: float | None, sample: float, alpha: float) -> float:
    """One step of the moving average: `sample` itself when there is none yet."""
    return sample if average is None else average + alpha * (sample - average)


@dataclass
class RuntimeFigures:
    """The run's per-(task, node) execution figures, refined from task records as they come."""

    alpha: float
    # seconds[task][node]: the current figure; sources[task][node]: where it came from.
    seconds: dict[str, dict[str, float]]
    sources: dict[str, dict[str, FigureSource]]
    # The figures before any learning, and how many records each learned from.
    profiled: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: dict[str, dict[str, int]] = field(default_factory=dict)
    # (task, input id, node) of every record already learned from: records come again
    # (the home's list grows; a report re-reads them all) and each counts once.
    _seen: set[tuple[str, int, str]] = field(default_factory=set)

    @classmethod
    def seeded(
        cls,
        compute: Mapping[str, Mapping[str, float]],
        sources: Mapping[str, Mapping[str, FigureSource]] | None = None,
        alpha: float = DEFAULT_ALPHA,
    ) -> RuntimeFigures:
        """Figures starting from `compute[task][node]` (unlisted sources: `measured`)."""
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha is a weight in (0, 1], got {alpha!r}")
        sources = sources or {}
        return cls(
            alpha=alpha,
            seconds={task: dict(row) for task, row in compute.items()},
            sources={
                task: {node: sources.get(task, {}).get(node, MEASURED) for node in row}
                for task, row in compute.items()
            },
            profiled={task: dict(row) for task, row in compute.items()},
        )

    def observe(self, task: str, node: str, duration: float) -> bool:
        """Learn one measured run; False if (task, node) has no figure to refine."""
        row = self.seconds.get(task)
        if row is None or node not in row or duration < 0:
            return False
        row[node] = ewma(row[node], duration, self.alpha)
        self.sources[task][node] = LEARNED
        counts = self.samples.setdefault(task, {})
        counts[node] = counts.get(node, 0) + 1
        return True

    def learn(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Learn every successful record not seen before, in order of finish; returns how
        many were new."""
        fresh: list[tuple[float, str, str, float]] = []
        for record in records:
            duration, finish = record.get("duration"), record.get("finish")
            if record.get("failed") is not None or duration is None or finish is None:
                continue
            if int(record.get("attempts") or 1) > 1:
                continue  # its duration spans failed runs too: not one run's time
            task, node, input_id = str(record["task"]), str(record["node"]), record["input_id"]
            key = (task, int(input_id), node)
            if key in self._seen:
                continue
            self._seen.add(key)
            fresh.append((float(finish), task, node, float(duration)))
        learned = 0
        for _, task, node, duration in sorted(fresh):
            learned += self.observe(task, node, duration)
        return learned

    def counts(self) -> dict[FigureSource, int]:
        """How many figures came from each source."""
        counts: dict[FigureSource, int] = {}
        for row in self.sources.values():
            for source in row.values():
                counts[source] = counts.get(source, 0) + 1
        return counts


def from_profile(
    profile: Profile | None,
    compute: Mapping[str, Mapping[str, float]] | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> RuntimeFigures | None:
    """A run's figures seeded with its execution profile's (None: the run has none).

    `compute`: the profile's figures as the run uses them (the problem's, on the run's
    host clock), if not the profile's own; only the profile's tasks are taken from it."""
    if profile is None or not profile.compute:
        return None
    figures = {
        task: dict(compute[task]) if compute is not None and task in compute else dict(row)
        for task, row in profile.compute.items()
    }
    sources = {
        task: {node: profile.source_of(task, node) for node in row} for task, row in figures.items()
    }
    return RuntimeFigures.seeded(figures, sources, alpha)
