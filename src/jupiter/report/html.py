"""report.html: the page a person opens after a run, assembled here from its parts: summary,
phase timings, the DAG coloured by node (dag_svg.py), the predicted schedule beside the
measured one and every task run (schedule_svg.py), per task predicted against measured
(task_times.py), per input where the makespan went (breakdown_svg.py, prediction.py), the
mapping, and where the figures came from. One self-contained file (inline SVG, no scripts,
no network), so it can be mailed or archived with the run."""

from __future__ import annotations

import html
from pathlib import Path

from jupiter.report.breakdown_svg import breakdown_svg
from jupiter.report.dag_svg import dag_svg
from jupiter.report.emulation import emulation_line
from jupiter.report.model import InputBreakdown, Report, Throughput
from jupiter.report.palette import Colouring, node_colouring
from jupiter.report.schedule_svg import compared_input, comparison_svg, timeline_svg
from jupiter.report.task_times import task_times
from jupiter.report.tasklogs import load_index, logs_section

# The phase bar's width, and about how wide one character of its labels is.
PHASES_WIDTH = 990
PHASE_CHAR_PX = 7.5


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
        breakdown_svg(report),
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
        *_pictures(report, node_colouring(report)),
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


def _phases(phases: dict[str, float]) -> str:
    """A bar of the phases in proportion; a phase's label is written in its segment only if
    it fits there, and every phase is listed below the bar, so no label is cut or overlaps."""
    total = sum(phases.values()) or 1.0
    cells = []
    for name, seconds in phases.items():
        share = max(seconds / total, 0.02)
        label = f"{name} {seconds:.2f} s"
        fits = share * PHASES_WIDTH >= len(label) * PHASE_CHAR_PX + 8
        cells.append(
            f"<div class='phase' style='flex:{share:.3f}' title='{_e(name)}: {seconds:.3f} s'>"
            f"{_e(label) if fits else ''}</div>"
        )
    listed = "".join(f"<li>{_e(name)} {seconds:.2f} s</li>" for name, seconds in phases.items())
    return f"<div class='phases'>{''.join(cells)}</div><ul class='legend'>{listed}</ul>"


def _task_table(report: Report) -> str:
    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    rows = [
        (
            t.task,
            t.node,
            cell(t.predicted_run),
            cell(t.measured_run),
            "" if t.ratio is None else f"{t.ratio:.1f}x",
            cell(t.predicted_transfer),
            cell(t.measured_transfer),
            cell(t.measured_queueing),
            str(t.runs),
        )
        for t in task_times(report)
    ]
    if not rows:
        return "<p>No task was planned or ran.</p>"
    head = [
        "task",
        "node",
        "predicted run (s)",
        "measured run (s, mean)",
        "measured / predicted",
        "predicted transfer (s)",
        "measured transfer (s, mean)",
        "measured queueing (s, mean)",
        "runs",
    ]
    return _table(head, rows)


def _pictures(report: Report, colouring: Colouring) -> list[str]:
    """The DAG, the predicted schedule beside the measured one, and the timeline."""
    by = "node" if colouring.by == "node" else "region (too many nodes for a colour each)"
    entry = compared_input(report)
    compared = "" if entry is None else f" of input {entry.id}"
    return [
        f"<h2>DAG</h2><p>Each task coloured by its {by}; a square is a source. Hover a task "
        "for its name and node.</p>",
        colouring.legend(),
        dag_svg(report, colouring),
        "<h2>Predicted and measured schedule</h2>"
        f"<p>For each node, the mapper's schedule for one input on an idle cluster (upper "
        f"lane, dashed) and the measured runs{compared} (lower lane), seconds from the "
        "input's injection.</p>",
        comparison_svg(report, colouring),
        "<h2>Timeline</h2><p>Each bar is one task run for one input; the pale part is the time "
        "it waited for its inputs and its node. Hover for details.</p>",
        timeline_svg(report, colouring),
        colouring.legend(),
        "<h2>Tasks: predicted and measured</h2>"
        "<p>Run: start to finish. Transfer: from the last parent's finish to the task's "
        "inputs all there (measured: waits for a busy link included). Queueing: the wait "
        "for the node once the inputs were there.</p>",
        _task_table(report),
    ]


def _table(header: list[str], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _region(report: Report, node: str) -> str:
    return next((n.region for n in report.nodes if n.name == node), "")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; }
.phases { display: flex; width: 990px; margin-bottom: 1.5em; }
.phase { background: #dfe8f5; border-right: 2px solid white; padding: 4px; font-size: 12px;
         overflow: hidden; white-space: nowrap; }
.legend { font-size: 12px; display: flex; flex-wrap: wrap; gap: 2px 14px; list-style: none;
          padding: 0; max-width: 990px; }
.key { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
svg { display: block; margin: 0.5em 0; }
"""
