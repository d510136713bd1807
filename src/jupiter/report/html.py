"""report.html: the page a person opens after a run — summary, phase timings, the DAG as
mapped, and a Gantt chart of every task run on every node. One self-contained file (inline
SVG, no scripts, no network), so it can be mailed or archived with the run."""

from __future__ import annotations

import colorsys
import html
from dataclasses import dataclass
from pathlib import Path

from jupiter.report.emulation import emulation_line
from jupiter.report.model import InputBreakdown, Report, TaskStats, Throughput
from jupiter.report.tasklogs import load_index, logs_section

ROW_HEIGHT = 22
LABEL_WIDTH = 90
CHART_WIDTH = 900


def write_html_report(report: Report, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.html"
    page = render(report)
    # The task logs written beside it (report/tasklogs.py), linked at the end of the page.
    index = load_index(directory)
    if index is not None:
        head, body_end, tail = page.rpartition("</body>")
        page = f"{head}{logs_section(index)}\n{body_end}{tail}" if body_end else page
    path.write_text(page)
    return path


def _throughput_rows(rate: Throughput) -> list[tuple[str, str]]:
    if rate.per_second is None:
        return []
    rows = [("throughput", f"{rate.per_second:.2f} inputs/s over {rate.seconds:.2f} s")]
    if rate.median_completion_gap is not None:
        rows.append(("median gap between completions", f"{rate.median_completion_gap:.3f} s"))
    return rows


def _emulation_rows(report: Report) -> list[tuple[str, str]]:
    section = report.emulation
    if section is None:
        return []
    demand = "?" if section.demand is None else f"{section.demand:.1f}"
    rows = [
        ("emulated CPU demand", f"{demand} cores on {section.cores}"),
        ("time dilation", f"{section.dilation:g}"),
    ]
    line = emulation_line(section)
    if line is not None:
        rows.append(("emulation", line))
    return rows


def _failed_inputs(report: Report) -> list[str]:
    if not report.failed_inputs:
        return []
    rows = [(str(f.id), f.task, f.node, f.message[-2000:]) for f in report.failed_inputs]
    return ["<h2>Failed inputs</h2>", _table(["input", "task", "node", "message (end)"], rows)]


def _recovery(report: Report) -> list[str]:
    epochs = report.recovery.epochs
    if not epochs:
        return []
    rows = [
        (
            str(e.epoch),
            e.reason,
            f"{e.detection_s:.2f}",
            f"{e.remap_s * 1000:.0f}",
            ", ".join(f"{t}: {m.source} -> {m.to}" for t, m in sorted(e.moved.items())),
            str(len(e.in_flight)),
        )
        for e in epochs
    ]
    head = ["epoch", "why", "detected (s)", "re-mapped (ms)", "moved", "inputs replayed"]
    return ["<h2>Recovery</h2>", _table(head, rows)]


def _stream_prediction(report: Report) -> list[str]:
    section = report.stream_prediction
    if section is None:
        return []
    rate = "" if section.throughput is None else f", {section.throughput:.2f} inputs/s"
    measured_rate = section.measured_throughput
    head = (
        f"<p>Predicted: {section.mean_makespan:.3f} s mean makespan{rate}. Measured: "
        + (
            f"{section.measured_mean_makespan:.3f} s"
            if section.measured_mean_makespan is not None
            else "no completed input"
        )
        + (f", {measured_rate:.2f} inputs/s" if measured_rate is not None else "")
        + ".</p>"
    )
    why = [f"<p>{_e(section.explanation)}</p>"] if section.explanation else []

    def cells(b: InputBreakdown | None) -> tuple[str, ...]:
        if b is None:
            return ("", "", "", "", "", "")
        figures = (b.makespan, b.compute, b.transfer, b.queueing, b.host_overhead)
        return (*(f"{x:.3f}" for x in figures), b.queued_at or "")

    parts = ["makespan", "compute", "transfer", "queueing", "host", "queued at"]
    rows = [(str(i.id), *cells(i.predicted), *cells(i.measured)) for i in section.inputs]
    return [
        "<h2>Stream: predicted vs measured</h2>",
        head,
        *why,
        _table(
            ["input", *(f"predicted {p}" for p in parts), *(f"measured {p}" for p in parts)],
            rows,
        ),
    ]


def render(report: Report) -> str:
    title = f"Jupiter run {report.run_id}: {report.app}"
    spans = report.makespan
    summary = [
        ("status", report.status),
        *([("error", report.error)] if report.error else []),
        ("mapper", report.mapper),
        ("nodes", str(len(report.nodes))),
        ("inputs", str(len(report.inputs))),
        *(
            [
                ("makespan mean", f"{spans.mean:.3f} s"),
                ("makespan min / max", f"{spans.min:.3f} / {spans.max:.3f} s"),
            ]
            if spans is not None
            else []
        ),
        *(
            [("predicted (one input)", f"{report.predicted_makespan:.3f} s")]
            if report.predicted_makespan is not None
            else []
        ),
        *_throughput_rows(report.throughput),
        ("link emulation", "on" if report.emulated else "off"),
        *_emulation_rows(report),
    ]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _table(["", ""], summary),
        "<h2>Phases</h2>",
        _phases(report.phases),
        "<h2>Timeline</h2><p>Each bar is one task run for one input; the pale part is the time "
        "it waited for its inputs and its node. Hover for details.</p>",
        _gantt(report),
        "<h2>Mapping</h2>",
        _table(
            ["task", "node", "region", "predicted start", "predicted finish"],
            [
                (
                    a.task,
                    a.node,
                    _region(report, a.node),
                    f"{a.start:.3f}",
                    f"{a.finish:.3f}",
                )
                for a in report.predicted_schedule
            ],
        ),
        "<h2>Inputs</h2>",
        _table(
            ["input", "makespan (s)"],
            [(str(i.id), f"{i.makespan:.3f}") for i in report.inputs],
        ),
        *_failed_inputs(report),
        *_recovery(report),
        *_stream_prediction(report),
        "<h2>Where the figures came from</h2>",
        _table(["figure", "source"], list(report.figure_sources.items())),
        "</body></html>",
    ]
    return "\n".join(parts)


@dataclass(frozen=True)
class _Bar:
    """A task run with a start and a finish: what the timeline can draw."""

    record: TaskStats
    start: float
    finish: float

    @staticmethod
    def of(record: TaskStats) -> _Bar | None:
        if record.start is None or not record.finish:
            return None
        return _Bar(record, record.start, record.finish)


def _gantt(report: Report) -> str:
    # Sources take no time: they only mark where an input entered.
    sources = set(report.sources)
    bars = (_Bar.of(r) for r in report.stats if r.task not in sources)
    ran = [bar for bar in bars if bar is not None]
    if not ran:
        return "<p>No task ran.</p>"
    # A failed run may have task runs but no completed input: the runs set the bounds too.
    origin = min([r.start for r in ran] + [i.injected_at for i in report.inputs])
    end = max([r.finish for r in ran] + [i.completed_at for i in report.inputs])
    scale = CHART_WIDTH / max(end - origin, 1e-9)
    nodes = [n.name for n in report.nodes]
    used = [n for n in nodes if any(r.record.node == n for r in ran)]
    tasks = sorted({r.record.task for r in ran})
    colours = {t: _colour(i, len(tasks)) for i, t in enumerate(tasks)}
    height = ROW_HEIGHT * len(used) + 30
    svg = [
        f"<svg width='{LABEL_WIDTH + CHART_WIDTH + 20}' height='{height}' "
        "xmlns='http://www.w3.org/2000/svg' font-size='12'>"
    ]
    for row, node in enumerate(used):
        y = row * ROW_HEIGHT
        region = _region(report, node)
        svg.append(f"<text x='0' y='{y + 15}'>{_e(node)} {_e(region)}</text>")
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
                    f"fill='{colours[r.task]}' opacity='0.25'><title>{_e(tip)}</title></rect>"
                )
            svg.append(
                f"<rect x='{x0:.1f}' y='{y + 3}' width='{width:.1f}' height='{ROW_HEIGHT - 6}' "
                f"fill='{colours[r.task]}'><title>{_e(tip)}</title></rect>"
            )
    axis_y = ROW_HEIGHT * len(used) + 15
    for tick in range(6):
        seconds = (end - origin) * tick / 5
        x = LABEL_WIDTH + seconds * scale
        svg.append(f"<text x='{x:.1f}' y='{axis_y}' text-anchor='middle'>{seconds:.2f}s</text>")
    svg.append("</svg>")
    legend = " ".join(
        f"<span class='key' style='background:{colours[t]}'></span>{_e(t)}" for t in tasks
    )
    return "".join(svg) + f"<p class='legend'>{legend}</p>"


def _phases(phases: dict[str, float]) -> str:
    total = sum(phases.values()) or 1.0
    cells = "".join(
        f"<div class='phase' style='flex:{max(seconds / total, 0.02):.3f}' "
        f"title='{_e(name)}: {seconds:.3f} s'>{_e(name)}<br>{seconds:.2f} s</div>"
        for name, seconds in phases.items()
    )
    return f"<div class='phases'>{cells}</div>"


def _table(header: list[str], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _region(report: Report, node: str) -> str:
    return next((n.region for n in report.nodes if n.name == node), "")


def _colour(index: int, count: int) -> str:
    red, green, blue = colorsys.hsv_to_rgb(index / max(count, 1), 0.55, 0.85)
    return f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; }
.phases { display: flex; width: 990px; margin-bottom: 1.5em; }
.phase { background: #dfe8f5; border-right: 2px solid white; padding: 4px; font-size: 12px;
         overflow: hidden; white-space: nowrap; }
.legend { font-size: 12px; } .key { display: inline-block; width: 10px; height: 10px;
          margin: 0 4px 0 10px; }
"""
