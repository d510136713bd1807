"""The parts of the terminal summary that explain a run, each laid out to fit 80 columns
(wrapped here, not by the terminal): which task ran where, measured against predicted with
the main cause and where to look, and what the app computed (its exit outputs).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console

from jupiter.report.model import Report

WIDTH = 80
# Node lines of the mapping shown; the rest are counted (report.html has them all).
MAX_NODE_LINES = 10
# Characters of exit output previewed in all, and exit outputs at most (the others counted).
PREVIEW_CHARS = 200
PREVIEW_EXITS = 3
# A verdict is looked for in exit outputs up to this size (small JSON documents); a preview
# reads no more than the start of an output.
MAX_VERDICT_BYTES = 256 << 10
PREVIEW_BYTES = 4096
# Which section of report.html shows each cause of a gap between measured and predicted.
SECTION_OF = {
    "compute": "Tasks: predicted and measured",
    "transfer": "Tasks: predicted and measured",
    "queueing": "Timeline",
    "host overhead": "Stream: predicted vs measured",
}


def width_of(console: Console) -> int:
    return min(console.width, WIDTH)


def say(console: Console, lines: Iterable[str]) -> None:
    for line in lines:
        # soft_wrap: the lines are laid out already; nothing is re-wrapped or highlighted.
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def wrapped(head: str, text: str, width: int) -> list[str]:
    """`head text`, wrapped with its continuation lines indented under the text."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_on_hyphens=False,
    ) or [head.rstrip()]


def mapping_lines(report: Report, width: int = WIDTH) -> list[str]:
    """Which tasks each node ran: `  n00: src, filter1`, a line a node, cut to the width."""
    if not report.mapping:
        return []
    order = {a.task: i for i, a in enumerate(report.predicted_schedule)}
    by_node: dict[str, list[str]] = {}
    for task in sorted(report.mapping, key=lambda t: (order.get(t, len(order)), t)):
        by_node.setdefault(report.mapping[task], []).append(task)
    names = [n.name for n in report.nodes]
    nodes = [n for n in names if n in by_node] + sorted(set(by_node) - set(names))
    lines = wrapped(
        "",
        f"mapping ({len(report.mapping)} tasks and sources on {len(nodes)} of "
        f"{len(report.nodes)} nodes):",
        width,
    )
    for node in nodes[:MAX_NODE_LINES]:
        lines.append(_node_line(node, by_node[node], width))
    if len(nodes) > MAX_NODE_LINES:
        rest = nodes[MAX_NODE_LINES:]
        tasks = sum(len(by_node[n]) for n in rest)
        lines.append(f"  ... {len(rest)} more nodes with {tasks} tasks (report.html: Mapping)")
    return lines


def _node_line(node: str, tasks: list[str], width: int) -> str:
    line = f"  {node}:"
    for i, task in enumerate(tasks):
        more = len(tasks) - i - 1
        tail = f", +{more} more" if more else ""
        candidate = f"{line}{',' if i else ''} {task}"
        if len(candidate) + len(tail) > width:
            return f"{line}{',' if i else ''} +{len(tasks) - i} more"
        line = candidate
    return line


def comparison_lines(report: Report, report_dir: Path | None, width: int = WIDTH) -> list[str]:
    """Measured against predicted, the main cause in a line, and where to look."""
    section = report.stream_prediction
    if section is None or section.measured_mean_makespan is None:
        return []
    lines = [
        f"makespan: {section.measured_mean_makespan:.3f} s measured, "
        f"{section.mean_makespan:.3f} s predicted (mean per input)"
    ]
    if section.measured_throughput is not None and section.throughput is not None:
        rate = f"{section.measured_throughput:.2f}/s measured, {section.throughput:.2f}/s predicted"
        if section.bottleneck is not None and section.bottleneck_period is not None:
            rate += f"; bottleneck {section.bottleneck} ({section.bottleneck_period:.3f} s/input)"
        lines += wrapped("throughput: ", rate, width)
    if section.explanation is None:
        return lines
    # The explanation starts with the figures printed above: the cause is after them.
    head, _, cause = section.explanation.partition(" per input: ")
    lines += wrapped("why: ", cause or head, width)
    found = re.match(r"\d+% (compute|transfer|queueing|host overhead)", cause)
    if found is None:  # within the prediction's margin: nothing to look for
        return lines
    where = SECTION_OF[found.group(1)]
    if report_dir is None:
        lines += wrapped("see: ", f"--report DIR writes report.html, '{where}'", width)
    else:
        lines += wrapped("see: ", f"{report_dir / 'report.html'}, '{where}'", width)
    return lines


def result_lines(report: Report, width: int = WIDTH) -> list[str]:
    """What the app computed: its exits' verdicts when every exit output is a JSON object
    with a `verdict`, else a short preview of the last completed input's exit outputs."""
    entries = sorted((i for i in report.inputs if i.outputs), key=lambda i: i.id)
    if not entries:
        return []
    verdicts: dict[str, list[int]] = {}
    for entry in entries:
        for path in entry.outputs.values():
            verdict = _verdict(path)
            if verdict is None:
                return _preview(report, width)
            verdicts.setdefault(verdict, []).append(entry.id)
    exits = ", ".join(sorted({name for e in entries for name in e.outputs}))
    text = "; ".join(
        f"{verdict} for {_inputs(sorted(set(ids)))}" for verdict, ids in verdicts.items()
    )
    return wrapped(f"result ({exits} verdict): ", text, width)


def _verdict(path: str | None) -> str | None:
    data = _start_of(path, MAX_VERDICT_BYTES)
    if data is None or len(data) == MAX_VERDICT_BYTES:
        return None
    try:
        document = json.loads(data)
    except ValueError:  # not UTF-8 or not JSON
        return None
    if isinstance(document, dict) and isinstance(document.get("verdict"), str | int | bool):
        return str(document["verdict"])
    return None


def _preview(report: Report, width: int) -> list[str]:
    last = max((i for i in report.inputs if i.outputs), key=lambda i: i.id)
    lines: list[str] = []
    budget = PREVIEW_CHARS
    outputs = sorted(last.outputs.items())
    for shown_count, (exit_name, path) in enumerate(outputs):
        if budget <= 0 or shown_count == PREVIEW_EXITS:
            lines.append(f"  ... {len(outputs) - shown_count} more exit outputs")
            break
        data = _start_of(path, PREVIEW_BYTES)
        if data is None:
            continue
        text = _text(data, cut=len(data) == PREVIEW_BYTES)
        if text is None:
            shown = f"({Path(path or '').stat().st_size} bytes, not text)"
        else:
            flat = " ".join(text.split())
            shown = flat if len(flat) <= budget else flat[: budget - 3] + "..."
        budget -= len(shown)
        lines += wrapped(f"result ({exit_name}, input {last.id}): ", shown, width)
    return lines


def _start_of(path: str | None, limit: int) -> bytes | None:
    """The first `limit` bytes of an output; None if it cannot be read (e.g. it stayed in a
    Kubernetes cluster)."""
    if path is None:
        return None
    try:
        with Path(path).open("rb") as file:
            return file.read(limit)
    except OSError:
        return None


def _text(data: bytes, cut: bool) -> str | None:
    """UTF-8 text, or None for binary; a read cut short may end inside a character."""
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        if cut and error.start >= len(data) - 3:
            return data[: error.start].decode(errors="replace")
        return None


def _inputs(ids: list[int]) -> str:
    """`inputs 0-4, 7` (runs of consecutive ids as ranges)."""
    runs: list[list[int]] = []
    for k in ids:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs]
    return ("input " if len(ids) == 1 else "inputs ") + ", ".join(parts)
