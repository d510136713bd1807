"""report.html's picture of the app's DAG: inline SVG, laid out in layers (a task's layer is
its longest path from a source: networkx's topological generations), each task coloured by
the node (or region) it was mapped to, its name and node on hover (<title>).

Within a layer tasks are ordered by the mean position of their parents (the barycentre
heuristic of Sugiyama-style layouts), which untangles most edges in one pass.
"""

from __future__ import annotations

import html
import statistics

import networkx as nx

from jupiter.report.model import Report
from jupiter.report.palette import Colouring

WIDTH = 900
MARGIN = 20
RADIUS = 6
# Task names are written beside their dots up to this many tasks; past it, on hover only.
MAX_LABELLED = 40
LABEL_CHAR_PX = 6.5


def layers(dag: dict[str, list[str]]) -> list[list[str]]:
    """The DAG's layers, each ordered by its parents' mean position in the layer before."""
    graph = nx.DiGraph()
    graph.add_nodes_from(dag)
    graph.add_edges_from((parent, task) for task, ups in dag.items() for parent in ups)
    ordered: list[list[str]] = []
    position: dict[str, float] = {}
    for generation in nx.topological_generations(graph):

        def barycentre(task: str) -> tuple[float, str]:
            placed = [position[p] for p in graph.predecessors(task) if p in position]
            return (statistics.fmean(placed) if placed else 0.0, task)

        layer = sorted(generation, key=barycentre)
        # Positions as fractions of the layer, so that layers of different sizes compare.
        position.update({task: (i + 0.5) / len(layer) for i, task in enumerate(layer)})
        ordered.append(layer)
    return ordered


def dag_svg(report: Report, colouring: Colouring) -> str:
    if not report.dag:
        return "<p>This report has no DAG (written before report.json had one).</p>"
    try:
        ordered = layers(report.dag)
    except nx.NetworkXUnfeasible:
        return "<p>The DAG in this report has a cycle: not drawn.</p>"
    labelled = len(report.dag) <= MAX_LABELLED
    gap = WIDTH / max(len(ordered) - 1, 1) if len(ordered) > 1 else 0.0
    row = 24 if labelled else 14
    tallest = max(len(layer) for layer in ordered)
    height = tallest * row + 2 * MARGIN
    at: dict[str, tuple[float, float]] = {}
    for column, layer in enumerate(ordered):
        # Each layer centred on the tallest one.
        top = MARGIN + (tallest - len(layer)) * row / 2
        for i, task in enumerate(layer):
            at[task] = (MARGIN + column * gap, top + (i + 0.5) * row)
    # Room for the last layer's labels on the right.
    label_room = 120 if labelled else 0
    svg = [
        f"<svg class='dag' width='{WIDTH + 2 * MARGIN + label_room}' height='{height:.0f}' "
        "xmlns='http://www.w3.org/2000/svg' font-size='11'>"
    ]
    for task, parents in report.dag.items():
        x2, y2 = at[task]
        for parent in parents:
            if parent not in at:
                continue
            x1, y1 = at[parent]
            svg.append(
                f"<line class='dag-edge' x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' "
                f"y2='{y2:.1f}' stroke='#bbb' stroke-width='1'/>"
            )
    sources = set(report.sources)
    max_chars = int(max(gap - 2 * RADIUS - 6, 60) / LABEL_CHAR_PX)
    for task, (x, y) in at.items():
        node = report.mapping.get(task)
        fill = colouring.of(node) if node is not None else "#dddddd"
        tip = f"{task} on {node}" if node is not None else f"{task} (not mapped)"
        if task in sources:
            tip = f"source {tip}"
        shape = (
            f"<rect x='{x - RADIUS:.1f}' y='{y - RADIUS:.1f}' width='{2 * RADIUS}' "
            f"height='{2 * RADIUS}'"
            if task in sources
            else f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{RADIUS}'"
        )
        tag = "rect" if task in sources else "circle"
        svg.append(
            f"{shape} class='dag-task' data-task='{_e(task)}' data-node='{_e(node or '')}' "
            f"fill='{fill}' stroke='#333' stroke-width='0.6'><title>{_e(tip)}</title></{tag}>"
        )
        if labelled:
            name = task if len(task) <= max_chars else task[: max_chars - 1] + "…"
            svg.append(f"<text x='{x + RADIUS + 3:.1f}' y='{y + 4:.1f}'>{_e(name)}</text>")
    svg.append("</svg>")
    return "".join(svg)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
