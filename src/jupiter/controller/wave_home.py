"""The home's side of the distributed WAVE (`--mapper wave-distributed`): the ledger of
announcements, its two routes, and the map phase that runs the agents' mapper roles.

Who decides: the home appoints the entry tasks' nodes; every other task is appointed by the
agent its controlling parent was appointed to, from that agent's own link fits
(agent/wave_role.py). How the load reaches the deciders: through the home. Each decider
announces its appointment here (`POST /home/wave/announce`), and before each decision reads
the announced load with the child's turn (`POST /home/wave/turn`). The home holds a turn until
every decision before it in the turn order is announced, so the decisions are the in-process
`wave`'s (mapper/wave_plan.py) fed the same views, whatever the timing; the map phase checks
that by replaying them.

Messages, counted in `WaveMessages` (report.json `wave.messages`): one start per agent, one
turn and one announcement per task an agent decides, one appointment per task whose node is
not its decider's (from the home for entry tasks, else agent to agent); a child kept on its
decider's node costs no appointment message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from jupiter.api import paths
from jupiter.api.client import AgentClient
from jupiter.api.reading import answer, read_body
from jupiter.api.wave import (
    Link,
    ParentPlacement,
    WaveAnnouncement,
    WaveAppointment,
    WaveNoted,
    WaveReady,
    WaveStart,
    WaveTurn,
    WaveTurnRequest,
)
from jupiter.controller.latch import RunLatch
from jupiter.errors import RunError
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.problem import LinkModel, SchedulingProblem
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.simulate import simulate
from jupiter.mapper.wave_plan import (
    Decision,
    Ledger,
    WavePlan,
    decide,
    decide_in_process,
    view_for,
)

NAME = "wave-distributed"
# Seconds without a new announcement after which the map phase fails, naming the task due.
STALL_S = 30.0


@dataclass
class WaveMessages:
    start: int = 0
    appointments: int = 0
    local_appointments: int = 0
    turns: int = 0
    announcements: int = 0

    @property
    def total(self) -> int:
        return self.start + self.appointments + self.turns + self.announcements


@dataclass
class WaveOutcome:
    """A finished distributed WAVE: the schedule, every decision in turn order, each agent's
    link row it decided from, whether the in-process replay agrees, and the messages."""

    schedule: Schedule
    decisions: list[Decision]
    links: dict[str, dict[str, LinkModel]]
    same_as_in_process: bool
    messages: WaveMessages
    seconds: float


@dataclass
class WaveLedgerService:
    """The ledger the home keeps while a distributed WAVE runs (None otherwise)."""

    ledger: Ledger | None = None
    # With peer_links: each agent's link fits as it answered the start, passed on with turns.
    rows: dict[str, dict[str, Link]] | None = None
    messages: WaveMessages = field(default_factory=WaveMessages)
    failure: str | None = None
    _turns: dict[str, asyncio.Event] = field(default_factory=dict)
    _progress: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self, plan: WavePlan) -> Ledger:
        self.ledger = Ledger(plan)
        self.messages = WaveMessages()
        self.failure = None
        self.rows = None
        self._turns = {}
        return self.ledger

    def end(self, failure: str = "the distributed WAVE ended") -> None:
        """Release every waiter; later requests are refused."""
        self.failure = failure
        for event in self._turns.values():
            event.set()
        self._progress.set()
        self.ledger = None

    async def wait_turn(self, task: str, timeout: float) -> Ledger:
        ledger = self.current()
        if not ledger.done_before(task):
            event = self._turns.setdefault(task, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                raise RunError(f"not the turn of {task!r} within {timeout:g} s") from None
        return self.current()

    def announce(self, decision: Decision) -> None:
        ledger = self.current()
        ledger.announce(decision)
        if decision.decider is not None:
            self.messages.announcements += 1
            if decision.node == decision.decider:
                self.messages.local_appointments += 1
            else:
                self.messages.appointments += 1
        order = ledger.plan.order
        if len(ledger.placed) < len(order):
            due = self._turns.get(order[len(ledger.placed)])
            if due is not None:
                due.set()
        self._progress.set()

    async def wait_progress(self, timeout: float) -> None:
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout)

    def current(self) -> Ledger:
        if self.failure is not None or self.ledger is None:
            raise RunError(self.failure or "no distributed WAVE in progress")
        return self.ledger


def wave_routes(service: WaveLedgerService) -> list[web.RouteDef]:
    async def turn(request: web.Request) -> web.Response:
        body = await read_body(request, WaveTurnRequest)
        ledger = _ledger(service)
        plan = ledger.plan
        if body.task not in plan.position:
            raise web.HTTPNotFound(text=f"no task {body.task!r} in this WAVE")
        controller = plan.controller[body.task]
        if controller is None:
            raise web.HTTPConflict(text=f"{body.task!r} is an entry task: the home appoints it")
        try:
            ledger = await service.wait_turn(body.task, STALL_S)
        except RunError as error:
            raise web.HTTPConflict(text=str(error)) from None
        decider = ledger.placed[controller].node
        if decider != body.node:
            raise web.HTTPConflict(text=f"{body.task!r} is decided by {decider}, not {body.node}")
        service.messages.turns += 1
        return answer(_turn(ledger, body.task, service.rows))

    async def announce(request: web.Request) -> web.Response:
        body = await read_body(request, WaveAnnouncement)
        ledger = _ledger(service)
        plan = ledger.plan
        if body.task not in plan.position:
            raise web.HTTPNotFound(text=f"no task {body.task!r} in this WAVE")
        controller = plan.controller[body.task]
        if controller is None or controller not in ledger.placed:
            raise web.HTTPConflict(text=f"{body.task!r} has no appointed controller")
        decider = ledger.placed[controller].node
        if decider != body.node:
            raise web.HTTPConflict(text=f"{body.task!r} is decided by {decider}, not {body.node}")
        if body.choice not in plan.compute[body.task]:
            raise web.HTTPBadRequest(text=f"choice {body.choice!r} is not a node of this WAVE")
        pin = plan.pinned.get(body.task)
        if pin is not None and body.choice != pin:
            raise web.HTTPConflict(text=f"{body.task!r} is pinned to {pin}")
        if pin is None and body.choice in ledger.full():
            raise web.HTTPConflict(text=f"{body.choice} is full")
        decision = Decision(body.task, body.node, body.choice, body.start, body.finish)
        try:
            service.announce(decision)
        except ValueError as error:
            raise web.HTTPConflict(text=str(error)) from None
        return answer(WaveNoted())

    return [web.post(paths.HOME_WAVE_TURN, turn), web.post(paths.HOME_WAVE_ANNOUNCE, announce)]


def _ledger(service: WaveLedgerService) -> Ledger:
    if service.ledger is None:
        raise web.HTTPConflict(text=service.failure or "no distributed WAVE in progress")
    return service.ledger


def _turn(ledger: Ledger, task: str, rows: dict[str, dict[str, Link]] | None) -> WaveTurn:
    plan = ledger.plan
    child = plan.child(task)
    assert child.controller is not None
    return WaveTurn(
        task=task,
        controller=child.controller,
        compute=dict(child.compute),
        parents=[
            ParentPlacement(
                task=p,
                node=ledger.placed[p].node,
                finish=ledger.placed[p].finish,
                bytes=b,
                links=None if rows is None else rows[ledger.placed[p].node],
            )
            for p, b in child.parents
        ],
        pin=child.pin,
        ready=dict(ledger.ready),
        full=sorted(ledger.full()),
        controls=plan.controls[task],
        peer_links=rows is not None,
    )


async def distributed_wave(
    service: WaveLedgerService,
    agents: AgentClient,
    latch: RunLatch,
    problem: SchedulingProblem,
    *,
    peer_links: bool = False,
) -> WaveOutcome:
    """Map `problem` with the agents' mapper roles; the schedule's times come from `simulate`.
    `peer_links` as for `wave` (mapper/wave.py): the home passes each node's announced link
    fits on with the turns of the children its tasks feed."""
    began = time.perf_counter()
    plan = WavePlan.of(compile_problem(problem))
    ledger = service.begin(plan)
    try:
        start = WaveStart(addresses=dict(agents.urls))
        ready: list[WaveReady] = await asyncio.gather(
            *(agents.wave_start(node, start) for node in plan.nodes)
        )
        service.messages.start += len(ready)
        links = {
            r.node: {peer: LinkModel(m.p, m.q, m.r) for peer, m in r.links.items()} for r in ready
        }
        service.rows = {r.node: dict(r.links) for r in ready} if peer_links else None
        for task in plan.entries():
            await _wait_for(service, latch, functools.partial(ledger.done_before, task))
            child = plan.child(task)
            placed = ledger.where(p for p, _ in child.parents)
            chosen = decide(child, view_for(child, None, {}, placed, ledger.ready, ledger.full()))
            service.announce(Decision(task, None, chosen.node, chosen.start, chosen.finish))
            appointment = WaveAppointment(
                task=task, start=chosen.start, finish=chosen.finish, controls=plan.controls[task]
            )
            await agents.wave_appoint(chosen.node, appointment)
            service.messages.appointments += 1
        await _wait_for(service, latch, lambda: len(ledger.placed) == len(plan.order))
        decisions = [ledger.placed[t] for t in plan.order]
        messages = service.messages
    finally:
        service.end()
    mapping = {d.task: d.node for d in decisions}
    schedule = simulate(problem, mapping, NAME)
    replay = decide_in_process(plan, links, peer_links=peer_links)
    return WaveOutcome(
        schedule, decisions, links, replay == decisions, messages, time.perf_counter() - began
    )


async def _wait_for(service: WaveLedgerService, latch: RunLatch, done: Callable[[], bool]) -> None:
    """Until `done()`; RunError on the run's failure or STALL_S without an announcement."""
    last = time.monotonic()
    seen = -1
    while not done():
        if latch.failure is not None:
            raise RunError(latch.failure)
        ledger = service.current()
        if len(ledger.placed) != seen:
            seen, last = len(ledger.placed), time.monotonic()
        elif time.monotonic() - last > STALL_S:
            due = ledger.plan.order[len(ledger.placed)]
            controller = ledger.plan.controller[due]
            by = ledger.placed[controller].node if controller in ledger.placed else "the home"
            raise RunError(
                f"distributed WAVE stalled: no appointment of task {due!r} (decided by {by}) "
                f"for {STALL_S:g} s"
            )
        await service.wait_progress(1.0)
