"""Per (task, input id) timestamps, the original CIRCE runtime statistics.

enter: the first of the task's inputs for this id arrived; ready: the last one did;
start/finish: the task ran (on the host's clock, after the node-speed stretch); cpu: the CPU
seconds the run that produced the output used on this host, before any stretch. Derived:
waiting (enter -> start), queued (ready -> start), duration (start -> finish), elapse
(enter -> finish). Times are Unix seconds so that records from different agents line up on
one timeline. The monitor reads no clock: the executor's state passes the time of the event
that each mark records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class TaskRecord:
    task: str
    input_id: int
    node: str
    enter: float | None = None
    ready: float | None = None
    start: float | None = None
    finish: float | None = None
    output_bytes: int | None = None
    failed: str | None = None
    # Runs of the task for this input: 1, plus one per retry after a failure or timeout.
    attempts: int = 1
    # CPU seconds of the successful run (app/runner.py), before the node-speed stretch.
    cpu: float | None = None

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(
            waiting=_span(self.enter, self.start),
            queued=_span(self.ready, self.start),
            duration=_span(self.start, self.finish),
            elapse=_span(self.enter, self.finish),
        )
        return record


def _span(first: float | None, last: float | None) -> float | None:
    return None if first is None or last is None else last - first


class Monitor:
    def __init__(self, node: str) -> None:
        self.node = node
        self._records: dict[tuple[str, int], TaskRecord] = {}

    def record(self, task: str, input_id: int) -> TaskRecord:
        key = (task, input_id)
        if key not in self._records:
            self._records[key] = TaskRecord(task=task, input_id=input_id, node=self.node)
        return self._records[key]

    def entered(self, task: str, input_id: int, at: float) -> None:
        """The first of the task's inputs for this id arrived (later ones change nothing)."""
        record = self.record(task, input_id)
        if record.enter is None:
            record.enter = at

    def attempted(self, task: str, input_id: int, attempts: int) -> None:
        """The task is on its `attempts`-th run for this input (start stays the first's)."""
        self.record(task, input_id).attempts = attempts

    def used_cpu(self, task: str, input_id: int, seconds: float) -> None:
        """The task's run for this input used `seconds` of CPU on this host."""
        self.record(task, input_id).cpu = seconds

    def mark(self, task: str, input_id: int, event: str, at: float) -> None:
        setattr(self.record(task, input_id), event, at)

    def pop_input(self, input_id: int) -> list[TaskRecord]:
        """Every record of `input_id`, removed: an input the home has is done with here."""
        keys = [key for key in self._records if key[1] == input_id]
        return [self._records.pop(key) for key in keys]

    def snapshot(self) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self._records.values()]

    def counts(self) -> dict[str, int]:
        records = self._records.values()
        return {
            "waiting": sum(1 for r in records if r.ready is None),
            "queued": sum(1 for r in records if r.ready is not None and r.start is None),
            # A failed task has started and will never finish: it is failed, not running.
            "running": sum(
                1 for r in records if r.start is not None and r.finish is None and r.failed is None
            ),
            "done": sum(1 for r in records if r.finish is not None),
            "failed": sum(1 for r in records if r.failed is not None),
        }
