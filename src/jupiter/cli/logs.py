"""`jupiter logs REPORT_DIR TASK [--input K]`: what a task printed, from a run's report."""

from __future__ import annotations

from pathlib import Path

import click

from jupiter.errors import SpecError
from jupiter.report.tasklogs import TASK_LOGS_DIR, LogEntry, load_index


@click.command("logs")
@click.argument("report_dir", type=click.Path(path_type=Path))
@click.argument("task")
@click.option("--input", "input_id", type=int, help="Only this input (default: every one).")
def logs_command(report_dir: Path, task: str, input_id: int | None) -> None:
    """Print the stdout and stderr TASK's runs left (the end of each, at most 64 KiB), as
    `jupiter run --report REPORT_DIR` kept them: a header line per input and node, then the
    text."""
    index = load_index(report_dir)
    if index is None:
        where = report_dir / TASK_LOGS_DIR
        raise SpecError(report_dir, None, f"no task logs here ({where} has no index)")
    if task not in index.tasks():
        known = ", ".join(index.tasks()) or "none"
        raise SpecError(report_dir, "TASK", f"no logs of task {task!r} (tasks: {known})")
    entries = index.of(task, input_id)
    if not entries:
        inputs = sorted({entry.input_id for entry in index.of(task)})
        raise SpecError(
            report_dir,
            "--input",
            f"task {task!r} has no logs for input {input_id} ({_span(inputs)})",
        )
    folder = report_dir / TASK_LOGS_DIR
    for entry in entries:
        click.echo(_header(entry, folder))
        for label, name in (("stdout", entry.stdout), ("stderr", entry.stderr)):
            if name is None:
                continue
            if label == "stderr" and entry.stdout is not None:
                click.echo("-- stderr --")
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
            click.echo(text, nl=not text.endswith("\n"))


def _header(entry: LogEntry, folder: Path) -> str:
    def size(stream: str, total: int, name: str | None) -> str:
        if entry.dropped:
            return f"{stream} {total} B, dropped by the agent's log budget"
        if name is None:
            return f"{stream} empty"
        kept = (folder / name).stat().st_size
        return f"{stream} {total} B" + (f", its last {kept} B kept" if kept < total else "")

    streams = "; ".join(
        (
            size("stdout", entry.stdout_bytes, entry.stdout),
            size("stderr", entry.stderr_bytes, entry.stderr),
        )
    )
    failed = ", failed" if entry.failed else ""
    return f"== {entry.task} input {entry.input_id} on {entry.node}{failed}: {streams} =="


def _span(inputs: list[int]) -> str:
    if not inputs:
        return "none"
    if inputs == list(range(inputs[0], inputs[-1] + 1)):
        return f"inputs {inputs[0]}..{inputs[-1]}"
    return "inputs " + ", ".join(map(str, inputs[:20])) + (" ..." if len(inputs) > 20 else "")
