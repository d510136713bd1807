"""The resource profiler on one agent: CPU, memory and load, sampled every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from typing import Any

import psutil

from jupiter.background import background
from jupiter.profiler.model import ResourceSample

DEFAULT_INTERVAL_S = 2.0
DEFAULT_HISTORY = 60


class ResourceProfiler:
    def __init__(
        self, node: str, interval: float = DEFAULT_INTERVAL_S, history: int = DEFAULT_HISTORY
    ) -> None:
        self.node = node
        self.interval = interval
        self.history: deque[ResourceSample] = deque(maxlen=history)
        self._me = psutil.Process()
        # cpu_percent() measures since the previous call on the same object, so processes
        # are kept between samples; a new child reads 0 % on its first sample.
        self._children: dict[int, psutil.Process] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # The first readings only set the reference point for the next ones.
        psutil.cpu_percent(interval=None)
        self._me.cpu_percent(interval=None)
        self._task = background(self._loop(), "resource sampling")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.history.append(self.sample())

    def latest(self) -> ResourceSample:
        """The newest sample, taken now if none was taken yet."""
        if not self.history:
            self.history.append(self.sample())
        return self.history[-1]

    def sample(self) -> ResourceSample:
        memory = psutil.virtual_memory()
        load_1m, load_5m, load_15m = os.getloadavg()
        return ResourceSample(
            at=time.time(),
            cpu_percent=psutil.cpu_percent(interval=None),
            node_cpu_percent=self._node_cpu_percent(),
            memory_percent=memory.percent,
            memory_available=memory.available,
            load_1m=load_1m,
            load_5m=load_5m,
            load_15m=load_15m,
            cpus=os.cpu_count() or 1,
        )

    def _node_cpu_percent(self) -> float:
        total = self._me.cpu_percent(interval=None)
        alive: dict[int, psutil.Process] = {}
        for pid in _child_pids():
            process = self._children.get(pid)
            try:
                if process is None:
                    process = psutil.Process(pid)
                    process.cpu_percent(interval=None)
                else:
                    total += process.cpu_percent(interval=None)
            except psutil.Error:
                continue
            alive[pid] = process
        self._children = alive
        return total

    def snapshot(self) -> dict[str, Any]:
        latest = self.latest()
        return {
            "node": self.node,
            "interval": self.interval,
            "latest": latest.model_dump(),
            "history": [sample.model_dump() for sample in self.history],
        }


def _child_pids() -> list[int]:
    """This process's direct children (task workers, command tasks).

    /proc/<pid>/task/<tid>/children reads only our own threads; psutil's children() would
    scan every process on the machine, hundreds of them when a hundred agents share it.
    """
    pid = os.getpid()
    try:
        threads = os.listdir(f"/proc/{pid}/task")
        found: list[int] = []
        for tid in threads:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found.extend(int(part) for part in handle.read().split())
        return found
    except OSError:
        return [child.pid for child in psutil.Process(pid).children()]
