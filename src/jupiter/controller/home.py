"""The home's own server: agents register here, exit tasks deliver their outputs here, and
failures are reported here. It is the controller's view of observed state, and serves the
profile the run maps from (`GET /home/profile`)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from jupiter.agent.auth import auth_headers
from jupiter.agent.server import serving
from jupiter.api import paths
from jupiter.api.models import (
    FailureEvent,
    Health,
    Noted,
    ProfileQuery,
    Registered,
    Registration,
    Stored,
)
from jupiter.api.reading import answer, read_body, read_query
from jupiter.api.reading import input_id as parse_input_id
from jupiter.circe.transfer import receive_file
from jupiter.errors import RunError
from jupiter.profiler.live import refreshed_profile
from jupiter.profiler.model import Profile

NOT_YET = "no profile yet: profiling has not finished"
NO_PROFILE = "no profile: this run maps from the app's declared estimates (--no-profile)"


@dataclass
class Delivery:
    input_id: int
    task: str
    path: Path
    received_at: float


@dataclass
class HomeState:
    run_id: str
    exits: list[str]
    out_dir: Path
    max_body_bytes: int = 8 * 1024**3
    agents: dict[str, str] = field(default_factory=dict)  # node -> url
    agent_pids: dict[str, int] = field(default_factory=dict)
    deliveries: dict[int, dict[str, Delivery]] = field(default_factory=dict)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    failure: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # The profile the mapper uses, once known (gathered, or --profile FILE); while None,
    # GET /home/profile answers 404 with `no_profile`.
    profile: Profile | None = None
    no_profile: str = NOT_YET
    # The home's client to the agents (set by whoever opens it; the auth by home_server),
    # for GET /home/profile?refresh=1.
    session: aiohttp.ClientSession | None = None
    auth: dict[str, str] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
        self.changed.set()

    def complete(self, input_id: int) -> bool:
        return len(self.deliveries.get(input_id, {})) == len(self.exits)

    async def wait_for(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.failure is not None:
                raise RunError(self.failure)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1.0))
        if self.failure is not None:
            raise RunError(self.failure)


def home_routes(state: HomeState) -> list[web.RouteDef]:
    async def register(request: web.Request) -> web.Response:
        body = await read_body(request, Registration)
        if body.run_id != state.run_id:
            raise web.HTTPConflict(text="this agent belongs to another run")
        state.agents[body.node] = body.url
        state.agent_pids[body.node] = body.pid
        state.changed.set()
        return answer(Registered())

    async def data(request: web.Request) -> web.Response:
        task = request.match_info["producer"]
        if task not in state.exits:
            raise web.HTTPNotFound(text="not an exit task")
        input_id = parse_input_id(request.match_info["input_id"])
        staging = state.out_dir / ".incoming" / str(input_id) / task
        await receive_file(request, staging, state.max_body_bytes)
        received = state.deliveries.setdefault(input_id, {})
        if task in received:
            state.duplicates.append((input_id, task))
            staging.unlink()
        else:
            final = state.out_dir / str(input_id) / task
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staging, final)
            received[task] = Delivery(input_id, task, final, time.time())
        state.changed.set()
        return answer(Stored(), status=201)

    async def event(request: web.Request) -> web.Response:
        body = await read_body(request, FailureEvent)
        state.fail(body.describe())
        return answer(Noted())

    async def profile(request: web.Request) -> web.Response:
        """The run's Profile as one JSON document (as `Profile.save` writes it).

        ?refresh=1: the same profile with every agent's current link fits and latest
        resource sample (profiler/live.py). The refreshed copy is only returned: the
        profile the mapper used, which report.json records and plain GETs serve, stays as it
        was, so that the run's decisions can always be explained from what it served.
        """
        current = state.profile
        if current is None:
            raise web.HTTPNotFound(text=state.no_profile)
        if read_query(request, ProfileQuery).refresh:
            current = await refreshed_profile(
                current, dict(state.agents), state.session, state.auth
            )
        return web.Response(text=current.model_dump_json(indent=1), content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return answer(Health(node="home"))

    return [
        web.get(paths.HEALTH, health),
        web.post(paths.HOME_REGISTER, register),
        web.put(paths.CIRCE_DATA, data),
        web.post(paths.HOME_EVENT, event),
        web.get(paths.HOME_PROFILE, profile),
    ]


@asynccontextmanager
async def home_server(
    state: HomeState, token: str, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve the home endpoints (port 0: any free one); yields the URL agents reach it at."""
    state.out_dir.mkdir(parents=True, exist_ok=True)
    state.auth = state.auth or auth_headers(token)
    async with serving(home_routes(state), token, host, port) as (_, bound):
        yield f"http://{host}:{bound}"
    shutil.rmtree(state.out_dir / ".incoming", ignore_errors=True)
