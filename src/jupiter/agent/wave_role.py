"""The agent's mapper role for the distributed WAVE: appoint the nodes of the children this
node's tasks control, from this node's own view, and message the chosen agents.

The home starts it (`POST /wave/start`): the role snapshots its own link fits (the network
profiler's, the cluster's link model where a peer has none yet) and answers them, so that the
home can replay every decision in process. Then an appointment (`POST /wave/appoint`, from
the home for an entry task or from a peer) says "you run this task; decide these children".
For each child, in turn order: ask the home's ledger for the child's turn (held until every
earlier decision is announced; the answer carries the child's estimates and the announced
load), decide with the same `view_for` and `decide` as the in-process mapper
(mapper/wave_plan.py), announce the appointment to the home (the load feedback every later
decider reads), and appoint the chosen agent, which then does the same for its children. A
child kept on this node is handled here, without a message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from types import TracebackType

import aiohttp
from aiohttp import web

from jupiter.api import paths
from jupiter.api.client import AgentClient, CallFailed, HomeClient
from jupiter.api.reading import answer, read_body
from jupiter.api.wave import (
    Link,
    WaveAnnouncement,
    WaveAppointed,
    WaveAppointment,
    WaveReady,
    WaveStart,
    WaveTurn,
    WaveTurnRequest,
)
from jupiter.background import background
from jupiter.cluster.spec import Cluster
from jupiter.mapper.problem import LinkModel
from jupiter.mapper.wave_plan import Child, decide, view_for
from jupiter.profiler.model import LinkProfile

log = logging.getLogger(__name__)

# Seconds the home may hold one turn request: it answers when every earlier decision is in.
TURN_TIMEOUT_S = 120.0


def own_links(node: str, cluster: Cluster, fits: Mapping[str, LinkProfile]) -> dict[str, LinkModel]:
    """This node's link estimate to every peer: its fit where the probes resolved one, the
    fitted latency with the cluster's bandwidth where they did not yet, else the cluster's
    link model (the same fallbacks as planning/problem.py)."""
    row: dict[str, LinkModel] = {}
    for peer in cluster.node_names:
        if peer == node:
            continue
        link = cluster.link(node, peer)
        fit = fits.get(peer)
        if fit is None:
            row[peer] = LinkModel(link.latency, 1.0 / link.bandwidth)
        elif not fit.resolved:
            row[peer] = LinkModel(fit.p, 1.0 / link.bandwidth)
        else:
            row[peer] = fit.model()
    return row


def child_of(
    turn: WaveTurn,
) -> tuple[Child, dict[str, tuple[str, float]], dict[str, dict[str, LinkModel]] | None]:
    """The child, its parents' announced (node, finish), and (peer_links) the link fits
    their nodes announced, as the turn states them."""
    child = Child(
        task=turn.task,
        controller=turn.controller,
        compute=turn.compute,
        parents=tuple((p.task, p.bytes) for p in turn.parents),
        pin=turn.pin,
    )
    placed = {p.task: (p.node, p.finish) for p in turn.parents}
    announced = {
        p.node: {peer: LinkModel(m.p, m.q, m.r) for peer, m in p.links.items()}
        for p in turn.parents
        if p.links is not None
    }
    return child, placed, (announced if turn.peer_links else None)


class WaveRole:
    def __init__(
        self,
        node: str,
        cluster: Cluster,
        fits: Callable[[], Mapping[str, LinkProfile]],
        session: aiohttp.ClientSession,
        auth: dict[str, str],
        home_url: str,
    ) -> None:
        self.node = node
        self.cluster = cluster
        self.fits = fits
        self.session = session
        self.auth = auth
        self.home = HomeClient(session, home_url, auth)
        self.links: dict[str, LinkModel] | None = None
        self.peers: AgentClient | None = None
        self._work: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> WaveRole:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for task in list(self._work):
            task.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(paths.WAVE_START, self._start),
            web.post(paths.WAVE_APPOINT, self._appoint),
        ]

    async def _start(self, request: web.Request) -> web.Response:
        body = await read_body(request, WaveStart)
        unknown = sorted(set(body.addresses) - set(self.cluster.node_names))
        if unknown:
            raise web.HTTPBadRequest(text=f"addresses name nodes not in the cluster: {unknown}")
        self.links = own_links(self.node, self.cluster, self.fits())
        self.peers = AgentClient(self.session, dict(body.addresses), self.auth)
        links = {peer: Link(p=m.p, q=m.q, r=m.r) for peer, m in self.links.items()}
        return answer(WaveReady(node=self.node, links=links))

    async def _appoint(self, request: web.Request) -> web.Response:
        body = await read_body(request, WaveAppointment)
        if self.links is None:
            raise web.HTTPConflict(text="no distributed WAVE started on this agent")
        self._spawn(body)
        return answer(WaveAppointed())

    def _spawn(self, appointment: WaveAppointment) -> None:
        work = background(
            self._decide_children(appointment),
            f"WAVE decisions for the children of {appointment.task}",
            extra={"task": appointment.task},
        )
        self._work.add(work)
        work.add_done_callback(self._work.discard)

    async def _decide_children(self, appointment: WaveAppointment) -> None:
        for task in appointment.controls:
            try:
                await self._decide(task)
            except CallFailed as error:
                # The home notices the stall and fails the map phase naming this child.
                log.warning("WAVE: deciding %s failed: %s", task, error, extra={"task": task})
                return

    async def _decide(self, task: str) -> None:
        links, peers = self.links, self.peers
        assert links is not None and peers is not None  # set by _start before any appointment
        turn = await self.home.wave_turn(
            WaveTurnRequest(node=self.node, task=task), timeout=TURN_TIMEOUT_S
        )
        child, placed, announced = child_of(turn)
        view = view_for(child, self.node, links, placed, turn.ready, turn.full, announced)
        chosen = decide(child, view)
        await self.home.wave_announce(
            WaveAnnouncement(
                node=self.node,
                task=task,
                choice=chosen.node,
                start=chosen.start,
                finish=chosen.finish,
            )
        )
        appointment = WaveAppointment(
            task=task, start=chosen.start, finish=chosen.finish, controls=turn.controls
        )
        if chosen.node == self.node:
            self._spawn(appointment)
        else:
            await peers.wave_appoint(chosen.node, appointment)
