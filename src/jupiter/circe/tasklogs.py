"""What the task runs on this node printed, kept per (task, input) for the home to fetch at
the end of the run (GET /circe/logs).

Kept apart from the input's data and records, which leave when the home releases the input:
a run's logs are wanted after it. Bounded twice, so a long stream cannot grow the agent: at
most `max_entries` runs (the oldest forgotten first), and at most `max_bytes` of text in all
(the oldest runs' text dropped first, their sizes kept, so the report can say so).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from jupiter.api.tasklogs import TaskLog, TaskLogs
from jupiter.app.runner import TaskOutput

MAX_ENTRIES = 10_000
# Per agent: a hundred forked agents must not grow the host by more than a few hundred MiB.
MAX_BYTES = 16 * 1024**2


@dataclass(slots=True)
class _Entry:
    output: TaskOutput
    failed: bool
    dropped: bool = False

    @property
    def size(self) -> int:
        return 0 if self.dropped else len(self.output.stdout) + len(self.output.stderr)


class TaskLogStore:
    def __init__(
        self, node: str, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> None:
        self.node = node
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        # Text held, in characters (the tails are mostly ASCII: about bytes).
        self._held = 0
        # Oldest entry whose text may still be held: dropping resumes there, not at the start.
        self._undropped = 0

    def keep(self, task: str, input_id: int, output: TaskOutput, failed: bool = False) -> None:
        """What the latest attempt of `task` on `input_id` printed (replacing an earlier one)."""
        key = (task, input_id)
        earlier = self._entries.pop(key, None)
        if earlier is not None:
            self._held -= earlier.size
            self._undropped = 0
        entry = _Entry(output, failed)
        self._entries[key] = entry
        self._held += entry.size
        while len(self._entries) > self.max_entries:
            _, oldest = self._entries.popitem(last=False)
            self._held -= oldest.size
            self._undropped = max(0, self._undropped - 1)
        if self._held > self.max_bytes:
            self._drop_oldest_text()

    def _drop_oldest_text(self) -> None:
        entries = list(self._entries.values())
        index = self._undropped
        # The newest entry is never dropped: one run's tails are bounded by the runner.
        while self._held > self.max_bytes and index < len(entries) - 1:
            entry = entries[index]
            self._held -= entry.size
            entry.dropped = True
            index += 1
        self._undropped = index

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_bytes(self) -> int:
        return self._held

    def snapshot(self) -> TaskLogs:
        logs = [
            TaskLog(
                task=task,
                input_id=input_id,
                node=self.node,
                stdout="" if entry.dropped else entry.output.stdout,
                stderr="" if entry.dropped else entry.output.stderr,
                stdout_bytes=entry.output.stdout_bytes,
                stderr_bytes=entry.output.stderr_bytes,
                dropped=entry.dropped,
                failed=entry.failed,
            )
            for (task, input_id), entry in self._entries.items()
        ]
        return TaskLogs(node=self.node, logs=logs)
