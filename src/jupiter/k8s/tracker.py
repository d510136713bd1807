"""Observed state of a run's pods, from one watch on the run's label.

One watch rather than polling: it costs one request however many pods there are, and sees
each change as it happens, so readiness times are exact to the event, not to a poll period.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from jupiter.background import background
from jupiter.errors import RunError
from jupiter.k8s import names, pods
from jupiter.k8s.client import api_errors, resource


class PodFailed(RunError):
    def __init__(self, pod: str, message: str) -> None:
        self.pod = pod
        super().__init__(message)


class PodTracker:
    def __init__(self, client: Any, namespace: str, run_id: str) -> None:
        self.client = client
        self.namespace = namespace
        self.run_id = run_id
        self.pods: dict[str, pods.Pod] = {}
        # perf_counter when each pod was first seen ready / started.
        self.ready_at: dict[str, float] = {}
        self.started_at: dict[str, float] = {}
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PodTracker:
        self._task = background(self._watch(), "pod watching")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RunError):
                await self._task

    async def _watch(self) -> None:
        with api_errors("watching the run's pods"):
            async for kind, obj in self.client.watch(
                resource("Pod"), namespace=self.namespace, labels={names.RUN_LABEL: self.run_id}
            ):
                pod = obj.to_dict()
                name = pods.name(pod)
                if kind == "DELETED":
                    self.pods.pop(name, None)
                else:
                    self.pods[name] = pod
                    now = time.perf_counter()
                    if pods.is_ready(pod):
                        self.ready_at.setdefault(name, now)
                    if pods.has_started(pod):
                        self.started_at.setdefault(name, now)
                self.changed.set()

    def of_role(self, role: str) -> list[pods.Pod]:
        return [pod for pod in self.pods.values() if pods.role(pod) == role]

    async def until(
        self,
        condition: Callable[[], bool],
        timeout: float,
        what: str,
        fatal_roles: frozenset[str] = frozenset({names.AGENT, names.HOME}),
    ) -> None:
        """Returns once `condition()` holds; raises PodFailed as soon as a pod of
        `fatal_roles` cannot serve the run, and RunError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self._raise_if_watch_ended()
            for pod in self.pods.values():
                if pods.role(pod) in fatal_roles and (message := pods.problem(pod)):
                    raise PodFailed(pods.name(pod), message)
            if condition():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunError(f"timed out after {timeout:.0f} s waiting for {what}{self._stuck()}")
            self.changed.clear()
            await self._changed_or(min(remaining, 1.0))

    async def _changed_or(self, seconds: float) -> None:
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as
        # the event fires, and a Ctrl-C must always get through.
        waiter = asyncio.ensure_future(self.changed.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    def _raise_if_watch_ended(self) -> None:
        task = self._task
        if task is not None and task.done():
            error = task.exception()
            if error is not None:
                raise error
            raise RunError("the Kubernetes API closed the watch on the run's pods")

    def _stuck(self) -> str:
        waiting = [pod for pod in self.pods.values() if not pods.is_ready(pod)]
        if not waiting:
            return ""
        shown = "; ".join(f"{pods.name(pod)}: {pods.pending_reason(pod)}" for pod in waiting[:3])
        more = f" (and {len(waiting) - 3} more)" if len(waiting) > 3 else ""
        return f"; not ready: {shown}{more}"
