"""Recovery while the stream runs: when an agent is lost, re-map its tasks onto the nodes that
are left, push the new mapping epoch to every agent, and re-inject what cannot be recovered.

The desired state (the mapping) is the controller's; observed state (who is alive) comes
from the registry. A loss is handled as one step:

1. The displaced tasks (those mapped to a lost node) are placed by the run's own mapper on a
   *partial* schedule: every other task keeps its node (SAGA's `existing_schedule`).
2. The new `Deployment`, with the next epoch, goes to every live agent. Each agent retains
   the outputs it made until the home releases their input (circe/state.py), and resends
   them to every destination the new mapping adds: the displaced tasks get their inputs
   again and run on their new nodes.
3. The inputs of sources that moved (their node was lost) are injected again, at the
   sources' new nodes, for every input still in flight.

Resent data that a node already had is ignored, and the home keeps the first copy of each
exit output, so every (input, exit) reaches the output folder exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jupiter.api.client import AgentClient, CallFailed
from jupiter.api.models import Deployment
from jupiter.app.spec import App
from jupiter.circe.state import HOME
from jupiter.controller.executors import ExecutorRoles
from jupiter.controller.home import HomeState
from jupiter.controller.registry import Lost
from jupiter.errors import RunError
from jupiter.mapper.partial import PartialScheduleError
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import Mapper
from jupiter.mapper.schedule import ScheduleError

log = logging.getLogger(__name__)

Inject = Callable[[str, int], Awaitable[None]]


@dataclass
class EpochChange:
    """One re-mapping, as report.json records it."""

    epoch: int
    at: float  # Unix time the new mapping was pushed
    decided_at: float  # Unix time the home decided the agent was lost
    reason: str
    lost: list[str]
    # Seconds from the lost agent's last sign of life to the home's decision.
    detection_s: float
    # Seconds from that decision to every live agent running the new epoch.
    remap_s: float
    moved: dict[str, tuple[str, str]]  # task -> (old node, new node)
    in_flight: list[int] = field(default_factory=list)
    reinjected: list[int] = field(default_factory=list)
    # What started it: a lost agent (recovery), or the task controller (lazy, active).
    trigger: str = "recovery"
    # The controller's predicted makespan gain of the new mapping (None for a recovery).
    predicted_gain: float | None = None
    # The first input id the new mapping applied to: for the controller, the next input
    # injected (those before finish on their mapping); for a recovery, the oldest input in
    # flight (every input not done moves at once).
    first_input: int | None = None


class Recovery:
    def __init__(
        self,
        state: HomeState,
        app: App,
        problem: SchedulingProblem,
        mapper: Mapper,
        agents: Callable[[], AgentClient],
        home_url: str,
        inject: Inject,
        injected: Callable[[], list[int]],
        roles: ExecutorRoles | None = None,
    ) -> None:
        self.state = state
        self.app = app
        self.problem = problem
        self.mapper = mapper
        self._agents = agents
        self._home_url = home_url
        self._inject = inject
        self._injected = injected
        # Which agents run an executor (execution model `mapped`: not every one).
        self._roles = roles
        self.changes: list[EpochChange] = []
        self._queue: asyncio.Queue[Lost] = asyncio.Queue()
        # One mapping change at a time, whoever asks for it (a loss, or the controller).
        self._changing = asyncio.Lock()
        self._catching_up: set[str] = set()
        # While the controller's switch from input k on is being pushed: k. The stream
        # holds input k (and later ones) until every agent has the new epoch.
        self._boundary: int | None = None
        self._pushed = asyncio.Event()

    # -- what the home reports ---------------------------------------------------------------

    def lost(self, lost: Lost) -> None:
        """An agent is gone (its process exited, or its heartbeats stopped)."""
        self._queue.put_nowait(lost)

    def behind(self, node: str) -> None:
        """An agent beat with an older epoch (it was stopped, and is back): bring it up to
        date, so that it stops sending where the old mapping said."""
        if node in self._catching_up or self.state.deployment is None:
            return
        self._catching_up.add(node)
        task = asyncio.ensure_future(self._catch_up(node, self.state.deployment))
        task.add_done_callback(lambda _: self._catching_up.discard(node))

    async def at_boundary(self, input_id: int) -> None:
        """Return once input `input_id` may be injected: not while a mapping that applies
        to it is still on its way to the agents."""
        while self._boundary is not None and self._boundary <= input_id:
            await self._pushed.wait()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Handle losses one at a time, as they come, until cancelled."""
        while True:
            first = await self._queue.get()
            # Losses that arrive together (a machine with several agents) are one re-mapping.
            losses = [first]
            while not self._queue.empty():
                losses.append(self._queue.get_nowait())
            try:
                async with self._changing:
                    await self._recover(losses)
            except RunError as error:
                self.state.latch.fail(str(error))
            except Exception as error:
                log.exception("recovery failed")
                self.state.latch.fail(f"recovery failed: {type(error).__name__}: {error}")

    async def _recover(self, losses: list[Lost]) -> None:
        began = time.monotonic()
        current = self.state.deployment
        assert current is not None, "recovery starts after dispatch"
        gone = set(self.state.registry.lost)
        displaced = sorted(t for t, node in current.mapping.items() if node in gone)
        names = ", ".join(lost.node for lost in losses)
        if not displaced:
            log.warning("agent %s lost; it ran no task of the current mapping", names)
            return
        pinned = [t for t in displaced if t in self.problem.pinned]
        if pinned:
            raise RunError(
                f"agent {names} lost ({losses[0].reason}), and {', '.join(pinned)} "
                f"{'is' if len(pinned) == 1 else 'are'} pinned to it: "
                "their inputs cannot enter anywhere else"
            )
        alive = [n for n in self.state.registry.alive() if n not in gone]
        if not alive:
            raise RunError(f"agent {names} lost ({losses[0].reason}), and no agent is left")
        kept = {t: node for t, node in current.mapping.items() if node not in gone}
        try:
            schedule = self.mapper(self.problem, existing=kept, exclude=sorted(gone))
            schedule.check(self.problem, existing=kept, exclude=sorted(gone))
        except (PartialScheduleError, ScheduleError) as error:
            raise RunError(f"agent {names} lost; no re-mapping around it: {error}") from None
        mapping = dict(schedule.mapping)
        # From input 0: every input not done moves at once (the lost node held its work).
        deployment = await self._push_epoch(mapping, current, from_input=0)
        moved = {t: (current.mapping[t], mapping[t]) for t in displaced}
        injected = self._injected()
        in_flight = [k for k in injected if not self.state.deliveries.done(k)]
        now, clock = time.time(), time.monotonic()
        change = EpochChange(
            epoch=deployment.epoch,
            at=now,
            decided_at=now - (clock - min(lost.at for lost in losses)),
            reason="; ".join(f"agent {lost.node} {lost.reason}" for lost in losses),
            lost=[lost.node for lost in losses],
            detection_s=max(lost.silent_for for lost in losses),
            remap_s=time.monotonic() - began,
            moved=moved,
            in_flight=in_flight,
            first_input=min(in_flight, default=len(injected)),
        )
        self.changes.append(change)
        log.warning(
            "epoch %d: %s; moved %s",
            deployment.epoch,
            change.reason,
            ", ".join(f"{t} {a}->{b}" for t, (a, b) in moved.items()),
        )
        # What the lost nodes injected is gone with them: the sources' new nodes take it.
        sources = [s for s in self.app.sources if s in moved]
        if sources:
            change.reinjected = in_flight
            await asyncio.gather(*(self._inject(s, k) for k in in_flight for s in sources))

    async def adopt(
        self, mapping: dict[str, str], trigger: str, reason: str, gain: float
    ) -> EpochChange | None:
        """The task controller's new mapping for live agents, as the next epoch; None if it
        moves nothing. It takes effect at an input boundary: inputs from the next one
        injected on use it, those already injected finish on the mapping they started on
        (the stream holds the next input until every agent has the new epoch)."""
        async with self._changing:
            current = self.state.deployment
            assert current is not None, "the controller starts after dispatch"
            moved = {
                t: (current.mapping[t], n) for t, n in mapping.items() if current.mapping[t] != n
            }
            if not moved:
                return None
            began = time.monotonic()
            # Set before any await: the stream checks it right before it injects.
            first = len(self._injected())
            self._boundary = first
            self._pushed.clear()
            try:
                deployment = await self._push_epoch(mapping, current, from_input=first)
            finally:
                self._boundary = None
                self._pushed.set()
            now = time.time()
            change = EpochChange(
                epoch=deployment.epoch,
                at=now,
                decided_at=now,
                reason=reason,
                lost=[],
                detection_s=0.0,
                remap_s=time.monotonic() - began,
                moved=moved,
                in_flight=[k for k in self._injected() if not self.state.deliveries.done(k)],
                trigger=trigger,
                predicted_gain=gain,
                first_input=first,
            )
            self.changes.append(change)
            log.warning(
                "epoch %d (%s): %s; moved %d tasks", deployment.epoch, trigger, reason, len(moved)
            )
            return change

    async def _push_epoch(
        self, mapping: dict[str, str], current: Deployment, from_input: int
    ) -> Deployment:
        """`mapping` as the next epoch, for inputs from `from_input` on: the desired state,
        pushed to every live agent."""
        live = {
            n: url
            for n, url in self.state.registry.urls.items()
            if n not in self.state.registry.lost
        }
        deployment = Deployment(
            mapping=mapping,
            addresses={**live, HOME: self._home_url},
            epoch=current.epoch + 1,
            from_input=from_input,
        )
        targets = list(live)
        if self._roles is not None:
            # Executors first, where the new mapping needs one that is not there yet.
            await self._roles.extend(mapping, deployment.epoch)
            targets = self._roles.targets(live)
        self.state.deployment = deployment
        agents = self._agents()
        await asyncio.gather(*(self._push(agents, node, deployment) for node in targets))
        return deployment

    async def _push(self, agents: AgentClient, node: str, deployment: Deployment) -> None:
        try:
            await agents.deploy(node, deployment)
        except CallFailed as error:
            # Lost too, most likely: the registry will say so, and the next step handles it.
            log.warning("could not push epoch %d to %s: %s", deployment.epoch, node, error)

    async def _catch_up(self, node: str, deployment: Deployment) -> None:
        await self._push(self._agents(), node, deployment)
