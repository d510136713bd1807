"""Where the executor role runs: the execution model (docs/configuration.md).

- all (model 1): every agent runs an executor; the first deployment starts it.
- mapped (model 2): every agent runs its profiler, but only the nodes the mapping uses run
  an executor. The home starts them after mapping, before the deployment reaches them, and
  stops them once the stream is over and their records are gathered; a node that a
  re-mapping moves work onto gets one before the new epoch is pushed. The others are told
  to stop at dispatch, which also closes the task workers that execution profiling left
  warm on them.

A deployment goes only to the agents running an executor (`targets`): one without has
nothing to run, and its heartbeat says so (it is never behind an epoch).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from jupiter.api.client import AgentClient
from jupiter.planning.settings import ExecutionModel

log = logging.getLogger(__name__)


@dataclass
class RoleStart:
    """An executor started on a node (mapped model), as report.json records it."""

    node: str
    at: float  # Unix time
    # The mapping epoch it was started for (0: the first mapping).
    epoch: int


@dataclass
class ExecutorRoles:
    model: ExecutionModel
    agents: Callable[[], AgentClient]
    # The nodes running an executor, as far as the home started them (mapped).
    running: set[str] = field(default_factory=set)
    started: list[RoleStart] = field(default_factory=list)
    # Seconds spent starting and stopping roles (mapped), for the bench.
    seconds: float = 0.0

    def targets(self, nodes: Iterable[str]) -> list[str]:
        """Of `nodes` (the live agents), those a deployment goes to."""
        if self.model == "all":
            return list(nodes)
        return [node for node in nodes if node in self.running]

    async def dispatch(self, mapping: Mapping[str, str], nodes: Iterable[str]) -> None:
        """Before the first deployment: start an executor on every node the mapping uses,
        and stop the role (and its idle task workers) on every other one."""
        if self.model == "all":
            return
        used = set(mapping.values())
        began = time.monotonic()
        agents = self.agents()
        everyone = list(nodes)
        await asyncio.gather(*(agents.set_role(n, n in used) for n in everyone))
        now = time.time()
        for node in sorted(used & set(everyone)):
            self.running.add(node)
            self.started.append(RoleStart(node=node, at=now, epoch=0))
        self.seconds += time.monotonic() - began
        log.info("executors on %d of %d nodes: %s", len(used), len(everyone), sorted(used))

    async def extend(self, mapping: Mapping[str, str], epoch: int) -> list[str]:
        """Before a re-mapping is pushed: start an executor on every node it uses that runs
        none yet. Returns the nodes started."""
        if self.model == "all":
            return []
        new = sorted(set(mapping.values()) - self.running)
        if not new:
            return []
        began = time.monotonic()
        agents = self.agents()
        await asyncio.gather(*(agents.set_role(node, True) for node in new))
        now = time.time()
        for node in new:
            self.running.add(node)
            self.started.append(RoleStart(node=node, at=now, epoch=epoch))
        self.seconds += time.monotonic() - began
        log.info("epoch %d: executors started on %s", epoch, ", ".join(new))
        return new

    async def stop(self, alive: Iterable[str]) -> None:
        """After the stream (and after its records are gathered): stop every executor the
        home started on a live agent."""
        if self.model == "all":
            return
        nodes = [node for node in alive if node in self.running]
        began = time.monotonic()
        agents = self.agents()
        await asyncio.gather(*(agents.set_role(node, False) for node in nodes))
        self.running.difference_update(nodes)
        self.seconds += time.monotonic() - began
