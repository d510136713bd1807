"""CIRCE on one node: a task runs for an input id once every upstream output for that id is
here; its output then goes once to each node that hosts a child (children on this node take
it from the local store) and home if the task is an exit.

Desired state (the mapping) comes from the controller at dispatch; this class only reacts to
data arriving and reports what it observes (monitor records, failures) back home.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from jupiter.app.runner import TaskFailed, TaskRunner
from jupiter.app.spec import App
from jupiter.circe.monitor import Monitor
from jupiter.circe.store import DataStore
from jupiter.circe.transfer import TransferError, send_file
from jupiter.cluster.emulator import HostPath, LinkEmulator
from jupiter.cluster.spec import Cluster

HOME = "home"


@dataclass
class Deployment:
    """The controller's desired state, as pushed to every agent."""

    mapping: dict[str, str]  # task or source -> node
    addresses: dict[str, str]  # node -> base URL, plus "home"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(mapping=dict(data["mapping"]), addresses=dict(data["addresses"]))


@dataclass(order=True)
class _Job:
    ready_at: float
    input_id: int
    task: str = field(compare=False)


class Executor:
    def __init__(
        self,
        node: str,
        app: App,
        cluster: Cluster,
        store: DataStore,
        runner: TaskRunner,
        session: aiohttp.ClientSession,
        auth: dict[str, str],
        slots: int = 1,
        host_path: HostPath | None = None,
    ) -> None:
        self.node = node
        self.app = app
        self.cluster = cluster
        self.store = store
        self.runner = runner
        self.session = session
        self.auth = auth
        self.monitor = Monitor(node)
        self.deployment: Deployment | None = None
        self._arrived: dict[tuple[str, int], set[str]] = {}
        # (producer, input id) pairs already taken in: a resent file must not run a task twice.
        self._received: set[tuple[str, int]] = set()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        # One FIFO sender per destination node keeps each link's data in input order, the
        # way one TCP connection would.
        self._outboxes: dict[str, asyncio.Queue[tuple[int, str, Path]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._slots = slots
        self._host_path = host_path
        self._stretch = cluster.stretch(node) if cluster.emulate else 1.0

    # -- lifecycle -------------------------------------------------------------------------

    async def deploy(self, deployment: Deployment) -> None:
        unknown = set(deployment.mapping) - set(self.app.tasks) - set(self.app.sources)
        if unknown:
            raise ValueError(f"mapping names unknown tasks: {sorted(unknown)}")
        if self.deployment is not None:
            raise ValueError("a mapping is already deployed on this node")
        self.deployment = deployment
        here = [t for t, node in deployment.mapping.items() if node == self.node]
        if any(t in self.app.tasks and self.app.tasks[t].python for t in here):
            # Interpreter start-up belongs to dispatch, not to the first input's makespan.
            await self.runner.warm_up()
        for _ in range(self._slots):
            self._spawn(self._work())

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _mapping(self) -> dict[str, str]:
        if self.deployment is None:
            raise RuntimeError("no mapping deployed on this node yet")
        return self.deployment.mapping

    # -- data in ---------------------------------------------------------------------------

    async def inject(self, input_id: int, source: str, path: Path) -> None:
        """An input entering the DAG at `source`, which the mapping placed on this node."""
        record = self.monitor.record(source, input_id)
        record.enter = record.ready = record.start = record.finish = time.time()
        record.output_bytes = path.stat().st_size
        await self._ship(input_id, source, path)

    def arrived(self, input_id: int, upstream: str) -> None:
        """The output of `upstream` for `input_id` is in the local store."""
        mapping = self._mapping()
        if (upstream, input_id) in self._received:
            return
        self._received.add((upstream, input_id))
        for child in self.app.downstream(upstream):
            if mapping.get(child) != self.node:
                continue
            have = self._arrived.setdefault((child, input_id), set())
            have.add(upstream)
            self.monitor.entered(child, input_id)
            if len(have) == len(self.app.upstream(child)):
                del self._arrived[(child, input_id)]
                self.monitor.mark(child, input_id, "ready")
                self._queue.put_nowait(_Job(time.time(), input_id, child))

    # -- compute ---------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            await self._run(job.task, job.input_id)

    async def _run(self, task: str, input_id: int) -> None:
        inputs = {name: self.store.path(input_id, name) for name in self.app.upstream(task)}
        output = self.store.path(input_id, task)
        output.parent.mkdir(parents=True, exist_ok=True)
        self.monitor.mark(task, input_id, "start")
        began = time.perf_counter()
        try:
            await self.runner.run(task, inputs, output)
            if not output.exists():
                raise TaskFailed(task, f"task {task} wrote no output file")
        except TaskFailed as failure:
            self.monitor.record(task, input_id).failed = failure.message
            await self._report_failure(task, input_id, failure.message)
            return
        if self._stretch > 1.0:
            # The emulated node is slower than this machine: hold the slot for the difference.
            await asyncio.sleep((time.perf_counter() - began) * (self._stretch - 1.0))
        record = self.monitor.record(task, input_id)
        record.finish = time.time()
        record.output_bytes = output.stat().st_size
        await self._ship(input_id, task, output)

    # -- data out --------------------------------------------------------------------------

    async def _ship(self, input_id: int, name: str, path: Path) -> None:
        mapping = self._mapping()
        destinations = {mapping[child] for child in self.app.downstream(name)}
        if name in self.app.exits:
            destinations.add(HOME)
        for destination in sorted(destinations):
            if destination == self.node:
                self.arrived(input_id, name)
            else:
                self._outbox(destination).put_nowait((input_id, name, path))

    def _outbox(self, destination: str) -> asyncio.Queue[tuple[int, str, Path]]:
        if destination not in self._outboxes:
            self._outboxes[destination] = asyncio.Queue()
            self._spawn(self._send_loop(destination))
        return self._outboxes[destination]

    async def _send_loop(self, destination: str) -> None:
        assert self.deployment is not None
        base = self.deployment.addresses[destination]
        # Outputs returning home leave the emulated WAN: home is the user's own machine.
        link = None if destination == HOME else self.cluster.link(self.node, destination)
        emulator = LinkEmulator(link if self.cluster.emulate else None, self._host_path)
        outbox = self._outboxes[destination]
        while True:
            input_id, name, path = await outbox.get()
            url = f"{base}/circe/data/{input_id}/{name}"
            try:
                await send_file(self.session, url, path, emulator, self.auth)
            except TransferError as error:
                await self._report_failure(name, input_id, str(error))

    async def _report_failure(self, task: str, input_id: int, message: str) -> None:
        assert self.deployment is not None
        event = {"kind": "failure", "node": self.node, "task": task, "input_id": input_id}
        event["message"] = message
        url = f"{self.deployment.addresses[HOME]}/home/event"
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with self.session.post(url, json=event, headers=self.auth) as response:
                response.release()
