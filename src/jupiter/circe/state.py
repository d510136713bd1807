"""CIRCE's decisions on one node, as a pure state machine: events in, actions out.

`ExecutorState.handle(event)` is the only way the state changes. It does no I/O, starts
nothing and reads no clock: every time it records comes on the event that caused it. The
asyncio layer (executor.py) feeds it what happened (a mapping deployed, data in the store, a
task run or a send ended) and carries out the actions it returns, in order:

- `RunTask`: run a task for an input id in a worker slot. The state hands out at most
  `slots` of these at a time, ready tasks first come first served by ready time.
- `SendOutput`: send a producer's output for an input id to a node, or home. Up to
  `send_window` sends per destination are in flight at once, started in the order the
  outputs were made: a link is pipelined, as a TCP connection is (its latency delays each
  message, it does not space them), and the link emulator keeps their bytes in that order
  on the link. Beyond the window, sends wait in the destination's outbox.
- `ReportFailure`: tell the home a task (or the delivery of its output) failed.
- `ForgetInput`: delete an input's data from the store: the home has all of it.

Mapping epochs. Each deployment names the first input id it applies to (`from_input`); an
input runs on the newest epoch whose first input is at most its id: the epoch in force when
it was injected. A switch from input k on (the task controller's) leaves the inputs below k
exactly as they were; one from input 0 (a re-mapping around a lost node) moves every input
not done. The mapping of every epoch an input may still use is kept, until the home's
`done_below` (every input below it is done) says none can.

Recovery. Every output made here is *retained* until the home says its input is done
(`InputsReleased`, from the heartbeat answer): until then a node that dies can be replaced.
A re-mapping arrives as a deployment with a higher epoch; the state then resends every output
it made to each destination the new mapping adds, drops queued sends no destination wants any
more, and counts the data it holds for the tasks the new mapping moved here. Resent data that
a node already had is ignored (de-duplication), so replays run nothing twice where nothing
was lost. A send that cannot reach its destination (`SendFailed(unreachable=True)`) is tried
again with growing delays (`SendOutput.attempt`) for as long as the mapping still wants it:
the home notices a dead node within seconds and re-maps, which ends the retries.

The per (task, input id) records the home gathers live in `monitor`, which the state fills;
a released input's records move to `finished_records`, for the next heartbeat to carry home.

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
from jupiter.circe.monitor import Monitor, TaskRecord

HOME = "home"
# Sends in flight to one destination at once: enough to keep a long link busy with small
# messages (8 per one-way latency), few enough that a node's connections stay bounded.
SEND_WINDOW = 8
# Attempts at a send whose destination does not answer, before its failure is reported: with
# the backoff in executor.py, about a minute, far past the home's detection of a dead node.
MAX_UNREACHABLE_ATTEMPTS = 40


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
    at: float = 0.0


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
    # The destination did not answer at all (refused, reset, timed out), as opposed to
    # answering that it would not take the data: the node may be dead, or only slow.
    unreachable: bool = False


@dataclass(frozen=True)
class InputsReleased:
    """The home has every exit output of these inputs (or gave up on them): forget them.
    `done_below`: every input below it is done, here or elsewhere, so the mapping epochs
    that only such inputs use may be forgotten too."""

    input_ids: tuple[int, ...]
    at: float
    done_below: int = 0


Event = (
    MappingDeployed
    | InputInjected
    | DataArrived
    | TaskStarted
    | TaskFinished
    | TaskFailed
    | SendSucceeded
    | SendFailed
    | InputsReleased
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
    # 0 for a first try; n > 0: the n-th retry of a send whose destination did not answer.
    attempt: int = 0


@dataclass(frozen=True)
class ReportFailure:
    task: str
    input_id: int
    message: str
    # The node that never answered, when that is the failure (not the task's fault).
    unreachable: str | None = None


@dataclass(frozen=True)
class ForgetInput:
    input_id: int


Action = RunTask | SendOutput | ReportFailure | ForgetInput


# -- the state -------------------------------------------------------------------------------


class ExecutorState:
    def __init__(self, node: str, app: App, slots: int = 1, send_window: int = SEND_WINDOW) -> None:
        if slots < 1:
            raise ValueError(f"a node needs at least one worker slot, not {slots}")
        if send_window < 1:
            raise ValueError(f"a link needs room for at least one send, not {send_window}")
        self.node = node
        self.app = app
        self.slots = slots
        self.send_window = send_window
        self.monitor = Monitor(node)
        # The newest deployment; and every mapping epoch some input may still use, oldest
        # first, as (epoch, first input id, mapping). An input uses the newest epoch whose
        # first input is at most its id: the epoch in force when it was injected.
        self.deployment: Deployment | None = None
        self._epochs: list[tuple[int, int, dict[str, str]]] = []
        self.done_below = 0
        # (producer, input id) outputs already taken in: a resent file must not run twice.
        self._received: set[tuple[str, int]] = set()
        self._injected: set[tuple[str, int]] = set()
        # Per input id: the producers whose outputs are in the store here (made here or
        # received), and of those, the ones made here (this node's to resend).
        self._held: dict[int, set[str]] = {}
        self._made: dict[int, set[str]] = {}
        # (producer, input id) -> every destination its output was queued for from here.
        self._sent: dict[tuple[str, int], set[str]] = {}
        # Tasks that ran to the end here, per input id: a re-mapping must not run them again.
        self._done: dict[int, set[str]] = {}
        self._released: set[int] = set()
        self.finished_records: list[TaskRecord] = []
        # (local task, input id) -> the upstreams whose outputs are here so far.
        self._arrived: dict[tuple[str, int], set[str]] = {}
        # Ready tasks as (ready at, arrival order, task, input id): the order breaks ties so
        # that tasks ready at the same instant run in the order they became ready.
        self._ready: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()
        self._running: set[tuple[str, int]] = set()
        self._outboxes: dict[str, deque[SendOutput]] = {}
        # Per destination, the sends in flight by (producer, input id), in the order started.
        self._sending: dict[str, dict[tuple[str, int], SendOutput]] = {}
        self._handlers: dict[type, Callable[..., list[Action]]] = {
            MappingDeployed: self._deployed,
            InputInjected: self._injected_input,
            DataArrived: self._data_arrived,
            TaskStarted: self._task_started,
            TaskFinished: self._task_finished,
            TaskFailed: self._task_failed,
            SendSucceeded: self._send_succeeded,
            SendFailed: self._send_failed,
            InputsReleased: self._inputs_released,
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
        """Sends to `destination` waiting for room in its window."""
        return list(self._outboxes.get(destination, ()))

    def sends_in_flight(self, destination: str) -> list[SendOutput]:
        """Sends to `destination` under way, in the order they started."""
        return list(self._sending.get(destination, {}).values())

    @property
    def epoch(self) -> int:
        return -1 if self.deployment is None else self.deployment.epoch

    @property
    def live_epochs(self) -> list[int]:
        """The mapping epochs kept: the newest, and each older one an input may still use."""
        return [epoch for epoch, _, _ in self._epochs]

    def epoch_of(self, input_id: int) -> int:
        """The mapping epoch input `input_id` runs on here."""
        return self._epoch_entry(input_id)[0]

    @property
    def held_inputs(self) -> list[int]:
        """Inputs this node still keeps anything of (data, pending work, records)."""
        live = set(self._held) | {k for _, k in self._running} | {k for _, k in self._arrived}
        return sorted(live)

    @property
    def sending(self) -> int:
        in_flight = sum(len(sends) for sends in self._sending.values())
        return in_flight + sum(len(outbox) for outbox in self._outboxes.values())

    # -- handlers ----------------------------------------------------------------------------

    def _deployed(self, event: MappingDeployed) -> list[Action]:
        deployment = event.deployment
        current = self.deployment
        if current is not None:
            if deployment == current:
                return []  # the same deployment again: a retried push
            if deployment.epoch <= current.epoch:
                raise MappingRejected(
                    f"a mapping is already deployed on this node (epoch {current.epoch}); "
                    f"a new one needs a higher epoch, not {deployment.epoch}"
                )
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
        self._epochs.append((deployment.epoch, deployment.from_input, dict(deployment.mapping)))
        self._forget_epochs()
        return [] if current is None else self._remapped(event.at, deployment.from_input)

    def _remapped(self, at: float, from_input: int) -> list[Action]:
        """A new mapping epoch, for inputs from `from_input` on: for those of them already
        here, reroute what is queued, resend what moved, take in what came. Inputs below it
        go on as they were, on the mapping they started on."""
        # Queued sends no destination wants any more (their node lost its tasks) go.
        for outbox in self._outboxes.values():
            kept = [send for send in outbox if self._wanted(send)]
            outbox.clear()
            outbox.extend(kept)
        # Work waiting here for tasks that moved away is theirs now.
        self._arrived = {
            key: have
            for key, have in self._arrived.items()
            if self._mapping(key[1])[key[0]] == self.node
        }
        self._ready = [e for e in self._ready if self._mapping(e[3])[e[2]] == self.node]
        heapq.heapify(self._ready)
        actions: list[Action] = []
        for input_id in sorted(k for k in self._held if k >= from_input):
            # Tasks moved here count the data already held for them.
            for producer in sorted(self._held[input_id]):
                self._count_for_children(producer, input_id, at)
            # Outputs made here go to every destination the new mapping adds.
            for producer in sorted(self._made.get(input_id, ())):
                actions += self._ship(producer, input_id, at, only_new=True)
        return actions + self._fill_slots()

    def _injected_input(self, event: InputInjected) -> list[Action]:
        self._mapping(event.input_id)
        key = (event.source, event.input_id)
        if event.source not in self.app.sources:
            raise InvalidEvent(f"{event.source!r} is not a source of app {self.app.name!r}")
        if key in self._injected:
            return []  # a retried injection: its data went out the first time
        self._injected.add(key)
        self._hold(event.source, event.input_id, made=True)
        record = self.monitor.record(event.source, event.input_id)
        record.enter = record.ready = record.start = record.finish = event.at
        record.output_bytes = event.size
        return self._ship(event.source, event.input_id, event.at) + self._fill_slots()

    def _data_arrived(self, event: DataArrived) -> list[Action]:
        self._mapping(event.input_id)
        self._take_in(event.producer, event.input_id, event.at)
        return self._fill_slots()

    def _task_started(self, event: TaskStarted) -> list[Action]:
        self._expect_running(event.task, event.input_id)
        self.monitor.mark(event.task, event.input_id, "start", event.at)
        return []

    def _task_finished(self, event: TaskFinished) -> list[Action]:
        self._expect_running(event.task, event.input_id)
        self._running.discard((event.task, event.input_id))
        if event.input_id in self._released:
            # A replay's run that ended after the home already had the input: nothing to ship.
            return [ForgetInput(event.input_id), *self._fill_slots()]
        self._done.setdefault(event.input_id, set()).add(event.task)
        self._hold(event.task, event.input_id, made=True)
        record = self.monitor.record(event.task, event.input_id)
        record.finish = event.at
        record.output_bytes = event.output_bytes
        return self._ship(event.task, event.input_id, event.at) + self._fill_slots()

    def _task_failed(self, event: TaskFailed) -> list[Action]:
        self._expect_running(event.task, event.input_id)
        self._running.discard((event.task, event.input_id))
        if event.input_id in self._released:
            return self._fill_slots()
        self.monitor.record(event.task, event.input_id).failed = event.message
        failure = ReportFailure(event.task, event.input_id, event.message)
        return [failure, *self._fill_slots()]

    def _send_succeeded(self, event: SendSucceeded) -> list[Action]:
        self._end_send(event.destination, event.input_id, event.producer)
        return self._next_send(event.destination)

    def _send_failed(self, event: SendFailed) -> list[Action]:
        in_flight = self._in_flight(event.destination, event.input_id, event.producer)
        key = (event.producer, event.input_id)
        attempt = in_flight[key].attempt + 1
        retry = SendOutput(event.destination, event.input_id, event.producer, attempt)
        wanted = self._wanted(retry)
        if wanted and event.unreachable and attempt < MAX_UNREACHABLE_ATTEMPTS:
            # The send keeps its place in the window: queued ones must not overtake it.
            in_flight[key] = retry
            return [retry]
        del in_flight[key]
        if not wanted:
            return self._next_send(event.destination)  # re-mapped or released meanwhile
        message = event.message
        unreachable = None
        if event.unreachable:
            unreachable = event.destination
            message = f"node {event.destination} unreachable from {self.node}: {message}"
        failure = ReportFailure(event.producer, event.input_id, message, unreachable)
        return [failure, *self._next_send(event.destination)]

    def _inputs_released(self, event: InputsReleased) -> list[Action]:
        actions: list[Action] = []
        if event.done_below > self.done_below:
            self.done_below = event.done_below
            self._forget_epochs()
        for input_id in event.input_ids:
            if input_id in self._released:
                continue
            self._released.add(input_id)
            held = self._held.pop(input_id, None)
            self._made.pop(input_id, None)
            self._done.pop(input_id, None)
            for producer in held or ():
                self._received.discard((producer, input_id))
                self._sent.pop((producer, input_id), None)
            self._injected = {key for key in self._injected if key[1] != input_id}
            self._arrived = {key: v for key, v in self._arrived.items() if key[1] != input_id}
            self._ready = [entry for entry in self._ready if entry[3] != input_id]
            heapq.heapify(self._ready)
            for outbox in self._outboxes.values():
                kept = [send for send in outbox if send.input_id != input_id]
                outbox.clear()
                outbox.extend(kept)
            self.finished_records += self.monitor.pop_input(input_id)
            if held is not None:
                actions.append(ForgetInput(input_id))
        return actions

    # -- steps -------------------------------------------------------------------------------

    def _mapping(self, input_id: int) -> dict[str, str]:
        """The mapping input `input_id` runs on."""
        return self._epoch_entry(input_id)[2]

    def _epoch_entry(self, input_id: int) -> tuple[int, int, dict[str, str]]:
        if not self._epochs:
            raise InvalidEvent("no mapping deployed on this node yet")
        for entry in reversed(self._epochs):
            if entry[1] <= input_id:
                return entry
        # Below every epoch kept: the input is done (its epoch was forgotten); whatever
        # still comes for it follows the oldest kept, and the home keeps first copies.
        return self._epochs[0]

    def _forget_epochs(self) -> None:
        """Drop the epochs no input can use any more: an epoch covers the inputs from its
        first one up to the first one of any later epoch; once those are all done (below
        `done_below`), or if there are none, it goes. The newest always stays."""
        kept: list[tuple[int, int, dict[str, str]]] = []
        for i, entry in enumerate(self._epochs):
            later = self._epochs[i + 1 :]
            if later:
                end = min(first for _, first, _ in later)
                if end <= entry[1] or end <= self.done_below:
                    continue
            kept.append(entry)
        self._epochs = kept

    def _wanted(self, send: SendOutput) -> bool:
        """Does its input's mapping still need this output at this destination?"""
        if send.input_id in self._released:
            return False
        mapping = self._mapping(send.input_id)
        return send.destination in self._destinations(send.producer, mapping)

    def _hold(self, producer: str, input_id: int, made: bool) -> None:
        self._held.setdefault(input_id, set()).add(producer)
        if made:
            self._made.setdefault(input_id, set()).add(producer)

    def _destinations(self, producer: str, mapping: dict[str, str]) -> set[str]:
        destinations = {mapping[child] for child in self.app.downstream(producer)}
        if producer in self.app.exits:
            destinations.add(HOME)
        return destinations

    def _take_in(self, producer: str, input_id: int, at: float) -> None:
        """`producer`'s output for `input_id` is in the store: count it for local children."""
        if (producer, input_id) in self._received or input_id in self._released:
            return
        self._received.add((producer, input_id))
        self._hold(producer, input_id, made=False)
        self._count_for_children(producer, input_id, at)

    def _count_for_children(self, producer: str, input_id: int, at: float) -> None:
        mapping = self._mapping(input_id)
        done = self._done.get(input_id, set())
        for child in self.app.downstream(producer):
            if mapping[child] != self.node or child in done or (child, input_id) in self._running:
                continue
            if any(task == child and k == input_id for _, _, task, k in self._ready):
                continue
            have = self._arrived.setdefault((child, input_id), set())
            if producer in have:
                continue
            have.add(producer)
            self.monitor.entered(child, input_id, at)
            if len(have) == len(self.app.upstream(child)):
                del self._arrived[(child, input_id)]
                self.monitor.mark(child, input_id, "ready", at)
                heapq.heappush(self._ready, (at, next(self._order), child, input_id))

    def _ship(
        self, producer: str, input_id: int, at: float, only_new: bool = False
    ) -> list[Action]:
        """One send per distinct remote destination; children here read the store.

        `only_new`: after a re-mapping, only the destinations not sent to before."""
        actions: list[Action] = []
        sent = self._sent.setdefault((producer, input_id), set())
        for destination in sorted(self._destinations(producer, self._mapping(input_id))):
            if destination == self.node:
                self._take_in(producer, input_id, at)
            elif not (only_new and destination in sent):
                sent.add(destination)
                actions += self._queue_send(SendOutput(destination, input_id, producer))
        return actions

    def _queue_send(self, send: SendOutput) -> list[Action]:
        in_flight = self._sending.setdefault(send.destination, {})
        outbox = self._outboxes.get(send.destination)
        if len(in_flight) >= self.send_window or outbox:
            self._outboxes.setdefault(send.destination, deque()).append(send)
            return []
        in_flight[(send.producer, send.input_id)] = send
        return [send]

    def _in_flight(
        self, destination: str, input_id: int, producer: str
    ) -> dict[tuple[str, int], SendOutput]:
        """The window to `destination`, which must hold this send."""
        in_flight = self._sending.get(destination, {})
        if (producer, input_id) not in in_flight:
            raise InvalidEvent(f"no send of {producer}/{input_id} to {destination} in flight")
        return in_flight

    def _end_send(self, destination: str, input_id: int, producer: str) -> None:
        """A send in flight to `destination` ended."""
        del self._in_flight(destination, input_id, producer)[(producer, input_id)]

    def _next_send(self, destination: str) -> list[Action]:
        """Fill the destination's window from its outbox, oldest first."""
        outbox = self._outboxes.get(destination)
        in_flight = self._sending.setdefault(destination, {})
        actions: list[Action] = []
        while outbox and len(in_flight) < self.send_window:
            if (outbox[0].producer, outbox[0].input_id) in in_flight:
                break  # the same data again (re-injected): after the copy under way
            send = outbox.popleft()
            in_flight[(send.producer, send.input_id)] = send
            actions.append(send)
        return actions

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
