"""The stream's prediction beside what the run measured, per input, and why they differ.

A measured input splits along its critical path: from the exit that finished last, back
through, at each task, the parent that finished last (whose data was the last to arrive, at
the child's `ready`). On that path: compute is the tasks' durations (start -> finish),
queueing their waits for the node (ready -> start), transfer the gaps from a parent's finish
to its child's ready, and host overhead the rest of the makespan: handing the input to its
source's node and the exits' outputs to the home. The four add up to the makespan.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from jupiter.controller.run import RunResult
from jupiter.mapper.stream_sim import InputPrediction, StreamPrediction
from jupiter.report.model import InputBreakdown, StreamInput, StreamPredictionSection

# Measured within this fraction of the prediction needs no explaining.
CLOSE_ENOUGH = 0.15
# A resource busy for this fraction of the time between injections cannot keep up.
SATURATED = 0.9

COMPONENTS = ("compute", "transfer", "queueing", "host_overhead")


def stream_section(
    result: RunResult, measured_rate: float | None
) -> StreamPredictionSection | None:
    """report.json's `stream_prediction`; None when the run got no prediction."""
    if result.stream_prediction is None:
        return None
    # A time-dilated run predicted on the host's clock; the report is on the emulated one.
    prediction = result.stream_prediction.divided(result.cluster.dilation)
    measured = measured_breakdowns(
        result.stats,
        {task: result.app.upstream(task) for task in result.app.tasks},
        result.app.exits,
        result.injected_at,
        result.completed_at,
    )
    spans = [m.makespan for m in measured.values()]
    bottleneck = prediction.bottleneck()
    return StreamPredictionSection(
        inputs_planned=prediction.parameters.inputs,
        interval=prediction.parameters.interval,
        max_in_flight=prediction.parameters.max_in_flight,
        mean_makespan=prediction.mean_makespan,
        measured_mean_makespan=statistics.fmean(spans) if spans else None,
        throughput=prediction.throughput,
        measured_throughput=measured_rate,
        bottleneck=bottleneck[0] if bottleneck else None,
        bottleneck_period=bottleneck[1] if bottleneck else None,
        explanation=explain(prediction, measured, result.stats, result.injected_at),
        inputs=[
            StreamInput(id=p.input_id, predicted=_predicted(p), measured=measured.get(p.input_id))
            for p in prediction.inputs
        ],
    )


def _predicted(entry: InputPrediction) -> InputBreakdown:
    return InputBreakdown(
        makespan=entry.makespan,
        compute=entry.compute,
        transfer=entry.transfer,
        queueing=entry.queueing,
        host_overhead=entry.host_overhead,
        queued_at=entry.queued_at,
    )


def measured_breakdowns(
    stats: Sequence[Mapping[str, Any]],
    parents: Mapping[str, Sequence[str]],
    exits: Sequence[str],
    injected_at: Mapping[int, float],
    completed_at: Mapping[int, float],
) -> dict[int, InputBreakdown]:
    """Each completed input's makespan split along its critical path (see the module).

    `parents`: each task's upstream tasks and sources (a source has none)."""
    finished: dict[int, dict[str, Mapping[str, Any]]] = {}
    for record in stats:
        if record.get("finish") is None or record.get("start") is None:
            continue
        runs = finished.setdefault(record["input_id"], {})
        # After a re-mapping a task may have run twice: its first finish is what went on.
        earlier = runs.get(record["task"])
        if earlier is None or record["finish"] < earlier["finish"]:
            runs[record["task"]] = record
    breakdowns: dict[int, InputBreakdown] = {}
    for k, done in sorted(completed_at.items()):
        runs = finished.get(k, {})
        last = max((runs[e] for e in exits if e in runs), key=lambda r: r["finish"], default=None)
        if last is not None:
            breakdowns[k] = _walk(runs, last, parents, done - injected_at[k])
    return breakdowns


def _walk(
    runs: Mapping[str, Mapping[str, Any]],
    record: Mapping[str, Any],
    parents: Mapping[str, Sequence[str]],
    makespan: float,
) -> InputBreakdown:
    compute = transfer = queueing = 0.0
    waits: dict[str, float] = {}
    while True:
        compute += record["finish"] - record["start"]
        ready = record["ready"] if record["ready"] is not None else record["start"]
        wait = record["start"] - ready
        queueing += wait
        if wait > 0:
            waits[record["node"]] = waits.get(record["node"], 0.0) + wait
        ran = [runs[p] for p in parents.get(record["task"], ()) if p in runs]
        if not ran:
            break
        parent = max(ran, key=lambda r: r["finish"])
        transfer += ready - parent["finish"]
        record = parent
    return InputBreakdown(
        makespan=makespan,
        compute=compute,
        transfer=transfer,
        queueing=queueing,
        host_overhead=makespan - compute - transfer - queueing,
        queued_at=max(waits, key=waits.__getitem__) if waits else None,
    )


def explain(
    prediction: StreamPrediction,
    measured: Mapping[int, InputBreakdown],
    stats: Sequence[Mapping[str, Any]],
    injected_at: Mapping[int, float],
) -> str | None:
    """One line: measured against predicted mean makespan, and the main cause of the gap."""
    if not measured:
        return None
    inputs = [p for p in prediction.inputs if p.input_id in measured]
    predicted_mean = statistics.fmean(p.makespan for p in inputs)
    measured_mean = statistics.fmean(m.makespan for m in measured.values())
    head = f"measured {measured_mean:.3f} s vs predicted {predicted_mean:.3f} s per input"
    gap = measured_mean - predicted_mean
    if abs(gap) <= CLOSE_ENOUGH * predicted_mean:
        return f"{head}: within {CLOSE_ENOUGH:.0%}"
    predicted_parts = {
        "compute": statistics.fmean(p.compute for p in inputs),
        "transfer": statistics.fmean(p.transfer for p in inputs),
        "queueing": statistics.fmean(p.queueing for p in inputs),
        "host_overhead": statistics.fmean(p.host_overhead for p in inputs),
    }
    differences = {
        part: statistics.fmean(getattr(m, part) for m in measured.values()) - predicted_parts[part]
        for part in COMPONENTS
    }
    # The part that moved most in the gap's own direction.
    part = max(COMPONENTS, key=lambda name: differences[name] * (1 if gap > 0 else -1))
    share = differences[part] / gap
    return f"{head}: {share:.0%} {_cause(part, measured, prediction, stats, injected_at)}"


def _cause(
    part: str,
    measured: Mapping[int, InputBreakdown],
    prediction: StreamPrediction,
    stats: Sequence[Mapping[str, Any]],
    injected_at: Mapping[int, float],
) -> str:
    if part == "compute":
        ratio = _ratio(
            sum(m.compute for m in measured.values()),
            sum(p.compute for p in prediction.inputs if p.input_id in measured),
        )
        return f"compute (tasks ran {ratio} the predicted time; the host's CPUs may be shared)"
    if part == "transfer":
        ratio = _ratio(
            sum(m.transfer for m in measured.values()),
            sum(p.transfer for p in prediction.inputs if p.input_id in measured),
        )
        return f"transfer (data took {ratio} the links' predicted time, waits for a link included)"
    if part == "host_overhead":
        return "host overhead (handing inputs to their sources and outputs to the home)"
    totals: dict[str, float] = {}
    for m in measured.values():
        if m.queued_at is not None:
            totals[m.queued_at] = totals.get(m.queued_at, 0.0) + m.queueing
    if not totals:
        return "queueing"
    node = max(totals, key=totals.__getitem__)
    return f"queueing at {node} ({_saturation(node, stats, injected_at)})"


def _saturation(
    node: str, stats: Sequence[Mapping[str, Any]], injected_at: Mapping[int, float]
) -> str:
    """Whether `node` had more work per input than the time between two inputs."""
    durations = [
        r["finish"] - r["start"]
        for r in stats
        if r["node"] == node and r.get("finish") is not None and r.get("start") is not None
    ]
    times = sorted(injected_at.values())
    if len(times) < 2 or not durations:
        return f"{node} was busy with other inputs"
    per_input = sum(durations) / len(times)
    period = (times[-1] - times[0]) / (len(times) - 1)
    figures = f"{per_input:.3f} s of work per input, one input every {period:.3f} s"
    if per_input >= SATURATED * period:
        return f"the stream is faster than {node}: {figures}"
    return f"{node} was busy with other inputs: {figures}"


def _ratio(measured: float, predicted: float) -> str:
    return f"{measured / predicted:.1f}x" if predicted > 0 else "more than"
