"""One run, end to end: validate, deploy agents, map, dispatch, stream, report, tear down.

Teardown is the exit of one AsyncExitStack, so it happens on success, on a failed task, on an
exception and on Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from jupiter.agent.auth import auth_headers, new_token
from jupiter.app.spec import App, load_app
from jupiter.backends.local import LocalBackend
from jupiter.circe.executor import HOME
from jupiter.circe.transfer import send_file
from jupiter.cluster.emulator import LinkEmulator
from jupiter.cluster.spec import Cluster
from jupiter.controller.home import NO_PROFILE, HomeState, home_server
from jupiter.controller.phases import PhaseTimer
from jupiter.errors import RunError, SpecError
from jupiter.mapper.registry import get_mapper
from jupiter.mapper.schedule import Schedule
from jupiter.planning.problem import BuiltProblem, build_problem
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile


@dataclass
class RunOptions:
    app: Path
    cluster: Cluster
    mapper: str = "heft"
    inputs: int = 10
    out_dir: Path | None = None
    # Seconds between injections; 0 injects as fast as `max_in_flight` allows.
    interval: float = 0.0
    # Inputs in the DAG at once (None: no limit). 1 measures each input's makespan alone.
    max_in_flight: int | None = None
    timeout: float = 600.0
    keep_work_dir: bool = False
    # Where the home listens (port 0: any free port) and the URL agents reach it at (None:
    # http://{home_bind}:{port}). In a Kubernetes Job: 0.0.0.0, a fixed port, its Service.
    home_bind: str = "127.0.0.1"
    home_port: int = 0
    home_url: str | None = None
    # True: the agents are started elsewhere (Kubernetes pods) and only register here; the
    # home forks none, and stops them with /shutdown when the run ends.
    external_agents: bool = False
    # The run's identity when someone else chose it (the pods were given the same ones).
    run_id: str | None = None
    token: str | None = None
    # Seconds to wait for every agent to register (None: 60 + 0.5 per node).
    register_timeout: float | None = None
    # What the mapper works from: a fresh profile (default), a saved one (`profile`, read
    # from `profile_source`), or the app's declared estimates (`profiling=False`).
    profiling: bool = True
    profile: Profile | None = None
    profile_source: str | None = None
    profile_settings: ProfileSettings = field(default_factory=ProfileSettings)


@dataclass
class RunResult:
    run_id: str
    app: App
    cluster: Cluster
    schedule: Schedule
    figure_sources: dict[str, str]
    phases: dict[str, float]
    injected_at: dict[int, float]
    completed_at: dict[int, float]
    outputs: dict[int, dict[str, str]]
    duplicates: list[tuple[int, str]]
    stats: list[dict[str, Any]]
    out_dir: Path
    started_at: float = field(default_factory=time.time)
    profile: Profile | None = None

    @property
    def makespans(self) -> dict[int, float]:
        return {k: self.completed_at[k] - self.injected_at[k] for k in sorted(self.completed_at)}


class Progress:
    """What the run tells the user as it goes; the CLI draws bars, tests pass nothing."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...


async def run(options: RunOptions, progress: Progress | None = None) -> RunResult:
    progress = progress or Progress()
    if options.inputs < 1:
        raise SpecError(None, "--inputs", "must be at least 1")
    app = load_app(options.app)
    cluster = options.cluster
    built = build_problem(app, cluster)
    if options.profile is not None:
        # Checked before anything starts: a profile of another app or cluster is a user error.
        options.profile.check_matches(list(app.tasks), cluster.node_names, options.profile_source)
        built = build_problem(app, cluster, options.profile)
    mapper = get_mapper(options.mapper)

    token = options.token or new_token()
    run_id = options.run_id or secrets.token_hex(4)
    work_dir = Path(tempfile.mkdtemp(prefix=f"jupiter-{run_id}-"))
    out_dir = options.out_dir or work_dir / "out"
    state = HomeState(run_id=run_id, exits=list(app.exits), out_dir=out_dir)
    # GET /home/profile serves the profile the mapper uses from the moment it is known.
    state.profile = options.profile
    if options.profile is None and not options.profiling:
        state.no_profile = NO_PROFILE
    timer = PhaseTimer()
    stack = contextlib.AsyncExitStack()
    try:
        await stack.__aenter__()
        result = await _run_with(
            options,
            app,
            cluster,
            built,
            mapper,
            token,
            run_id,
            work_dir,
            state,
            timer,
            stack,
            progress,
        )
    finally:
        with timer.phase("teardown"):
            await stack.aclose()
            if not options.keep_work_dir:
                shutil.rmtree(work_dir, ignore_errors=True)
    result.phases = dict(timer.seconds)
    return result


async def _run_with(
    options: RunOptions,
    app: App,
    cluster: Cluster,
    built: BuiltProblem,
    mapper: Callable[[Any], Schedule],
    token: str,
    run_id: str,
    work_dir: Path,
    state: HomeState,
    timer: PhaseTimer,
    stack: contextlib.AsyncExitStack,
    progress: Progress,
) -> RunResult:
    auth = auth_headers(token)
    nodes = cluster.node_names
    with timer.phase("deploy"):
        bound_url = await stack.enter_async_context(
            home_server(state, token, options.home_bind, options.home_port)
        )
        home_url = options.home_url or bound_url
        session = await stack.enter_async_context(
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                connector=aiohttp.TCPConnector(limit=0),
            )
        )
        state.session = session
        if options.external_agents:
            # Registered below, before the session closes: stack exits run in reverse.
            stack.push_async_callback(_shutdown_agents, session, state, auth)
            progress.phase("deploy", len(nodes))
        else:
            backend = await stack.enter_async_context(LocalBackend(token, work_dir))
            backend.on_agent_exit(
                lambda node, code: state.fail(
                    f"agent {node} exited with code {code}"
                    + (f"; its log ends:\n{log}" if (log := backend.agent_log(node)) else "")
                )
            )
            progress.phase("deploy", len(nodes))
            await backend.start_all(app, cluster, run_id, home_url)
        register_timeout = options.register_timeout
        await state.wait_for(
            lambda: _advance(progress, len(state.agents)) >= len(nodes),
            timeout=60 + 0.5 * len(nodes) if register_timeout is None else register_timeout,
            what="agents to register",
        )

    profile = options.profile
    with timer.phase("profile"):
        if profile is None and options.profiling:
            profile = await gather_profile(
                session, dict(state.agents), app, cluster, auth, options.profile_settings, progress
            )
            state.profile = profile
            built = build_problem(app, cluster, profile)

    with timer.phase("map"):
        problem = built.problem
        schedule = mapper(problem)
        schedule.check(problem)

    with timer.phase("dispatch"):
        addresses = {**state.agents, HOME: home_url}
        deployment = {"mapping": schedule.mapping, "addresses": addresses}
        await asyncio.gather(
            *(_post(session, f"{state.agents[n]}/circe/deploy", deployment, auth) for n in nodes)
        )

    injected_at: dict[int, float] = {}
    with timer.phase("stream"):
        progress.phase("stream", options.inputs)
        for input_id in range(options.inputs):
            if options.max_in_flight is not None:
                await state.wait_for(
                    lambda: _in_flight(state, injected_at) < options.max_in_flight,  # type: ignore[operator]
                    timeout=options.timeout,
                    what=f"room to inject input {input_id}",
                )
            injected_at[input_id] = time.time()
            await asyncio.gather(
                *(
                    _inject(
                        session, app, state.agents[schedule.mapping[source]], source, input_id, auth
                    )
                    for source in app.sources
                )
            )
            progress.advance(sum(state.complete(k) for k in injected_at))
            if options.interval > 0 and input_id + 1 < options.inputs:
                await asyncio.sleep(options.interval)
        await state.wait_for(
            lambda: (
                _advance(progress, sum(state.complete(k) for k in injected_at)) >= options.inputs
            ),
            timeout=options.timeout,
            what="every input's exit outputs",
        )
        stats = await _gather_stats(session, state, auth)

    completed_at = {
        k: max(d.received_at for d in state.deliveries[k].values()) for k in injected_at
    }
    outputs = {
        k: {task: str(d.path) for task, d in state.deliveries[k].items()} for k in injected_at
    }
    return RunResult(
        run_id=run_id,
        app=app,
        cluster=cluster,
        schedule=schedule,
        figure_sources=built.sources,
        phases={},
        injected_at=injected_at,
        completed_at=completed_at,
        outputs=outputs,
        duplicates=list(state.duplicates),
        stats=stats,
        out_dir=state.out_dir,
        profile=profile,
    )


def _advance(progress: Progress, done: int) -> int:
    progress.advance(done)
    return done


async def _shutdown_agents(
    session: aiohttp.ClientSession, state: HomeState, auth: dict[str, str]
) -> None:
    """Ask every registered agent to exit; one that is already gone is no error."""

    async def one(url: str) -> None:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with session.post(
                f"{url}/shutdown", headers=auth, timeout=aiohttp.ClientTimeout(total=5)
            ):
                pass

    await asyncio.gather(*(one(url) for url in state.agents.values()))


def _in_flight(state: HomeState, injected_at: dict[int, float]) -> int:
    return sum(1 for k in injected_at if not state.complete(k))


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], auth: dict[str, str]
) -> None:
    async with session.post(url, json=body, headers=auth) as response:
        if response.status >= 300:
            raise RunError(f"{url}: HTTP {response.status}: {(await response.text())[:300]}")


async def _inject(
    session: aiohttp.ClientSession,
    app: App,
    agent_url: str,
    source: str,
    input_id: int,
    auth: dict[str, str],
) -> None:
    # The input originates on the source's node, so handing it over is not WAN traffic.
    path = app.input_for(source, input_id)
    url = f"{agent_url}/circe/inject/{input_id}/{source}"
    await send_file(session, url, path, LinkEmulator(None), auth)


async def _gather_stats(
    session: aiohttp.ClientSession, state: HomeState, auth: dict[str, str]
) -> list[dict[str, Any]]:
    async def one(url: str) -> list[dict[str, Any]]:
        async with session.get(f"{url}/circe/stats", headers=auth) as response:
            if response.status >= 300:
                raise RunError(f"{url}/circe/stats: HTTP {response.status}")
            return list((await response.json())["records"])

    per_node = await asyncio.gather(*(one(url) for url in state.agents.values()))
    return sorted(
        (record for records in per_node for record in records),
        key=lambda r: (r["input_id"], r["start"] or 0.0, r["task"]),
    )
