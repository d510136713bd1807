"""Exit outputs as they reach the home: each (input, exit task) kept once, in OUT/<input>/,
a repeat counted as a duplicate and dropped."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupiter.controller.latch import RunLatch


@dataclass
class Delivery:
    input_id: int
    task: str
    path: Path
    received_at: float


@dataclass
class Deliveries:
    exits: list[str]
    out_dir: Path
    latch: RunLatch
    by_input: dict[int, dict[str, Delivery]] = field(default_factory=dict)
    duplicates: list[tuple[int, str]] = field(default_factory=list)

    def staging(self, input_id: int, task: str) -> Path:
        """Where an arriving output is written until it is verified whole."""
        return self.out_dir / ".incoming" / str(input_id) / task

    def accept(self, input_id: int, task: str) -> None:
        """The staged output of `task` for `input_id` arrived whole: keep it, or drop a repeat."""
        staged = self.staging(input_id, task)
        received = self.by_input.setdefault(input_id, {})
        if task in received:
            self.duplicates.append((input_id, task))
            staged.unlink()
        else:
            final = self.out_dir / str(input_id) / task
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staged, final)
            received[task] = Delivery(input_id, task, final, time.time())
        self.latch.changed()

    def complete(self, input_id: int) -> bool:
        return len(self.by_input.get(input_id, {})) == len(self.exits)

    def completed_at(self, input_id: int) -> float:
        return max(d.received_at for d in self.by_input[input_id].values())

    def outputs(self, input_id: int) -> dict[str, str]:
        return {task: str(d.path) for task, d in self.by_input[input_id].items()}
