"""How a long operation tells its caller how far it has got: the one progress protocol.

The CLI draws bars, the in-cluster home writes log lines, tests pass nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def phase(self, name: str, total: int) -> None:
        """A new phase begins, with `total` steps."""

    def advance(self, done: int) -> None:
        """`done` steps of the current phase are complete (a count, not an increment)."""


class NoProgress:
    """Progress nobody watches."""

    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass
