"""The agents the home knows (observed state): where each listens, when it last beat, how
busy it said it was, and which are lost.

An agent is lost when its backend says so (its process exited) or when its heartbeats stop
for longer than `timeout` (dead, hung or stopped). A lost agent that beats again, or
registers again, is alive again: the next re-mapping may use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from jupiter.api.models import Heartbeat
from jupiter.controller.latch import RunLatch

# Heartbeats come every 0.5 s (agent/heartbeat.py): three missed, and the agent is lost.
HEARTBEAT_TIMEOUT_S = 1.5
HEARTBEAT_INTERVAL_S = 0.5
# Up to this many agents beat at the full rate; beyond, each beats less often, so that the
# home answers about 64 beats a second however large the cluster (106 idle agents at 0.5 s
# cost the home a tenth of a core on 2).
FULL_RATE_AGENTS = 32


def heartbeat_interval(agents: int) -> float:
    return HEARTBEAT_INTERVAL_S * max(1.0, agents / FULL_RATE_AGENTS)


def heartbeat_timeout(agents: int, at_least: float = HEARTBEAT_TIMEOUT_S) -> float:
    """Three missed beats, never less than `at_least`."""
    return max(at_least, 3 * heartbeat_interval(agents))


@dataclass
class Lost:
    node: str
    reason: str
    # When the home decided (monotonic), and for how long the agent had been silent then.
    at: float
    silent_for: float


class AgentRegistry:
    def __init__(
        self,
        latch: RunLatch,
        timeout: float = HEARTBEAT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._latch = latch
        self._clock = clock
        self.timeout = timeout
        self.urls: dict[str, str] = {}  # node -> base URL
        self.pids: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}
        self.last_beat: dict[str, Heartbeat] = {}
        self.lost: dict[str, Lost] = {}

    def register(self, node: str, url: str, pid: int) -> None:
        self.urls[node] = url
        self.pids[node] = pid
        self.last_seen[node] = self._clock()
        self.lost.pop(node, None)
        self._latch.changed()

    def beat(self, beat: Heartbeat) -> bool:
        """A heartbeat from a registered agent; False for one the home does not know."""
        if beat.node not in self.urls:
            return False
        self.last_seen[beat.node] = self._clock()
        self.last_beat[beat.node] = beat
        self.lost.pop(beat.node, None)
        # Whoever waits on how busy the agents are (back-pressure) looks again.
        self._latch.changed()
        return True

    def pressing(self, queue_limit: int, bytes_limit: int) -> tuple[str, str] | None:
        """A live agent over a limit, and why, by its last heartbeat; None if none is."""
        for node in self.alive():
            beat = self.last_beat.get(node)
            if beat is None:
                continue
            if beat.ready + beat.sending > queue_limit:
                return node, f"{beat.ready} tasks ready and {beat.sending} sends queued"
            if beat.store_bytes > bytes_limit:
                return node, f"{beat.store_bytes} bytes held"
        return None

    def mark_lost(self, node: str, reason: str) -> Lost | None:
        """The backend's word that an agent is gone; None if it was known lost already."""
        if node in self.lost:
            return None
        now = self._clock()
        lost = Lost(node, reason, now, now - self.last_seen.get(node, now))
        self.lost[node] = lost
        self._latch.changed()
        return lost

    def silent(self) -> list[Lost]:
        """Agents whose heartbeats stopped longer than `timeout` ago, now marked lost."""
        now = self._clock()
        found = []
        for node, seen in self.last_seen.items():
            if node not in self.lost and now - seen > self.timeout:
                found.append(self.mark_lost(node, f"sent no heartbeat for {now - seen:.1f} s"))
        return [lost for lost in found if lost is not None]

    def forgive(self) -> None:
        """The home itself was stalled: a silence it could not hear through is not the
        agents'. Every live agent counts as just seen."""
        now = self._clock()
        for node in self.last_seen:
            if node not in self.lost:
                self.last_seen[node] = now

    def ages(self) -> dict[str, float]:
        """Seconds since each agent was last heard from (lost ones too), on this clock."""
        now = self._clock()
        return {node: now - seen for node, seen in self.last_seen.items()}

    def alive(self) -> list[str]:
        return [node for node in self.urls if node not in self.lost]

    def __len__(self) -> int:
        return len(self.urls)
