"""The agents the home knows: who registered, and where each listens (observed state)."""

from __future__ import annotations

from jupiter.controller.latch import RunLatch


class AgentRegistry:
    def __init__(self, latch: RunLatch) -> None:
        self._latch = latch
        self.urls: dict[str, str] = {}  # node -> base URL
        self.pids: dict[str, int] = {}

    def register(self, node: str, url: str, pid: int) -> None:
        self.urls[node] = url
        self.pids[node] = pid
        self._latch.changed()

    def __len__(self) -> int:
        return len(self.urls)
