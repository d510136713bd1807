"""report.html's schedules, inline SVG, one lane per node, coloured by node (or region):

- the timeline: every task run of every input as the executors recorded it;
- the mapper's predicted schedule for one input on an idle cluster beside the measured runs
  of one input (the first completed), each node a predicted lane above a measured lane on one
  time axis from the input's injection, so a task that ran late or long shows as a shift.

Task names are on hover (<title>): at 200 tasks no label would fit in a bar.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from jupiter.report.model import InputRecord, Report, TaskStats
from jupiter.report.palette import Colouring

ROW_HEIGHT = 22
# Task runs the timeline draws at most (about 250 bytes each): past it, the runs of the first
# inputs, so that a long stream of a large app still makes a page a browser opens at once.
MAX_TIMELINE_RUNS = 4000
LABEL_WIDTH = 110
CHART_WIDTH = 880
TICKS = 5


@dataclass(frozen=True)
class _Bar:
    """A task run with a start and a finish: what a lane can draw."""

    record: TaskStats
    start: float
    finish: float

    @staticmethod
    def of(record: TaskStats) -> _Bar | None:
        if record.start is None or not record.finish:
            return None
        return _Bar(record, record.start, record.finish)


def _lane_label(report: Report, node: str) -> str:
    region = next((n.region for n in report.nodes if n.name == node), "")
    return f"{node} {region}".strip()


def _axis(y: float, seconds: float, scale: float) -> list[str]:
    return [
        f"<text x='{LABEL_WIDTH + seconds * tick / TICKS * scale:.1f}' y='{y:.0f}' "
        f"text-anchor='middle'>{seconds * tick / TICKS:.2f}s</text>"
        for tick in range(TICKS + 1)
    ]


def _open(height: float, kind: str) -> str:
    return (
        f"<svg class='{kind}' width='{LABEL_WIDTH + CHART_WIDTH + 30}' height='{height:.0f}' "
        "xmlns='http://www.w3.org/2000/svg' font-size='12'>"
    )


def timeline_svg(report: Report, colouring: Colouring) -> str:
    """Every task run on every node; the pale part of a bar is its wait for inputs and node."""
    # Sources take no time: they only mark where an input entered.
    sources = set(report.sources)
    bars = (_Bar.of(r) for r in report.stats if r.task not in sources)
    ran = [bar for bar in bars if bar is not None]
    if not ran:
        return "<p>No task ran.</p>"
    ran, note = _first_inputs(ran, report)
    # A failed run may have task runs but no completed input: the runs set the bounds too.
    origin = min([r.start for r in ran] + [i.injected_at for i in report.inputs])
    end = max([r.finish for r in ran] + [i.completed_at for i in report.inputs])
    scale = CHART_WIDTH / max(end - origin, 1e-9)
    used = [n.name for n in report.nodes if any(r.record.node == n.name for r in ran)]
    used += sorted({r.record.node for r in ran} - set(used))
    svg = [_open(ROW_HEIGHT * len(used) + 30, "timeline")]
    for row, node in enumerate(used):
        y = row * ROW_HEIGHT
        fill = colouring.of(node)
        svg.append(f"<g class='lane-measured' data-node='{_e(node)}'>")
        svg.append(f"<text x='0' y='{y + 15}'>{_e(_lane_label(report, node))}</text>")
        svg.append(
            f"<line x1='{LABEL_WIDTH}' x2='{LABEL_WIDTH + CHART_WIDTH}' y1='{y + ROW_HEIGHT}' "
            f"y2='{y + ROW_HEIGHT}' stroke='#eee'/>"
        )
        for bar in (bar for bar in ran if bar.record.node == node):
            r = bar.record
            x0 = LABEL_WIDTH + (bar.start - origin) * scale
            width = max((bar.finish - bar.start) * scale, 1.0)
            tip = (
                f"{r.task} input {r.input_id} on {node}: waited {r.waiting or 0:.3f} s, "
                f"ran {r.duration or 0:.3f} s"
            )
            if r.enter is not None and r.enter < bar.start:
                wx = LABEL_WIDTH + (r.enter - origin) * scale
                svg.append(
                    f"<rect x='{wx:.1f}' y='{y + 8}' width='{max(x0 - wx, 0.5):.1f}' height='6' "
                    f"fill='{fill}' opacity='0.25'><title>{_e(tip)}</title></rect>"
                )
            svg.append(
                f"<rect x='{x0:.1f}' y='{y + 3}' width='{width:.1f}' height='{ROW_HEIGHT - 6}' "
                f"fill='{fill}' stroke='#fff' stroke-width='0.5'><title>{_e(tip)}</title></rect>"
            )
        svg.append("</g>")
    svg += _axis(ROW_HEIGHT * len(used) + 15, end - origin, scale)
    svg.append("</svg>")
    return note + "".join(svg)


def _first_inputs(ran: list[_Bar], report: Report) -> tuple[list[_Bar], str]:
    """At most MAX_TIMELINE_RUNS runs: those of the first inputs, and a note saying so."""
    if len(ran) <= MAX_TIMELINE_RUNS:
        return ran, ""
    per_input: dict[int, int] = {}
    for bar in ran:
        per_input[bar.record.input_id] = per_input.get(bar.record.input_id, 0) + 1
    kept: set[int] = set()
    total = 0
    for k in sorted(per_input):
        if total + per_input[k] > MAX_TIMELINE_RUNS and kept:
            break
        kept.add(k)
        total += per_input[k]
    note = (
        f"<p>The runs of the first {len(kept)} of {len(per_input)} inputs ({total} of "
        f"{len(ran)} task runs); report.json has them all.</p>"
    )
    return [bar for bar in ran if bar.record.input_id in kept], note


def compared_input(report: Report) -> InputRecord | None:
    """The input the comparison draws: the first completed one."""
    return min(report.inputs, key=lambda i: i.id, default=None)


def comparison_svg(report: Report, colouring: Colouring) -> str:
    """Per node, the mapper's predicted runs (outlined) above one input's measured runs."""
    entry = compared_input(report)
    sources = set(report.sources)
    planned = [a for a in report.predicted_schedule if a.task not in sources]
    if entry is None or not planned:
        return "<p>Nothing to compare: no mapping or no completed input.</p>"
    measured = [
        bar
        for bar in (_Bar.of(r) for r in report.stats if r.input_id == entry.id)
        if bar is not None and bar.record.task not in sources
    ]
    origin = entry.injected_at
    end = max(
        [a.finish for a in planned]
        + [bar.finish - origin for bar in measured]
        + [entry.completed_at - origin]
    )
    scale = CHART_WIDTH / max(end, 1e-9)
    names = [n.name for n in report.nodes]
    touched = {a.node for a in planned} | {bar.record.node for bar in measured}
    used = [n for n in names if n in touched] + sorted(touched - set(names))
    lane = ROW_HEIGHT - 6
    pair = 2 * lane + 10
    svg = [_open(pair * len(used) + 30, "comparison")]
    for row, node in enumerate(used):
        y = row * pair
        fill = colouring.of(node)
        svg.append(f"<text x='0' y='{y + lane}'>{_e(_lane_label(report, node))}</text>")
        svg.append(
            f"<line x1='{LABEL_WIDTH}' x2='{LABEL_WIDTH + CHART_WIDTH}' y1='{y + pair - 3}' "
            f"y2='{y + pair - 3}' stroke='#eee'/>"
        )
        svg.append(f"<g class='lane-predicted' data-node='{_e(node)}'>")
        for a in (a for a in planned if a.node == node):
            tip = f"{a.task} on {node}, predicted: {a.start:.3f} -> {a.finish:.3f} s"
            svg.append(
                f"<rect class='sched-predicted' x='{LABEL_WIDTH + a.start * scale:.1f}' "
                f"y='{y + 1}' width='{max((a.finish - a.start) * scale, 1.0):.1f}' "
                f"height='{lane - 2}' fill='{fill}' fill-opacity='0.35' stroke='{fill}' "
                f"stroke-dasharray='3 2'><title>{_e(tip)}</title></rect>"
            )
        svg.append("</g>")
        svg.append(f"<g class='lane-measured' data-node='{_e(node)}'>")
        for bar in (bar for bar in measured if bar.record.node == node):
            start, finish = bar.start - origin, bar.finish - origin
            tip = (
                f"{bar.record.task} on {node}, measured for input {entry.id}: "
                f"{start:.3f} -> {finish:.3f} s"
            )
            svg.append(
                f"<rect class='sched-measured' x='{LABEL_WIDTH + start * scale:.1f}' "
                f"y='{y + lane + 1}' width='{max((finish - start) * scale, 1.0):.1f}' "
                f"height='{lane - 2}' fill='{fill}' stroke='#fff' stroke-width='0.5'>"
                f"<title>{_e(tip)}</title></rect>"
            )
        svg.append("</g>")
    svg += _axis(pair * len(used) + 15, end, scale)
    svg.append("</svg>")
    return "".join(svg)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
