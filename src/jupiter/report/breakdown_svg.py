"""report.html's per-input breakdown: each input's makespan as a stacked bar of compute,
transfer, queueing and host overhead (report/prediction.py splits it along the critical
path), the prediction's bar above the measured one, on one scale.

Past MAX_INPUTS inputs the first ones are drawn and the page's table holds them all.
"""

from __future__ import annotations

import html

from jupiter.report.model import InputBreakdown, Report

MAX_INPUTS = 40
BAR = 9
LABEL_WIDTH = 70
CHART_WIDTH = 820
# One colour per component, apart from the node palette's first colours.
PARTS = (
    ("compute", "#4c72b0"),
    ("transfer", "#dd8452"),
    ("queueing", "#c44e52"),
    ("host_overhead", "#8c8c8c"),
)


def breakdown_svg(report: Report) -> str:
    section = report.stream_prediction
    if section is None or not section.inputs:
        return ""
    shown = section.inputs[:MAX_INPUTS]
    longest = max(
        max(i.predicted.makespan, i.measured.makespan if i.measured else 0.0) for i in shown
    )
    scale = CHART_WIDTH / max(longest, 1e-9)
    pair = 2 * BAR + 6
    height = pair * len(shown) + 24
    svg = [
        f"<svg class='breakdown' width='{LABEL_WIDTH + CHART_WIDTH + 60}' height='{height}' "
        "xmlns='http://www.w3.org/2000/svg' font-size='11'>"
    ]
    for row, entry in enumerate(shown):
        y = row * pair
        svg.append(f"<text x='0' y='{y + BAR + 4}'>input {entry.id}</text>")
        svg += _bar(entry.predicted, y, scale, f"input {entry.id} predicted", dashed=True)
        if entry.measured is not None:
            svg += _bar(entry.measured, y + BAR + 1, scale, f"input {entry.id} measured")
    svg.append(
        f"<text x='{LABEL_WIDTH}' y='{height - 6}'>0 s</text>"
        f"<text x='{LABEL_WIDTH + CHART_WIDTH}' y='{height - 6}' text-anchor='end'>"
        f"{longest:.3f} s</text></svg>"
    )
    keys = "".join(
        f"<li><span class='key' style='background:{colour}'></span>{name.replace('_', ' ')}</li>"
        for name, colour in PARTS
    )
    more = (
        f"<p>The first {MAX_INPUTS} of {len(section.inputs)} inputs; the table has them all.</p>"
        if len(section.inputs) > MAX_INPUTS
        else ""
    )
    return (
        "<p>Each input's makespan along its critical path: the upper bar predicted (dashed "
        "outline), the lower measured.</p>" + "".join(svg) + f"<ul class='legend'>{keys}</ul>{more}"
    )


def _bar(b: InputBreakdown, y: float, scale: float, what: str, dashed: bool = False) -> list[str]:
    out = []
    x = float(LABEL_WIDTH)
    for name, colour in PARTS:
        seconds = max(getattr(b, name), 0.0)
        if seconds <= 0:
            continue
        width = seconds * scale
        tip = f"{what}: {name.replace('_', ' ')} {seconds:.3f} s of {b.makespan:.3f} s"
        dash = " stroke='#333' stroke-dasharray='2 2' fill-opacity='0.6'" if dashed else ""
        out.append(
            f"<rect class='part-{name}' x='{x:.1f}' y='{y:.1f}' width='{width:.1f}' "
            f"height='{BAR}' fill='{colour}'{dash}><title>{html.escape(tip)}</title></rect>"
        )
        x += width
    return out
