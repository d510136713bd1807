"""What the tasks printed, under --report DIR/logs/tasks/: `<task>/<input>.out` and `.err`
(the end of each stream, as the agents kept it), and `index.json` listing every run, printed
or not, which `jupiter logs` and report.html read.

A task run twice for one input on different nodes (a re-mapping around a lost agent) has a
file for each: the first node's is `<input>.out`, the others' `<input>.<node>.out`.
"""

from __future__ import annotations

import html
import shutil
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from jupiter.api.tasklogs import TaskLog

TASK_LOGS_DIR = Path("logs") / "tasks"
INDEX = "index.json"
# Links per task in report.html: past this, the page points to `jupiter logs`.
MAX_LINKS_PER_TASK = 40


class LogEntry(BaseModel):
    """One task run's logs: files relative to the index's folder (None: it printed nothing
    there, or the agent dropped the text to stay within its budget)."""

    model_config = ConfigDict(extra="forbid")

    task: str
    input_id: int
    node: str
    stdout: str | None = None
    stderr: str | None = None
    stdout_bytes: int = Field(ge=0, description="bytes printed in all (the file: the end)")
    stderr_bytes: int = Field(ge=0)
    dropped: bool = False
    failed: bool = False


class LogIndex(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[LogEntry]

    def tasks(self) -> list[str]:
        return sorted({entry.task for entry in self.entries})

    def of(self, task: str, input_id: int | None = None) -> list[LogEntry]:
        return [
            entry
            for entry in self.entries
            if entry.task == task and (input_id is None or entry.input_id == input_id)
        ]


def write_task_logs(logs: Iterable[TaskLog], report_dir: Path) -> LogIndex:
    """Write every run's logs and the index under `report_dir`/logs/tasks/."""
    folder = report_dir / TASK_LOGS_DIR
    # An earlier run's logs in the same report folder would pass for this one's.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    nodes_seen: dict[tuple[str, int], int] = defaultdict(int)
    entries = []
    for log in sorted(logs, key=lambda log: (log.task, log.input_id, log.node)):
        key = (log.task, log.input_id)
        stem = str(log.input_id) if nodes_seen[key] == 0 else f"{log.input_id}.{log.node}"
        nodes_seen[key] += 1
        entry = LogEntry(
            task=log.task,
            input_id=log.input_id,
            node=log.node,
            stdout_bytes=log.stdout_bytes,
            stderr_bytes=log.stderr_bytes,
            dropped=log.dropped,
            failed=log.failed,
        )
        for stream, text in (("stdout", log.stdout), ("stderr", log.stderr)):
            if not text:
                continue
            name = f"{log.task}/{stem}.{'out' if stream == 'stdout' else 'err'}"
            path = folder / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="replace")
            setattr(entry, stream, name)
        entries.append(entry)
    index = LogIndex(entries=entries)
    (folder / INDEX).write_text(index.model_dump_json(indent=1))
    return index


def load_index(report_dir: Path) -> LogIndex | None:
    """The index under `report_dir` (None: the run wrote no task logs)."""
    path = report_dir / TASK_LOGS_DIR / INDEX
    if not path.is_file():
        return None
    return LogIndex.model_validate_json(path.read_text())


def logs_section(index: LogIndex) -> str:
    """report.html's "Task logs": each task, its runs that printed, a link to each file."""
    rows = []
    for task in index.tasks():
        entries = index.of(task)
        links = []
        for entry in entries:
            for name, label in ((entry.stdout, "out"), (entry.stderr, "err")):
                if name is not None:
                    href = html.escape((TASK_LOGS_DIR / name).as_posix(), quote=True)
                    text = html.escape(f"{entry.input_id}@{entry.node}.{label}")
                    links.append(f"<a href='{href}'>{text}</a>")
        more = len(links) - MAX_LINKS_PER_TASK
        shown = links[:MAX_LINKS_PER_TASK] + ([f"<i>and {more} more</i>"] if more > 0 else [])
        printed = " ".join(shown) if links else "<i>printed nothing</i>"
        failed = sum(entry.failed for entry in entries)
        dropped = sum(entry.dropped for entry in entries)
        notes = ", ".join(
            part
            for part in (
                f"{failed} failed" if failed else "",
                f"{dropped} dropped by the agent's log budget" if dropped else "",
            )
            if part
        )
        rows.append(
            f"<tr><td>{html.escape(task)}</td><td>{len(entries)}</td>"
            f"<td>{html.escape(notes)}</td><td>{printed}</td></tr>"
        )
    return (
        "<h2>Task logs</h2><p>The end of each run's stdout (.out) and stderr (.err), at most "
        "64 KiB each; <code>jupiter logs REPORT_DIR TASK</code> prints them.</p>"
        "<table><tr><th>task</th><th>runs</th><th></th><th>input@node</th></tr>"
        + "".join(rows)
        + "</table>"
    )
