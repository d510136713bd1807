"""CIRCE's decisions on one node, as a pure state machine: events in, actions out.

`ExecutorState.handle(event)` is the only way the state changes. It does no I/O, starts
nothing and reads no clock: every time it records comes on the event that caused it. The
asyncio layer (executor.py) feeds it what happened (a mapping deployed, data in the store, a
task run or a send ended) and carries out the actions it returns, in order:

- `RunTask`: run a task for an input id in a worker slot. The state hands out at most
  `slots` of these at a time, ready tasks first come first served by ready time.
- `SendOutput`: send a producer's output for an input id to a node, or home. One send per
  destination is in flight at a time, in the order the outputs were made, so each link
  carries its data in input order the way one TCP connection would.
- `ReportFailure`: tell the home a task (or the delivery of its output) failed.

The per (task, input id) records the home gathers live in `monitor`, which the state fills.

Extending it (recovery, re-mapping) means adding an event type, its handler and an entry in
`_handlers`; the I/O layer needs no change unless a new action appears.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from jupiter.api.models import Deployment
from jupiter.app.spec import App
from jupiter.circe.monitor import Monitor

HOME = "home"


class MappingRejected(ValueError):
    """A deployment this node cannot run: it names unknown tasks, misses some, or lacks an
    address this node needs."""


class InvalidEvent(RuntimeError):
    """An event that contradicts the state, e.g. data before any mapping, or the end of a
    task that is not running: a bug in whoever fed it, never something to paper over."""


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingDeployed:
    deployment: Deployment


@dataclass(frozen=True)
class InputInjected:
    """An input entering the DAG at `source` (mapped to this node), now in the store."""

    input_id: int
    source: str
    size: int
    at: float


@dataclass(frozen=True)
class DataArrived:
    """The output of `producer` for `input_id` came from another node and is in the store."""

    input_id: int
    producer: str
    at: float


@dataclass(frozen=True)
class TaskStarted:
    task: str
    input_id: int
    at: float


@dataclass(frozen=True)
class TaskFinished:
    task: str
    input_id: int
    output_bytes: int
    at: float


@dataclass(frozen=True)
class TaskFailed:
    task: str
    input_id: int
    message: str
    at: float


@dataclass(frozen=True)
class SendSucceeded:
    destination: str
    input_id: int
    producer: str
    at: float


@dataclass(frozen=True)
class SendFailed:
    destination: str
    input_id: int
    producer: str
    message: str
    at: float


Event = (
    MappingDeployed
    | InputInjected
    | DataArrived
    | TaskStarted
    | TaskFinished
    | TaskFailed
    | SendSucceeded
    | SendFailed
)


# -- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTask:
    task: str
    input_id: int


@dataclass(frozen=True)
class SendOutput:
    destination: str  # a node, or HOME
    input_id: int
    producer: str


@dataclass(frozen=True)
class ReportFailure:
    task: str
    input_id: int
    message: str


Action = RunTask | SendOutput | ReportFailure


# -- the state -------------------------------------------------------------------------------


class ExecutorState:
    def __init__(self, node: str, app: App, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"a node needs at least one worker slot, not {slots}")
        self.node = node
        self.app = app
        self.slots = slots
        self.monitor = Monitor(node)
        self.deployment: Deployment | None = None
        # (producer, input id) outputs already taken in: a resent file must not run twice.
        self._received: set[tuple[str, int]] = set()
        self._injected: set[tuple[str, int]] = set()
        # (local task, input id) -> the upstreams whose outputs are here so far.
        self._arrived: dict[tuple[str, int], set[str]] = {}
        # Ready tasks as (ready at, arrival order, task, input id): the order breaks ties so
        # that tasks ready at the same instant run in the order they became ready.
        self._ready: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()
        self._running: set[tuple[str, int]] = set()
        self._outboxes: dict[str, deque[SendOutput]] = {}
        self._sending: dict[str, SendOutput] = {}
        self._handlers: dict[type, Callable[..., list[Action]]] = {
            MappingDeployed: self._deployed,
            InputInjected: self._injected_input,
            DataArrived: self._data_arrived,
            TaskStarted: self._task_started,
            TaskFinished: self._task_finished,
            TaskFailed: self._task_failed,
            SendSucceeded: self._send_succeeded,
            SendFailed: self._send_failed,
        }

    def handle(self, event: Event) -> list[Action]:
        """Apply one event; the actions to carry out, in order."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not an executor event: {event!r}")
        return handler(event)

    # -- what the I/O layer and the monitor may read -----------------------------------------

    @property
    def running(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._running)

    @property
    def ready(self) -> list[tuple[str, int]]:
        """Tasks waiting for a slot, in the order they will get one."""
        return [(task, input_id) for _, _, task, input_id in sorted(self._ready)]

    def queued_sends(self, destination: str) -> list[SendOutput]:
        """Sends to `destination` waiting behind the one in flight."""
        return list(self._outboxes.get(destination, ()))

    # -- handlers ----------------------------------------------------------------------------

    def _deployed(self, event: MappingDeployed) -> list[Action]:
        if self.deployment is not None:
            raise MappingRejected("a mapping is already deployed on this node")
        deployment = event.deployment
        names = set(self.app.tasks) | set(self.app.sources)
        unknown = set(deployment.mapping) - names
        if unknown:
            raise MappingRejected(f"mapping names unknown tasks: {sorted(unknown)}")
        unplaced = names - set(deployment.mapping)
        if unplaced:
            raise MappingRejected(f"mapping leaves tasks unplaced: {sorted(unplaced)}")
        # Failures are reported home, so home is always needed; other nodes only if some
        # task or source here sends to them.
        needed = {HOME}
        for name, node in deployment.mapping.items():
            if node == self.node:
                needed |= self._destinations(name, deployment.mapping)
        missing = needed - {self.node} - set(deployment.addresses)
        if missing:
            raise MappingRejected(f"deployment has no address for {sorted(missing)}")
        self.deployment = deployment
        return []

    def _injected_input(self, event: InputInjected) -> list[Action]:
        self._mapping()
        key = (event.source, event.input_id)
        if event.source not in self.app.sources:
            raise InvalidEvent(f"{event.source!r} is not a source of app {self.app.name!r}")
        if key in self._injected:
            return []  # a retried injection: its data went out the first time
        self._injected.add(key)
        record = self.monitor.record(event.source, event.input_id)
        record.enter = record.ready = record.start = record.finish = event.at
        record.output_bytes = event.size
        return self._ship(event.source, event.input_id, event.at) + self._fill_slots()

    def _data_arrived(self, event: DataArrived) -> list[Action]:
        self._mapping()
        self._take_in(event.producer, event.input_id, event.at)
        return self._fill_slots()

    def _task_started(self, event: TaskStarted) -> list[Action]:
        self._expect_running(event.task, event.input_id)
        self.monitor.mark(event.task, event.input_id, "start", event.at)
        return []

    def _task_finished(self, event: TaskFinished) -> list[Action]:
        self._expect_running(event.task, event.input_id)
        self._running.discard((event.task, event.input_id))
        record = self.monitor.record(event.task, event.input_id)
        record.finish = event.at
        record.output_bytes = event.output_bytes
        return self._ship(event.task, event.input_id, event.at) + self._fill_slots()

    def _task_failed(self, event: TaskFailed) -> list[Action]:
        self._expect_running(event.task, event.input_id)
        self._running.discard((event.task, event.input_id))
        self.monitor.record(event.task, event.input_id).failed = event.message
        failure = ReportFailure(event.task, event.input_id, event.message)
        return [failure, *self._fill_slots()]

    def _send_succeeded(self, event: SendSucceeded) -> list[Action]:
        self._end_send(event.destination, event.input_id, event.producer)
        return self._next_send(event.destination)

    def _send_failed(self, event: SendFailed) -> list[Action]:
        self._end_send(event.destination, event.input_id, event.producer)
        failure = ReportFailure(event.producer, event.input_id, event.message)
        return [failure, *self._next_send(event.destination)]

    # -- steps -------------------------------------------------------------------------------

    def _mapping(self) -> dict[str, str]:
        if self.deployment is None:
            raise InvalidEvent("no mapping deployed on this node yet")
        return self.deployment.mapping

    def _destinations(self, producer: str, mapping: dict[str, str]) -> set[str]:
        destinations = {mapping[child] for child in self.app.downstream(producer)}
        if producer in self.app.exits:
            destinations.add(HOME)
        return destinations

    def _take_in(self, producer: str, input_id: int, at: float) -> None:
        """`producer`'s output for `input_id` is in the store: count it for local children."""
        if (producer, input_id) in self._received:
            return
        self._received.add((producer, input_id))
        mapping = self._mapping()
        for child in self.app.downstream(producer):
            if mapping[child] != self.node:
                continue
            have = self._arrived.setdefault((child, input_id), set())
            have.add(producer)
            self.monitor.entered(child, input_id, at)
            if len(have) == len(self.app.upstream(child)):
                del self._arrived[(child, input_id)]
                self.monitor.mark(child, input_id, "ready", at)
                heapq.heappush(self._ready, (at, next(self._order), child, input_id))

    def _ship(self, producer: str, input_id: int, at: float) -> list[Action]:
        """One send per distinct remote destination; children here read the store."""
        actions: list[Action] = []
        for destination in sorted(self._destinations(producer, self._mapping())):
            if destination == self.node:
                self._take_in(producer, input_id, at)
            else:
                actions += self._queue_send(SendOutput(destination, input_id, producer))
        return actions

    def _queue_send(self, send: SendOutput) -> list[Action]:
        if send.destination in self._sending:
            self._outboxes.setdefault(send.destination, deque()).append(send)
            return []
        self._sending[send.destination] = send
        return [send]

    def _end_send(self, destination: str, input_id: int, producer: str) -> None:
        expected = SendOutput(destination, input_id, producer)
        if self._sending.get(destination) != expected:
            raise InvalidEvent(f"no send of {producer}/{input_id} to {destination} in flight")
        del self._sending[destination]

    def _next_send(self, destination: str) -> list[Action]:
        outbox = self._outboxes.get(destination)
        if not outbox:
            return []
        send = outbox.popleft()
        self._sending[destination] = send
        return [send]

    def _fill_slots(self) -> list[Action]:
        actions: list[Action] = []
        while self._ready and len(self._running) < self.slots:
            _, _, task, input_id = heapq.heappop(self._ready)
            self._running.add((task, input_id))
            actions.append(RunTask(task, input_id))
        return actions

    def _expect_running(self, task: str, input_id: int) -> None:
        if (task, input_id) not in self._running:
            raise InvalidEvent(f"task {task} is not running for input {input_id}")
