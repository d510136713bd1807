"""CIRCE on one node: the asyncio layer over `ExecutorState` (state.py).

Every decision (when a task is ready, which ready task gets a worker slot, where an output
goes, which send goes next on a link) is the state's. This layer turns what happens into
events (HTTP routes, ended task runs and sends) and carries out the actions the state returns:
runs a task through the `TaskRunner`, sends a file with `send_file` through the destination's
link emulator, reports a failure to the home at POST {home}/home/event.

Every action runs as a background asyncio task and ends in an event, whatever happens: an
unexpected exception inside a task run or a send is logged with its traceback and becomes
that item's failure (TaskFailed, SendFailed), so the state frees the slot or the link, the
home hears of it at once, and the next item goes ahead. Restarting at the item rather than
failing the node keeps one bad input from stalling every other one, while the home still
fails the run on the first failure it is told of. An exception that escapes even that (a bug
in the state machine itself) is not retried, since it would only recur: it is logged and
reported home straight away, naming node, task and input, so the run fails loudly instead of
waiting out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from jupiter.api import paths
from jupiter.api.client import CallFailed, HomeClient
from jupiter.api.models import MAX_MESSAGE_CHARS, Deployment, FailureEvent
from jupiter.app.runner import TaskFailed as TaskRunFailed
from jupiter.app.runner import TaskRunner, retry_delay
from jupiter.app.spec import App
from jupiter.circe.metrics import ExecutorMetrics
from jupiter.circe.monitor import Monitor
from jupiter.circe.state import (
    HOME,
    SEND_WINDOW,
    Action,
    DataArrived,
    Event,
    ExecutorState,
    ForgetInput,
    InputInjected,
    InputsReleased,
    MappingDeployed,
    ReportFailure,
    RunTask,
    SendFailed,
    SendOutput,
    SendSucceeded,
    TaskFailed,
    TaskFinished,
    TaskStarted,
)
from jupiter.circe.store import DataStore
from jupiter.circe.tasklogs import TaskLogStore
from jupiter.circe.transfer import TransferError, send_file
from jupiter.cluster.compute import emulated_compute
from jupiter.cluster.conditions import Slowdowns
from jupiter.cluster.emulator import HostPath, LinkEmulator
from jupiter.cluster.links import Link
from jupiter.cluster.nic import Ingress, Nic
from jupiter.cluster.spec import Cluster

__all__ = ["HOME", "Deployment", "Executor"]

log = logging.getLogger(__name__)

# A destination that accepted a send's connection and has not answered for this long is
# treated as unreachable (a stopped process accepts and never answers).
ANSWER_TIMEOUT_S = 30.0
# Delay before the n-th retry of a send whose destination did not answer: short at first,
# for a blip, then at most RETRY_MAX_S while the home notices and re-maps a dead node.
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 2.0


class RoleStopped(RuntimeError):
    """A deployment sent to an executor role that was stopped (and not started again)."""


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
        clock: Callable[[], float] = time.time,
        nic: Nic | None = None,
        send_window: int = SEND_WINDOW,
        metrics: ExecutorMetrics | None = None,
    ) -> None:
        self.node = node
        self.app = app
        self.cluster = cluster
        self.store = store
        self.runner = runner
        self.session = session
        self.auth = auth
        self.state = ExecutorState(node, app, slots, send_window)
        # Served at GET /metrics; what each task run printed, at GET /circe/logs.
        self.metrics = metrics if metrics is not None else ExecutorMetrics()
        self.metrics.watch(self.state)
        self.task_logs = TaskLogStore(node)
        self._clock = clock
        # Told (destination node, bytes, seconds) after every output sent to another node:
        # the agent gives its network profiler, whose link fits learn from real transfers.
        self.on_transfer: Callable[[str, int, float], None] | None = None
        self._host_path = host_path
        # This node's NIC: its egress paces every link out of here, its ingress what comes in.
        self._nic = nic
        self._stretch = cluster.stretch(node) if cluster.emulate else 1.0
        # Set mid-run through the agent's emulation control (agent/emulation_control.py).
        self.slowdowns = Slowdowns()
        self._emulators: dict[str, LinkEmulator] = {}
        # Each background task -> the (task, input id) it works for, to name them if it dies,
        # and whether its death is reported home (not for a report itself: it would recur).
        self._background: dict[asyncio.Task[None], tuple[str, int, bool]] = {}
        self._closing = False
        # The executor role (execution models, docs/configuration.md): started by the home
        # (POST /circe/role) or by a first deployment; once stopped, it takes no deployment
        # until started again, and holds no idle task worker.
        self.running = False
        self.stopped = False

    @property
    def monitor(self) -> Monitor:
        return self.state.monitor

    @property
    def deployment(self) -> Deployment | None:
        return self.state.deployment

    @property
    def ingress(self) -> Ingress | None:
        """What paces the data bodies arriving here (None: not emulated)."""
        return self._nic.ingress if self._nic is not None else None

    # -- events in ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the executor role: it takes deployments and data from now on."""
        self.running = True
        self.stopped = False

    async def stop(self) -> int:
        """Stop the executor role: its work in progress ends, and its idle task workers
        (the profiler's too: execution profiling leaves them warm) are closed. Returns how
        many workers were closed."""
        self.running = False
        self.stopped = True
        await self._cancel_background()
        return await self.runner.release_idle()

    async def deploy(self, deployment: Deployment) -> None:
        """Take the controller's mapping (again, with a higher epoch, after a re-mapping);
        MappingRejected (a ValueError) if it cannot run. A first deployment starts the
        role (execution model `all`); a stopped role refuses it (RoleStopped)."""
        if self.stopped:
            raise RoleStopped(f"the executor role on {self.node} is stopped")
        self._apply(MappingDeployed(deployment, self._clock()))
        self.running = True
        here = [t for t, node in deployment.mapping.items() if node == self.node]
        python = [t for t in here if t in self.app.tasks and self.app.tasks[t].python]
        if python:
            # Interpreter start-up and the task modules' imports belong to dispatch, not to
            # the first input's makespan.
            await self.runner.warm_up(python)

    async def inject(self, input_id: int, source: str, path: Path) -> None:
        """An input entering the DAG at `source`, which the mapping placed on this node."""
        if path != self.store.path(input_id, source):
            raise ValueError(f"an injected input must be in the store, not at {path}")
        self._apply(InputInjected(input_id, source, path.stat().st_size, self._clock()))

    def arrived(self, input_id: int, upstream: str) -> None:
        """The output of `upstream` for `input_id` is in the local store."""
        self._apply(DataArrived(input_id, upstream, self._clock()))

    def release(self, input_ids: list[int], done_below: int = 0) -> None:
        """The home is done with these inputs (and with every input below `done_below`):
        their data and records here may go, and the mappings only they used."""
        if input_ids or done_below > self.state.done_below:
            self._apply(InputsReleased(tuple(input_ids), self._clock(), done_below))

    def store_bytes(self) -> int:
        return self.store.size()

    def slow_node(self, factor: float) -> None:
        """This node's compute `factor` times slower than its speed says, from the next task
        to finish on (1: as its speed says). Emulation only."""
        self.slowdowns.set_node(factor)

    def slow_link(self, destination: str, factor: float) -> None:
        """The link to `destination` `factor` times slower (latency times it, bandwidth over
        it), for every transfer that starts from now on (1: restored). Emulation only."""
        self.cluster.node(destination)  # KeyError for a node that is not in the cluster
        self.slowdowns.set_link(destination, factor)
        emulator = self._emulators.get(destination)
        if emulator is not None:
            emulator.retune(self._path_to(destination))

    async def close(self) -> None:
        self._closing = True
        await self._cancel_background()

    async def _cancel_background(self) -> None:
        for task in self._background:
            task.cancel()
        for task in list(self._background):
            # Anything else it raised was logged (and reported) by _ended already.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- actions out -------------------------------------------------------------------------

    def _apply(self, event: Event) -> None:
        for action in self.state.handle(event):
            self._start(action)

    def _start(self, action: Action) -> None:
        match action:
            case RunTask(task, input_id):
                self._spawn(self._run(task, input_id), task, input_id)
            case SendOutput(destination, input_id, producer, attempt):
                work = self._send(destination, input_id, producer, attempt)
                self._spawn(work, producer, input_id)
            case ForgetInput(input_id):
                self.store.forget(input_id)
            case ReportFailure(task, input_id, message, unreachable):
                work = self._report_failure(task, input_id, message, unreachable)
                self._spawn(work, task, input_id, report_crash=False)

    def _spawn(
        self,
        work: Coroutine[Any, Any, None],
        task: str,
        input_id: int,
        report_crash: bool = True,
    ) -> None:
        background = asyncio.ensure_future(work)
        self._background[background] = (task, input_id, report_crash)
        background.add_done_callback(self._ended)

    def _ended(self, background: asyncio.Task[None]) -> None:
        task, input_id, report_crash = self._background.pop(background)
        if background.cancelled():
            return
        error = background.exception()
        if error is None:
            return
        log.error(
            "background work crashed",
            exc_info=error,
            extra={"node": self.node, "task": task, "input_id": input_id},
        )
        if report_crash and not self._closing:
            message = f"executor error on {self.node}: {type(error).__name__}: {error}"
            # Straight home, not through the state: the state may be what broke.
            work = self._report_failure(task, input_id, message)
            self._spawn(work, task, input_id, report_crash=False)

    async def _run(self, task: str, input_id: int) -> None:
        where = {"node": self.node, "task": task, "input_id": input_id}
        self._apply(TaskStarted(task, input_id, self._clock()))
        outcome: Event
        try:
            output_bytes = await self._run_task(task, input_id)
        except TaskRunFailed as failure:
            log.warning("task failed: %s", failure.message, extra=where)
            outcome = TaskFailed(task, input_id, failure.message, self._clock())
        except Exception as error:
            log.exception("unexpected error running the task", extra=where)
            message = f"unexpected error running the task: {type(error).__name__}: {error}"
            outcome = TaskFailed(task, input_id, message, self._clock())
        else:
            outcome = TaskFinished(task, input_id, output_bytes, self._clock())
        if isinstance(outcome, TaskFinished):
            self.metrics.tasks_run.labels(task).inc()
        else:
            self.metrics.task_failures.labels(task).inc()
        self._apply(outcome)

    async def _run_task(self, task: str, input_id: int) -> int:
        """Run `task` on its inputs, retrying a failed or timed-out attempt after a growing
        pause up to the task's `retries`; only the last failure is raised (and reported)."""
        retries = self.app.tasks[task].retries
        attempt = 1
        while True:
            self.monitor.attempted(task, input_id, attempt)
            try:
                return await self._attempt_task(task, input_id)
            except TaskRunFailed as failure:
                if attempt > retries:
                    raise
                delay = retry_delay(attempt)
                log.warning(
                    "attempt %d of %d failed, retrying in %.1f s: %s",
                    attempt,
                    retries + 1,
                    delay,
                    failure.message[-200:],
                    extra={"node": self.node, "task": task, "input_id": input_id},
                )
                attempt += 1
                await asyncio.sleep(delay)

    async def _attempt_task(self, task: str, input_id: int) -> int:
        """Run `task` once on its inputs in the store; the size of the output it left there."""
        inputs = {name: self.store.path(input_id, name) for name in self.app.upstream(task)}
        output = self.store.path(input_id, task)
        output.parent.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        try:
            run = await self.runner.run_with_output(task, inputs, output)
        except TaskRunFailed as failure:
            if failure.output is not None:
                self.task_logs.keep(task, input_id, failure.output, failed=True)
            raise
        self.task_logs.keep(task, input_id, run.output)
        cpu = run.cpu
        if not output.exists():
            raise TaskRunFailed(task, f"task {task} wrote no output file")
        self.monitor.used_cpu(task, input_id, cpu)
        if self.cluster.emulate:
            # Stretched from the CPU the task used, not its wall time, which other nodes'
            # tasks competing for this host's cores inflate (docs/emulation.md).
            wall = time.perf_counter() - began
            hold = emulated_compute(wall, cpu, self._stretch * self.slowdowns.node)
            if hold > wall:
                await asyncio.sleep(hold - wall)
        return output.stat().st_size

    async def _send(self, destination: str, input_id: int, producer: str, attempt: int) -> None:
        where = {"node": self.node, "task": producer, "input_id": input_id}
        if attempt:
            await asyncio.sleep(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (attempt - 1)))
        assert self.deployment is not None  # the state ships nothing before a mapping
        # The address as deployed now: a retry after a re-mapping uses the new one. A node
        # the new mapping dropped (it was lost) has none: the send is over, and the state,
        # told it failed to reach it, drops it as no longer wanted.
        base = self.deployment.addresses.get(destination)
        if base is None:
            message = f"node {destination} is no longer in the mapping"
            self._apply(SendFailed(destination, input_id, producer, message, self._clock(), True))
            return
        url = base + paths.fill(paths.CIRCE_DATA, input_id=input_id, producer=producer)
        path = self.store.path(input_id, producer)
        outcome: Event
        began = time.perf_counter()
        try:
            size = path.stat().st_size
            await send_file(
                self.session,
                url,
                path,
                self._emulator(destination),
                self.auth,
                answer_timeout=None if destination == HOME else ANSWER_TIMEOUT_S,
            )
        except TransferError as error:
            level = logging.WARNING if error.unreachable else logging.ERROR
            log.log(level, "could not send the output to %s: %s", destination, error, extra=where)
            outcome = SendFailed(
                destination, input_id, producer, str(error), self._clock(), error.unreachable
            )
        except Exception as error:
            log.exception("unexpected error sending the output to %s", destination, extra=where)
            message = f"unexpected error sending to {destination}: {type(error).__name__}: {error}"
            outcome = SendFailed(destination, input_id, producer, message, self._clock())
        else:
            outcome = SendSucceeded(destination, input_id, producer, self._clock())
            seconds = time.perf_counter() - began
            self.metrics.bytes_sent.labels(destination).inc(size)
            self.metrics.transfer_seconds.labels(destination).observe(seconds)
            if self.on_transfer is not None and destination != HOME:
                try:
                    self.on_transfer(destination, size, seconds)
                except Exception:
                    # The send succeeded; a profiler that failed to learn from it must not
                    # turn it into a failure.
                    log.exception("could not record the transfer to %s", destination, extra=where)
        if isinstance(outcome, SendFailed):
            self.metrics.send_failures.labels(destination).inc()
        self._apply(outcome)

    def _emulator(self, destination: str) -> LinkEmulator:
        if destination not in self._emulators:
            # Outputs returning home leave the emulated WAN: home is the user's own machine.
            link = None if destination == HOME else self._path_to(destination)
            egress = self._nic.egress if self._nic is not None else None
            self._emulators[destination] = LinkEmulator(
                link if self.cluster.emulate else None, self._host_path, egress=egress
            )
        return self._emulators[destination]

    def _path_to(self, destination: str) -> Link:
        """The link to `destination`, no faster than its NIC: the rate is the slowest along
        the way (this node's own NIC is the egress every link here shares)."""
        link = self.cluster.link(self.node, destination)
        if not self.cluster.emulate:
            return link
        link = self.slowdowns.link(destination, link)
        rate = min(link.bandwidth, self.cluster.nic(destination))
        return link if rate == link.bandwidth else Link(link.latency, rate)

    async def _report_failure(
        self, task: str, input_id: int, message: str, unreachable: str | None = None
    ) -> None:
        where = {"node": self.node, "task": task, "input_id": input_id}
        if self.deployment is None:
            log.error("no home to report to: %s", message, extra=where)
            return
        # The end of a long message (a task's stderr) is where its cause is.
        event = FailureEvent(
            node=self.node,
            task=task,
            input_id=input_id,
            message=message[-MAX_MESSAGE_CHARS:],
            unreachable=unreachable,
        )
        home = HomeClient(self.session, self.deployment.addresses[HOME], self.auth)
        try:
            await home.event(event)
        except CallFailed as error:
            # The home may be gone (a run torn down); nothing else can hear of it but the log.
            log.error("could not report a failure home: %s (%s)", message, error, extra=where)
