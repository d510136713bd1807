"""The home's own server: agents register here, exit tasks deliver their outputs here, and
failures are reported here. `HomeState` is the controller's view of observed state (the
latch, registry and deliveries each in their own module); the server also serves the profile
the run maps from (`GET /home/profile`)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from jupiter.agent.auth import auth_headers
from jupiter.agent.metrics import metrics_route, with_process_metrics
from jupiter.agent.server import serving
from jupiter.api import paths
from jupiter.api.models import (
    Deployment,
    FailureEvent,
    Health,
    Heartbeat,
    HeartbeatAnswer,
    Noted,
    ProfileQuery,
    Registered,
    Registration,
    Stored,
)
from jupiter.api.reading import answer, read_body, read_query
from jupiter.api.reading import input_id as parse_input_id
from jupiter.api.tls import TlsFiles, scheme
from jupiter.circe.transfer import receive_file
from jupiter.controller.conditions import ConditionControl, condition_routes
from jupiter.controller.deliveries import Deliveries
from jupiter.controller.latch import RunLatch
from jupiter.controller.metrics import home_registry
from jupiter.controller.registry import AgentRegistry
from jupiter.controller.wave_home import WaveLedgerService, wave_routes
from jupiter.profiler.live import refreshed_profile
from jupiter.profiler.model import Profile

NOT_YET = "no profile yet: profiling has not finished"
NO_PROFILE = "no profile: this run maps from the app's declared estimates (--no-profile)"


class ProfileService:
    """The profile the mapper uses, once known (gathered, or --profile FILE); while None,
    GET /home/profile answers 404 with `reason`. `session` and `auth` are the home's client
    to the agents, for ?refresh=1."""

    def __init__(self) -> None:
        self.profile: Profile | None = None
        self.reason = NOT_YET
        self.session: aiohttp.ClientSession | None = None
        self.auth: dict[str, str] = {}


class HomeState:
    """What the home observes of a run, one concern each: the failure latch, the agents,
    the exit outputs and the profile it serves."""

    def __init__(
        self, run_id: str, exits: list[str], out_dir: Path, max_body_bytes: int = 8 * 1024**3
    ) -> None:
        self.run_id = run_id
        self.max_body_bytes = max_body_bytes
        self.latch = RunLatch()
        self.registry = AgentRegistry(self.latch)
        self.deliveries = Deliveries(list(exits), out_dir, self.latch)
        self.profiles = ProfileService()
        # The desired state as last pushed (None before dispatch), and who to call when an
        # agent beats with an older epoch (one that was stopped and came back).
        self.deployment: Deployment | None = None
        self.on_behind: Callable[[str], None] = lambda node: None
        # Final per-(task, input) records that agents sent home with their heartbeats.
        self.records: list[dict[str, Any]] = []
        # Inputs the stream injected so far (GET /metrics).
        self.inputs_injected = 0
        # Slowdowns set mid-run (POST /home/emulation, cluster.yaml events), passed to agents.
        self.conditions = ConditionControl(lambda: self.registry.urls)
        # The distributed WAVE's ledger while `--mapper wave-distributed` maps.
        self.wave = WaveLedgerService()
        self._done_below = 0

    def done_below(self) -> int:
        """The lowest input id not done yet: every input below it is (agents may then forget
        the mapping epochs only those inputs used)."""
        while self._done_below < self.inputs_injected and self.deliveries.done(self._done_below):
            self._done_below += 1
        return self._done_below

    @property
    def epoch(self) -> int:
        return -1 if self.deployment is None else self.deployment.epoch

    @property
    def agents(self) -> dict[str, str]:
        """node -> base URL of every registered agent."""
        return self.registry.urls


def home_routes(state: HomeState) -> list[web.RouteDef]:
    async def register(request: web.Request) -> web.Response:
        body = await read_body(request, Registration)
        if body.run_id != state.run_id:
            raise web.HTTPConflict(text="this agent belongs to another run")
        state.registry.register(body.node, body.url, body.pid)
        return answer(Registered())

    async def data(request: web.Request) -> web.Response:
        task = request.match_info["producer"]
        if task not in state.deliveries.exits:
            raise web.HTTPNotFound(text="not an exit task")
        input_id = parse_input_id(request.match_info["input_id"])
        staging = state.deliveries.staging(input_id, task)
        await receive_file(request, staging, state.max_body_bytes)
        state.deliveries.accept(input_id, task)
        return answer(Stored(), status=201)

    async def event(request: web.Request) -> web.Response:
        body = await read_body(request, FailureEvent)
        # --on-error skip: the failure ends its input, not the run.
        if not state.deliveries.fail(body.input_id, body):
            state.latch.fail(body.describe())
        return answer(Noted())

    async def heartbeat(request: web.Request) -> web.Response:
        beat = await read_body(request, Heartbeat)
        if not state.registry.beat(beat):
            raise web.HTTPNotFound(text="not an agent of this run")
        state.records.extend(record.model_dump() for record in beat.records)
        if beat.executing and beat.epoch < state.epoch:
            state.on_behind(beat.node)
        done = state.deliveries.done
        release = [input_id for input_id in beat.held if done(input_id)]
        answered = HeartbeatAnswer(
            epoch=state.epoch, release=release, done_below=state.done_below()
        )
        return answer(answered)

    async def profile(request: web.Request) -> web.Response:
        """The run's Profile as one JSON document (as `Profile.save` writes it).

        ?refresh=1: the same profile with every agent's current link fits and latest
        resource sample (profiler/live.py). The refreshed copy is only returned: the
        profile the mapper used, which report.json records and plain GETs serve, stays as it
        was, so that the run's decisions can always be explained from what it served.
        """
        served = state.profiles
        current = served.profile
        if current is None:
            raise web.HTTPNotFound(text=served.reason)
        if read_query(request, ProfileQuery).refresh:
            current = await refreshed_profile(
                current, dict(state.agents), served.session, served.auth
            )
        return web.Response(text=current.model_dump_json(indent=1), content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return answer(Health(node="home"))

    return [
        web.get(paths.HEALTH, health),
        web.post(paths.HOME_REGISTER, register),
        web.put(paths.CIRCE_DATA, data),
        web.post(paths.HOME_EVENT, event),
        web.post(paths.HOME_HEARTBEAT, heartbeat),
        web.get(paths.HOME_PROFILE, profile),
        metrics_route(with_process_metrics(home_registry(state))),
        *condition_routes(state.conditions),
        *wave_routes(state.wave),
    ]


@asynccontextmanager
async def home_server(
    state: HomeState,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsFiles | None = None,
) -> AsyncIterator[str]:
    """Serve the home endpoints (port 0: any free one; with `tls`, HTTPS that requires a
    client certificate of the run); yields the URL agents reach it at."""
    out_dir = state.deliveries.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    state.profiles.auth = state.profiles.auth or auth_headers(token)
    state.conditions.auth = auth_headers(token)
    context = tls.server_context() if tls is not None else None
    async with serving(home_routes(state), token, host, port, ssl_context=context) as (_, bound):
        yield f"{scheme(tls)}://{host}:{bound}"
    shutil.rmtree(out_dir / ".incoming", ignore_errors=True)
