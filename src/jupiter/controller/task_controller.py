"""The task controller: re-maps a running stream as conditions change (the paper's lazy and
active modes), through the same epochs as recovery (controller/recovery.py `adopt`).

What it learns: every task record the agents send home (with their heartbeats, as inputs
finish) refines that task's figure on that node (`RuntimeFigures`, profiler/refine.py: an
EWMA from the profiled figure, which then counts as `learned`), and tells how fast its node
runs now against how it ran at first (`NodeFactors`): a node slowed five times gets a
factor of five. The refreshed problem scales each node's compute by its factor, and takes a
figure learned from enough runs in place of the planned one, relative to its node's first
ratio like the factor (`NodeFactors.scaled`).

- lazy: when the mean makespan of the last `window` inputs exceeds `drift_threshold` times
  the baseline (the first mapping's first `window` inputs, or the prediction if that is
  larger; it stays through later changes), re-map on the refreshed problem and adopt the
  result if it predicts any gain.
- active: every `period` seconds, re-map on the refreshed problem; adopt when the predicted
  makespan gain beats `gain_threshold` on `hysteresis` attempts in a row (so that it does
  not flap on noise).

A change takes effect at an input boundary (recovery.py `adopt`): inputs from the next one
injected use it. The controller judges each mapping on its own inputs only, and after a
change waits for `window` of them before judging again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupiter.controller.home import HomeState
from jupiter.controller.recovery import Recovery
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import Mapper
from jupiter.mapper.simulate import simulate
from jupiter.planning.settings import ControllerSettings
from jupiter.profiler.classes import LEARNED
from jupiter.profiler.refine import RuntimeFigures, ewma

log = logging.getLogger(__name__)

TICK_S = 0.5


# Samples a node's speed is first judged on: later ones are compared with these.
BASELINE_SAMPLES = 5


@dataclass
class NodeFactors:
    """How much slower each node runs now than it did at first: its moving average (EWMA)
    of measured over planned compute, divided by the same ratio over its first samples.

    Relative, because the planned figures and the measured ones differ by the host's own
    overhead on every node alike; what matters is a node that changed. A node with too
    few samples is taken as unchanged (1.0).
    """

    alpha: float
    factors: dict[str, float] = field(default_factory=dict)
    _first: dict[str, list[float]] = field(default_factory=dict)
    _average: dict[str, float] = field(default_factory=dict)
    _seen: int = 0

    def learn(self, records: list[dict[str, Any]], planned: dict[str, dict[str, float]]) -> None:
        for record in records[self._seen :]:
            task, node = str(record["task"]), str(record["node"])
            start, finish = record.get("start"), record.get("finish")
            plan = planned.get(task, {}).get(node, 0.0)
            if not isinstance(start, float) or not isinstance(finish, float) or plan <= 0:
                continue
            sample = (finish - start) / plan
            self._average[node] = ewma(self._average.get(node), sample, self.alpha)
            first = self._first.setdefault(node, [])
            if len(first) < BASELINE_SAMPLES:
                first.append(sample)
            if len(first) == BASELINE_SAMPLES:
                self.factors[node] = self._average[node] / statistics.fmean(first)
        self._seen = len(records)

    def scaled(
        self, problem: SchedulingProblem, figures: RuntimeFigures | None = None
    ) -> SchedulingProblem:
        """`problem` with each node's compute times its factor, and each figure `figures`
        learned well enough in its place.

        Relative, like the factors: a learned figure is in the stream's seconds, which differ
        from the planned ones by the host's overhead and the other work on its cores, so it
        enters divided by its node's first measured/planned ratio (what the factor divides
        by). Only once that ratio is known and the figure has learned from as many runs
        (`BASELINE_SAMPLES`, by when the profiled seed weighs 17% at alpha 0.3): earlier,
        the node's factor serves. What a learned figure adds to the factor is the task's
        own: a task that runs slower than planned on a node where the others do not.
        """
        compute: dict[str, dict[str, float]] = {}
        changed = False
        for task, row in problem.compute.items():
            compute[task] = {}
            for node, seconds in row.items():
                first = self._first.get(node, [])
                own = self._learned(figures, task, node) if len(first) == BASELINE_SAMPLES else None
                if own is not None:
                    compute[task][node] = own / statistics.fmean(first)
                    changed = True
                else:
                    compute[task][node] = seconds * self.factors.get(node, 1.0)
        if not changed and not self.factors:
            return problem
        return dataclasses.replace(problem, compute=compute)

    @staticmethod
    def _learned(figures: RuntimeFigures | None, task: str, node: str) -> float | None:
        """The figure of `task` on `node` if it has learned from enough runs, else None."""
        if figures is None or figures.sources.get(task, {}).get(node) != LEARNED:
            return None
        if figures.samples.get(task, {}).get(node, 0) < BASELINE_SAMPLES:
            return None
        return figures.seconds[task][node]


class TaskController:
    def __init__(
        self,
        settings: ControllerSettings,
        state: HomeState,
        problem: SchedulingProblem,
        mapper: Mapper,
        recovery: Recovery,
        injected_at: dict[int, float],
        predicted_makespan: float,
        clock: Callable[[], float] | None = None,
        figures: RuntimeFigures | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.problem = problem
        self.mapper = mapper
        self.recovery = recovery
        self.injected_at = injected_at
        self.predicted = predicted_makespan
        self.factors = NodeFactors(settings.active.ewma_alpha)
        # The run's figures, refined here as records come (None: the problem's, not kept).
        self.figures = figures or RuntimeFigures.seeded(
            problem.compute, alpha=settings.active.ewma_alpha
        )
        self._streak = 0
        # The first input of the current mapping: it is judged on those from it on.
        self._first = 0
        self._baseline: float | None = None

    async def run(self) -> None:
        mode = self.settings.mode
        if mode == "none":
            return
        period = self.settings.active.period if mode == "active" else TICK_S
        while True:
            await asyncio.sleep(period)
            try:
                await self.step()
            except Exception:
                # A controller that cannot decide leaves the mapping as it is: it is an
                # optimisation, never a reason to fail a stream that is flowing.
                log.exception("the task controller could not decide")

    async def step(self) -> None:
        self.factors.learn(self.state.records, self.problem.compute)
        self.figures.learn(self.state.records)
        recent = self._completed_makespans()
        window = self.settings.lazy.window
        if len(recent) < window:
            return  # not enough of the current mapping seen yet
        if self._baseline is None:
            self._baseline = max(self.predicted, statistics.fmean(recent[:window]))
        if self.settings.mode == "lazy":
            mean = statistics.fmean(recent[-window:])
            if mean <= self.settings.lazy.drift_threshold * self._baseline:
                return
            reason = (
                f"makespan drifted to {mean:.3f} s over the last {window} inputs, "
                f"{mean / self._baseline:.1f}x the {self._baseline:.3f} s baseline"
            )
            await self._remap("lazy", reason, minimum_gain=0.0)
        else:
            await self._remap(
                "active",
                "periodic re-mapping from the refreshed figures",
                minimum_gain=self.settings.active.gain_threshold,
            )

    async def _remap(self, trigger: str, reason: str, minimum_gain: float) -> None:
        current = self.state.deployment
        if current is None:
            return
        refreshed = self.factors.scaled(self.problem, self.figures)
        lost = sorted(self.state.registry.lost)
        candidate = self.mapper(refreshed, exclude=lost)
        now = simulate(refreshed, current.mapping, "heft").makespan
        gain = 1.0 - candidate.makespan / now if now > 0 else 0.0
        if gain <= minimum_gain:
            self._streak = 0
            return
        self._streak += 1
        if trigger == "active" and self._streak < self.settings.active.hysteresis:
            return
        self._streak = 0
        factors = ", ".join(f"{n} x{f:.1f}" for n, f in sorted(self.factors.factors.items()))
        change = await self.recovery.adopt(
            dict(candidate.mapping),
            trigger,
            f"{reason}; predicted makespan {now:.3f} -> {candidate.makespan:.3f} s "
            f"(node factors {factors})",
            gain,
        )
        if change is not None:
            # The baseline stays the healthy one: a change that fixed only part of a drift
            # (a task's own figure learns more slowly than its node's factor) is judged
            # against it and followed by another, not taken as the new normal.
            self._first = change.first_input or 0

    def _completed_makespans(self) -> list[float]:
        """Makespans of the completed inputs of the current mapping, in order of completion."""
        deliveries = self.state.deliveries
        finished = [
            (deliveries.completed_at(k), deliveries.completed_at(k) - began)
            for k, began in list(self.injected_at.items())
            if k >= self._first and deliveries.succeeded(k)
        ]
        return [makespan for _, makespan in sorted(finished)]
