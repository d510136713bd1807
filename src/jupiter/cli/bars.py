"""Progress (jupiter.progress) drawn as one rich bar per phase on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBar


class PhaseBars:
    """The display starts with the first phase, so that an error in the input (found before
    anything starts) prints as its one line and nothing else."""

    LABELS: ClassVar[dict[str, str]] = {
        "deploy": "starting agents",
        "stream": "streaming inputs",
    }

    def __init__(self, bar: RichBar) -> None:
        self.bar = bar
        self.task: TaskID | None = None
        self.started = False

    def phase(self, name: str, total: int) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        if self.task is not None:
            self.bar.update(self.task, visible=False)
        self.task = self.bar.add_task(self.LABELS.get(name, name), total=total)

    def advance(self, done: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=done)

    def stop(self) -> None:
        if self.started:
            self.bar.stop()


@contextmanager
def phase_bars(quiet: bool) -> Iterator[PhaseBars]:
    console = Console(stderr=True, quiet=quiet)
    # Bars are for people watching a terminal; in a log or a pipe they are noise.
    console.quiet = quiet or not console.is_terminal
    bar = RichBar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    bars = PhaseBars(bar)
    try:
        yield bars
    finally:
        bars.stop()
