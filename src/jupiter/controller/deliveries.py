"""Exit outputs as they reach the home: each (input, exit task) kept once, in OUT/<input>/,
a repeat counted as a duplicate and dropped. With `--on-error skip`, also the inputs that
failed: an input is done when all its exit outputs arrived or when it failed."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jupiter.api.models import FailureEvent
from jupiter.controller.latch import RunLatch

OnError = Literal["stop", "skip"]


@dataclass
class Delivery:
    input_id: int
    task: str
    path: Path
    received_at: float


@dataclass
class FailedInput:
    """The first failure reported for an input; nothing more is waited for on its behalf."""

    input_id: int
    task: str
    node: str
    message: str
    failed_at: float


@dataclass
class Deliveries:
    exits: list[str]
    out_dir: Path
    latch: RunLatch
    by_input: dict[int, dict[str, Delivery]] = field(default_factory=dict)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    # stop: the first failure fails the run; skip: it fails its input, the stream goes on.
    on_error: OnError = "stop"
    failed: dict[int, FailedInput] = field(default_factory=dict)

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

    def fail(self, input_id: int, event: FailureEvent) -> bool:
        """A failure reported for `input_id`: with on_error skip, record it (the first one of
        an input is kept) and return True; with stop, return False (the run must fail)."""
        if self.on_error != "skip":
            return False
        if input_id not in self.failed:
            self.failed[input_id] = FailedInput(
                input_id, event.task, event.node, event.message, time.time()
            )
        self.latch.changed()
        return True

    def done(self, input_id: int) -> bool:
        """Nothing more will come for this input: every exit delivered, or it failed."""
        return input_id in self.failed or self.complete(input_id)

    def complete(self, input_id: int) -> bool:
        return len(self.by_input.get(input_id, {})) == len(self.exits)

    def succeeded(self, input_id: int) -> bool:
        return input_id not in self.failed and self.complete(input_id)

    def completed_at(self, input_id: int) -> float:
        return max(d.received_at for d in self.by_input[input_id].values())

    def outputs(self, input_id: int) -> dict[str, str]:
        """The exit outputs that arrived for `input_id` (some only, for a failed input)."""
        return {task: str(d.path) for task, d in self.by_input.get(input_id, {}).items()}
