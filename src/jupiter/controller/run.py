"""One run, end to end: validate, deploy agents, profile, map, dispatch, stream, report, tear
down. Each phase is a function over one `RunContext`; where the agents run is the backend's
business (controller/backend.py).

Teardown is the exit of one AsyncExitStack (`deployed_agents`), so it happens on success, on
a failed task, on an exception and on Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from jupiter.agent.auth import auth_headers, new_token
from jupiter.api import paths
from jupiter.api.client import AgentClient, CallFailed
from jupiter.api.models import Deployment
from jupiter.api.tasklogs import TaskLog
from jupiter.api.tls import RunTls, TlsFiles, url_host
from jupiter.app.document import parse_limits
from jupiter.app.spec import App, load_app
from jupiter.background import background
from jupiter.circe.executor import HOME
from jupiter.circe.transfer import TransferError, send_file
from jupiter.cluster.emulator import LinkEmulator
from jupiter.cluster.spec import Cluster
from jupiter.controller.backend import AgentLaunch, Backend
from jupiter.controller.conditions import AppliedChange, apply_schedule
from jupiter.controller.deliveries import FailedInput, OnError
from jupiter.controller.executors import ExecutorRoles, RoleStart
from jupiter.controller.home import NO_PROFILE, HomeState, home_server
from jupiter.controller.host_costs import measure_host_costs
from jupiter.controller.phases import PhaseTimer
from jupiter.controller.recovery import EpochChange, Recovery
from jupiter.controller.registry import (
    HEARTBEAT_TIMEOUT_S,
    Lost,
    heartbeat_interval,
    heartbeat_timeout,
)
from jupiter.controller.run_file import RunFile, published
from jupiter.controller.task_controller import TaskController
from jupiter.controller.tasklogs import gather_task_logs
from jupiter.controller.watchdog import watch_heartbeats
from jupiter.controller.wave_home import NAME as WAVE_DISTRIBUTED
from jupiter.controller.wave_home import WaveOutcome, distributed_wave
from jupiter.controller.workdirs import make_work_dir, remove_stale_work_dirs
from jupiter.errors import RunError, SpecError
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.registry import Mapper, get_mapper
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.stream_sim import (
    HostCosts,
    StreamParameters,
    StreamPrediction,
    predict_stream,
)
from jupiter.planning.cpu_demand import (
    CpuDemand,
    choose_dilation,
    cores_busy_elsewhere,
    estimate_cpu_demand,
)
from jupiter.planning.host_requests import request_seconds
from jupiter.planning.problem import BuiltProblem, build_problem
from jupiter.planning.settings import (
    ControllerSettings,
    ExecutionModel,
    check_available,
    with_parameters,
)
from jupiter.profiler.cache import CacheMode
from jupiter.profiler.home import ProfileSettings, shared_host_cores
from jupiter.profiler.model import Profile
from jupiter.profiler.refine import RuntimeFigures, from_profile
from jupiter.profiler.reuse import (
    ProfileReuse,
    obtain_profile,
    profile_origin,
    start_refresh,
    store_refresh,
)
from jupiter.progress import NoProgress, Progress

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    app: Path
    cluster: Cluster
    # Where the agents run (jupiter.backends: local, hosts, kubernetes).
    backend: Backend
    mapper: str = "heft"
    inputs: int = 10
    out_dir: Path | None = None
    # Seconds between injections; 0 injects as fast as `max_in_flight` allows.
    interval: float = 0.0
    # Inputs in the DAG at once (None: no limit). 1 measures each input's makespan alone.
    max_in_flight: int | None = None
    timeout: float = 600.0
    keep_work_dir: bool = False
    # Where the home listens (None: where the backend's agents can reach it; port 0: any
    # free port) and the URL agents reach it at (None: http://{home_bind}:{port}). In a
    # Kubernetes Job: 0.0.0.0, a fixed port, its Service.
    home_bind: str | None = None
    home_port: int = 0
    home_url: str | None = None
    # Mutual TLS between home and agents (api/tls.py): True makes a CA for the run; the
    # home's own files when they were issued beforehand (a Kubernetes Job's Secret).
    tls: bool | TlsFiles = False
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
    # The profile cache (profiler/cache.py) when profiling: auto, cached, fresh or off.
    # `jupiter run` says auto; off here, so that a program writes no cache unless asked.
    profile_cache: CacheMode = "off"
    # The agents' log level, and where their logs are copied when the run fails (None: not).
    log_level: str = "warning"
    logs_dir: Path | None = None
    # stop: the first task failure fails the run; skip: it fails that input only.
    on_error: OnError = "stop"
    # --task-timeout and --retries: replace app.yaml's `defaults:` (a task's own value wins).
    task_timeout: float | None = None
    retries: int | None = None
    # Back-pressure: injection waits while a live agent has more than this many tasks
    # ready plus sends queued, or holds more than this many bytes (NiFi's model).
    backpressure_queue: int = 64
    backpressure_bytes: int = 2 * 1024**3
    # Re-map around agents lost while streaming (controller/recovery.py); off: a loss fails
    # the run. Before the stream, a loss always fails the run.
    recovery: bool = True
    # Seconds without a heartbeat after which an agent is lost (agents beat every 0.5 s).
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S
    # Called with the run's context when the stream starts, as a task that is cancelled
    # when it ends: for benchmarks and tests that watch or disturb a run from inside.
    on_stream: Callable[[RunContext], Awaitable[None]] | None = None
    # Time dilation (docs/emulation.md): the emulated clock runs K times slower than the
    # host's; "auto" picks K from the mapping's CPU demand and this host's cores. Emulation
    # only. With K > 1, `interval` and `timeout` are emulated seconds (K times as long here).
    time_dilation: float | Literal["auto"] = 1.0
    # Host cores other work kept busy when the run began: sampled by `auto` (which fits the
    # demand into the rest) before anything starts; 0 when not sampled.
    busy_elsewhere: float = 0.0
    # Where the run publishes its home's URL, id and token while it runs, for `jupiter
    # emulate` (controller/run_file.py); None: nowhere.
    control_file: Path | None = None
    # The mapper's own keyword parameters (jupiter.yaml `mapper: parameters:`).
    mapper_parameters: dict[str, Any] = field(default_factory=dict)
    # The task controller and the execution model (jupiter.yaml); planning/settings.py.
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    execution_model: ExecutionModel = "all"


RunStatus = Literal["completed", "failed", "interrupted"]


@dataclass
class RunResult:
    run_id: str
    app: App
    cluster: Cluster
    # None only in the result of a run that failed before mapping.
    schedule: Schedule | None
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
    backend: str = "local"
    # Inputs that failed under --on-error skip (and their outputs that did arrive are in
    # `outputs`); a failed or interrupted run says why in `error`.
    failed: list[FailedInput] = field(default_factory=list)
    status: RunStatus = "completed"
    error: str | None = None
    # Every re-mapping around a lost agent, in order.
    recovery: list[EpochChange] = field(default_factory=list)
    # The stream on the first mapping with the run's parameters, on the host's clock (None
    # before mapping); report/prediction.py sets it beside what was measured.
    stream_prediction: StreamPrediction | None = None
    # The emulation's estimated CPU demand on this host (emulated runs that got to mapping).
    cpu_demand: CpuDemand | None = None
    # What each task run printed, fetched from the live agents at the end (--report DIR/logs/).
    task_logs: list[TaskLog] = field(default_factory=list)
    # Changes of emulated conditions applied during the run (controller/conditions.py).
    conditions: list[AppliedChange] = field(default_factory=list)
    # The distributed WAVE's decisions and messages (--mapper wave-distributed).
    wave: WaveOutcome | None = None
    # The execution profile's figures refined by the run's task records (profiler/refine.py);
    # None without an execution profile.
    figures: RuntimeFigures | None = None
    # The execution model, and (mapped) every executor the home started.
    execution_model: ExecutionModel = "all"
    executors_started: list[RoleStart] = field(default_factory=list)
    # Whether the stream ran to its end (the executors' section is then known).
    stream_done: bool = False

    @property
    def makespans(self) -> dict[int, float]:
        return {k: self.completed_at[k] - self.injected_at[k] for k in sorted(self.completed_at)}


def partial_result(error: BaseException) -> RunResult | None:
    """What a run that raised `error` had observed (see `run`), if it got that far."""
    result = getattr(error, "partial_result", None)
    return result if isinstance(result, RunResult) else None


@dataclass
class RunContext:
    """What every phase of one run shares; made by `deployed_agents`, gone with it."""

    run_id: str
    token: str
    app: App
    cluster: Cluster
    backend: Backend
    work_dir: Path
    state: HomeState
    timer: PhaseTimer
    progress: Progress
    session: aiohttp.ClientSession
    home_url: str
    # Set while the stream runs with recovery on: where a lost agent is handled then.
    recovery: Recovery | None = None
    changes: list[EpochChange] = field(default_factory=list)
    # Seconds injection waited on back-pressure.
    backpressure_s: float = 0.0
    # Where a gathered or cached profile came from (None: given, or no profiling).
    profile_reuse: ProfileReuse | None = None
    # The run's mutual TLS (None: plain HTTP).
    tls: RunTls | None = None
    # Which agents run an executor (the execution model; controller/executors.py).
    executors: ExecutorRoles | None = None

    def lost(self, lost: Lost) -> None:
        """An agent is gone: re-mapped around while streaming, else the run fails."""
        if self.recovery is not None:
            self.recovery.lost(lost)
        else:
            self.state.latch.fail(f"agent {lost.node} {lost.reason}")

    @property
    def auth(self) -> dict[str, str]:
        return auth_headers(self.token)

    def agents(self) -> AgentClient:
        """A typed client to every agent registered so far."""
        return AgentClient(self.session, dict(self.state.agents), self.auth)


@contextlib.asynccontextmanager
async def deployed_agents(
    app: App,
    cluster: Cluster,
    backend: Backend,
    *,
    run_id: str | None = None,
    token: str | None = None,
    out_dir: Path | None = None,
    home_bind: str | None = None,
    home_port: int = 0,
    home_url: str | None = None,
    register_timeout: float | None = None,
    keep_work_dir: bool = False,
    timer: PhaseTimer | None = None,
    progress: Progress | None = None,
    log_level: str = "warning",
    logs_dir: Path | None = None,
    profile: Profile | None = None,
    profiling: bool = True,
    heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S,
    tls: bool | TlsFiles = False,
) -> AsyncIterator[RunContext]:
    """The deploy phase: the home serving, one registered agent per node; on exit, teardown.

    Shared by `run` and by everything else that needs a run's agents (`jupiter profile`).
    When anything fails, the agents' logs are first copied into `logs_dir` (if given).
    """
    timer = timer or PhaseTimer()
    progress = progress or NoProgress()
    token = token or new_token()
    run_id = run_id or secrets.token_hex(4)
    remove_stale_work_dirs()
    work_dir = make_work_dir(run_id)
    state = HomeState(run_id=run_id, exits=list(app.exits), out_dir=out_dir or work_dir / "out")
    interval = heartbeat_interval(len(cluster.nodes))
    state.registry.timeout = heartbeat_timeout(len(cluster.nodes), heartbeat_timeout_s)
    # GET /home/profile serves the profile the mapper uses from the moment it is known.
    state.profiles.profile = profile
    if profile is None and not profiling:
        state.profiles.reason = NO_PROFILE
    stack = contextlib.AsyncExitStack()
    try:
        with timer.phase("deploy"):
            bind = home_bind if home_bind is not None else backend.home_host(cluster)
            run_tls = run_tls_for(tls, run_id, work_dir, [bind, url_host(home_url or "")])
            home_tls = run_tls.home if run_tls is not None else None
            bound_url = await stack.enter_async_context(
                home_server(state, token, bind, home_port, home_tls)
            )
            session = await stack.enter_async_context(
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                    connector=aiohttp.TCPConnector(
                        limit=0, ssl=home_tls.client_context() if home_tls is not None else True
                    ),
                )
            )
            state.profiles.session = session
            state.conditions.session = session
            context = RunContext(
                run_id=run_id,
                token=token,
                app=app,
                cluster=cluster,
                backend=backend,
                work_dir=work_dir,
                state=state,
                timer=timer,
                progress=progress,
                session=session,
                home_url=home_url or bound_url,
                tls=run_tls,
            )
            # Pushed before starting, so that a start that fails half-way still stops what
            # it started, and after the session, so that stopping may still use it.
            stack.push_async_callback(backend.stop)
            watchdog = background(
                watch_heartbeats(state.registry, context.lost), "the heartbeat watchdog"
            )
            stack.callback(watchdog.cancel)
            progress.phase("deploy", len(cluster.nodes))
            await backend.start(
                AgentLaunch(
                    run_id=run_id,
                    token=token,
                    home_url=context.home_url,
                    app=app,
                    cluster=cluster,
                    work_dir=work_dir,
                    session=session,
                    registered=lambda: dict(state.agents),
                    on_lost=lambda node, reason: _lost(context, node, reason),
                    log_level=log_level,
                    heartbeat_interval=interval,
                    tls=run_tls,
                )
            )
            await state.latch.wait_for(
                lambda: _advance(progress, len(state.agents)) >= len(cluster.nodes),
                timeout=60 + 0.5 * len(cluster.nodes)
                if register_timeout is None
                else register_timeout,
                what="agents to register",
            )
        log.info("%d agents registered (%s backend)", len(state.agents), backend.name)
        yield context
    except BaseException:
        if logs_dir is not None:
            _save_logs(backend, logs_dir)
        raise
    finally:
        with timer.phase("teardown"):
            await stack.aclose()
            if not keep_work_dir:
                shutil.rmtree(work_dir, ignore_errors=True)


def run_tls_for(
    tls: bool | TlsFiles, run_id: str, work_dir: Path, home_hosts: list[str]
) -> RunTls | None:
    """The run's TLS: none, a new CA and home certificate (in the home's private work dir),
    or the home's files issued beforehand."""
    if isinstance(tls, TlsFiles):
        return RunTls(home=tls, ca=None)
    if not tls:
        return None
    return RunTls.new(run_id, work_dir / "tls", home_hosts)


async def run(options: RunOptions, progress: Progress | None = None) -> RunResult:
    progress = progress or NoProgress()
    options, app, mapper, built = prepare_run(options)
    timer = PhaseTimer()
    # What the phases got to, for the partial result of a run that fails or is interrupted.
    seen = _Observed(built=built)
    try:
        result = await _run_phases(options, progress, app, mapper, timer, seen)
    except BaseException as error:
        partial = seen.result
        if partial is not None:
            interrupted = isinstance(error, (asyncio.CancelledError, KeyboardInterrupt))
            partial.status = "interrupted" if interrupted else "failed"
            partial.error = _one_line(error)
            partial.phases = dict(timer.seconds)
            # On the exception itself: it is what reaches the caller, whatever it is.
            error.partial_result = partial  # type: ignore[attr-defined]
        raise
    result.phases = dict(timer.seconds)
    return result


def prepare_run(options: RunOptions) -> tuple[RunOptions, App, Mapper, BuiltProblem]:
    """Everything checked and built before an agent starts (also `jupiter run --dry-run`):
    the options (dilated), the app, the mapper with its parameters, the problem from the
    given profile or the app's estimates."""
    if options.inputs < 1:
        raise SpecError(None, "--inputs", "must be at least 1")
    if options.cluster.events and not options.cluster.emulate:
        raise SpecError(None, "events", "changing conditions needs emulation (not --no-emulation)")
    check_available(options.controller, options.execution_model)
    app = load_app(options.app, parse_limits(options.task_timeout, options.retries))
    cluster = options.cluster
    built = build_problem(app, cluster)
    if options.profile is not None:
        # Checked before anything starts: a profile of another app or cluster is a user error.
        options.profile.check_matches(list(app.tasks), cluster.node_names, options.profile_source)
        built = build_problem(app, cluster, options.profile)
    mapper = with_parameters(get_mapper(options.mapper), options.mapper, options.mapper_parameters)
    if options.time_dilation != 1.0:
        options, built = _dilated(options, app, mapper, built)
    return options, app, mapper, built


def _dilated(
    options: RunOptions, app: App, mapper: Mapper, built: BuiltProblem
) -> tuple[RunOptions, BuiltProblem]:
    """The run's options and problem with its time dilation applied to the cluster (and to
    the stream's timeout, an emulated duration): every figure is then on the host's clock,
    and the report divides them back (report/dilation.py)."""
    if not options.cluster.emulate:
        raise SpecError(None, "--time-dilation", "only with emulation (not with emulate: false)")
    host_per_input = 0.0
    if options.time_dilation == "auto":
        options = dataclasses.replace(options, busy_elsewhere=cores_busy_elsewhere())
        # Handing an input over and its outputs home: two requests.
        host_per_input = 2 * request_seconds(app.input_for(next(iter(app.sources)), 0))
    factor = choose_dilation(
        options.time_dilation,
        built.problem,
        mapper,
        options.cluster,
        options.interval,
        options.max_in_flight,
        options.busy_elsewhere,
        host_per_input,
    )
    log.info("time dilation %g: the emulated clock runs that much slower than the host's", factor)
    cluster = options.cluster.dilated(factor)
    options = dataclasses.replace(
        options, cluster=cluster, time_dilation=factor, timeout=options.timeout * factor
    )
    return options, build_problem(app, cluster, options.profile)


@dataclass
class _Observed:
    built: BuiltProblem
    schedule: Schedule | None = None
    profile: Profile | None = None
    injected_at: dict[int, float] = field(default_factory=dict)
    result: RunResult | None = None
    stream_prediction: StreamPrediction | None = None
    cpu_demand: CpuDemand | None = None
    wave: WaveOutcome | None = None
    figures: RuntimeFigures | None = None


async def _run_phases(
    options: RunOptions,
    progress: Progress,
    app: App,
    mapper: Any,
    timer: PhaseTimer,
    seen: _Observed,
) -> RunResult:
    cluster = options.cluster
    built = seen.built
    async with (
        deployed_agents(
            app,
            cluster,
            options.backend,
            run_id=options.run_id,
            token=options.token,
            out_dir=options.out_dir,
            home_bind=options.home_bind,
            home_port=options.home_port,
            home_url=options.home_url,
            register_timeout=options.register_timeout,
            keep_work_dir=options.keep_work_dir,
            timer=timer,
            progress=progress,
            log_level=options.log_level,
            logs_dir=options.logs_dir,
            profile=options.profile,
            profiling=options.profiling,
            heartbeat_timeout_s=options.heartbeat_timeout,
            tls=options.tls,
        ) as context,
        _published(options, context),
    ):
        try:
            with timer.phase("profile"):
                profile = seen.profile = await profile_phase(context, options, built)
            if profile is not options.profile:
                built = seen.built = build_problem(app, cluster, profile)
            if profile is not None:
                built.sources["profile"] = profile_origin(profile, options.profile_source)
            # Seeded with the problem's figures: the profile's, on this run's host clock.
            seen.figures = from_profile(
                profile, built.problem.compute, options.controller.active.ewma_alpha
            )
            with timer.phase("map"):
                if options.mapper == WAVE_DISTRIBUTED:
                    # The agents' mapper roles decide; the home keeps the ledger.
                    seen.wave = await distributed_wave(
                        context.state.wave,
                        context.agents(),
                        context.state.latch,
                        built.problem,
                        peer_links=bool(options.mapper_parameters.get("peer_links", False)),
                    )
                    schedule = seen.wave.schedule
                else:
                    schedule = mapper(built.problem)
                schedule.check(built.problem)
                seen.schedule = schedule
            host_costs = await _host_costs(context, schedule)
            seen.stream_prediction = predict_run_stream(
                options, app, built.problem, schedule, host_costs
            )
            if cluster.emulate:
                seen.cpu_demand = estimate_cpu_demand(
                    schedule,
                    cluster,
                    options.interval,
                    options.max_in_flight,
                    busy_elsewhere=options.busy_elsewhere,
                    host_per_input=host_costs.inject + host_costs.deliver,
                )
            context.executors = ExecutorRoles(options.execution_model, context.agents)
            with timer.phase("dispatch"):
                await dispatch_phase(context, schedule)
            with timer.phase("stream"):
                injected_at = await stream_phase(
                    context,
                    options,
                    schedule,
                    seen.injected_at,
                    built.problem,
                    mapper,
                    seen.figures,
                )
                stats = await gather_stats(context)
            task_logs = await gather_task_logs(context.session, _alive(context), context.auth)
            # Model `mapped`: executors stop after the stream, once their records are home.
            await context.executors.stop(_alive(context))
        except BaseException:
            # Before teardown, while the agents may still answer for their records.
            seen.result = await _partial(context, seen)
            raise
        result = collect_result(context, built, schedule, injected_at, stats)
        result.profile = profile
        result.figures = _learned(seen.figures, stats)
        if context.profile_reuse is not None:
            await store_refresh(
                context.profile_reuse, context.session, dict(context.state.agents), context.auth
            )
        result.stream_prediction = seen.stream_prediction
        result.cpu_demand = seen.cpu_demand
        result.task_logs = task_logs
        result.wave = seen.wave
        result.execution_model = options.execution_model
        result.executors_started = list(context.executors.started)
        result.stream_done = True
    return result


@contextlib.asynccontextmanager
async def _published(options: RunOptions, context: RunContext) -> AsyncIterator[None]:
    """The run file (`options.control_file`), present while the agents are up."""
    if options.control_file is None:
        yield
        return
    run_file = RunFile(
        home_url=context.home_url,
        run_id=context.run_id,
        token=context.token,
        pid=os.getpid(),
        tls=context.tls.home if context.tls is not None else None,
    )
    with published(options.control_file, run_file):
        yield


async def _partial(context: RunContext, seen: _Observed) -> RunResult:
    stats: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(PARTIAL_STATS_TIMEOUT_S):
            stats = await gather_stats(context)
    except (CallFailed, TimeoutError) as error:
        # A lost or hung agent is often why the run failed; its records are then lost too.
        log.warning("the failed run's report has no task records: %s", error)
    result = collect_result(context, seen.built, seen.schedule, seen.injected_at, stats)
    # What the tasks printed is often why the run failed.
    result.task_logs = await gather_task_logs(
        context.session, _alive(context), context.auth, PARTIAL_STATS_TIMEOUT_S
    )
    result.profile = seen.profile
    result.figures = _learned(seen.figures, stats)
    result.stream_prediction = seen.stream_prediction
    result.cpu_demand = seen.cpu_demand
    result.wave = seen.wave
    return result


def _learned(figures: RuntimeFigures | None, stats: list[dict[str, Any]]) -> RuntimeFigures | None:
    """The run's figures with every record gathered at the end learned as well (the task
    controller, when there is one, learned those it saw during the stream)."""
    if figures is not None:
        figures.learn(stats)
    return figures


# Seconds a failed run waits for the agents' records before writing its report without them.
PARTIAL_STATS_TIMEOUT_S = 5.0


def _one_line(error: BaseException) -> str:
    if isinstance(error, (asyncio.CancelledError, KeyboardInterrupt)):
        return "interrupted"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def predict_run_stream(
    options: RunOptions,
    app: App,
    problem: SchedulingProblem,
    schedule: Schedule,
    host_costs: HostCosts | None = None,
) -> StreamPrediction:
    """The stream this run is about to inject, simulated on the mapping (mapper/stream_sim.py):
    on the host's clock, like the problem (a dilated run sleeps K times its interval), with
    what the home's own requests cost on this host (`host_costs`, measured: not dilated)."""
    parameters = StreamParameters(
        inputs=options.inputs,
        interval=options.interval * options.cluster.dilation,
        max_in_flight=options.max_in_flight,
        host=host_costs if host_costs is not None else HostCosts(),
    )
    cluster = options.cluster
    nics = {node: cluster.nic(node) for node in cluster.node_names} if cluster.emulate else None
    return predict_stream(
        problem,
        schedule.mapping,
        parameters,
        sources=list(app.sources),
        exits=list(app.exits),
        nics=nics,
    )


async def profile_phase(
    context: RunContext, options: RunOptions, built: BuiltProblem
) -> Profile | None:
    """The profile the mapper works from: the given one, a cached or a fresh one
    (profiler/reuse.py), or none (estimates)."""
    if options.profile is not None or not options.profiling:
        return options.profile
    urls = dict(context.state.agents)
    settings = options.profile_settings
    if context.backend.name == "local" and settings.shared_cores is None:
        # Every agent runs here: probing is paced to the cores they leave idle.
        cores = await asyncio.to_thread(shared_host_cores)
        settings = dataclasses.replace(settings, shared_cores=cores)
    reuse = context.profile_reuse = await obtain_profile(
        context.session,
        urls,
        context.app,
        context.cluster,
        context.auth,
        settings,
        options.profile_cache,
        context.progress,
    )
    await start_refresh(reuse, context.session, urls, context.cluster, context.auth, settings)
    context.state.profiles.profile = reuse.profile
    return reuse.profile


async def _host_costs(context: RunContext, schedule: Schedule) -> HostCosts:
    """What the home's requests cost, timed to the node that takes the first input."""
    source = next(iter(context.app.sources))
    url = context.state.agents.get(schedule.mapping[source])
    if url is None:
        return HostCosts()
    sample = context.app.input_for(source, 0)
    return await measure_host_costs(context.session, url, sample, context.auth)


async def dispatch_phase(context: RunContext, schedule: Schedule) -> None:
    """Push the mapping (the desired state) and every address to every agent."""
    agents = context.agents()
    deployment = Deployment(
        mapping=schedule.mapping, addresses={**agents.urls, HOME: context.home_url}
    )
    roles = context.executors
    nodes = context.cluster.node_names
    if roles is not None:
        await roles.dispatch(schedule.mapping, nodes)
        nodes = roles.targets(nodes)
    context.state.deployment = deployment
    await asyncio.gather(*(agents.deploy(node, deployment) for node in nodes))


async def stream_phase(
    context: RunContext,
    options: RunOptions,
    schedule: Schedule,
    injected_at: dict[int, float] | None = None,
    problem: SchedulingProblem | None = None,
    mapper: Mapper | None = None,
    figures: RuntimeFigures | None = None,
) -> dict[int, float]:
    """Inject every input at its sources' nodes and wait until each is done (every exit
    output arrived, or, with --on-error skip, it failed); returns when each input was
    injected, filling `injected_at` as it goes.

    With `options.recovery` (and the `problem` and `mapper` the schedule came from), an
    agent lost meanwhile is re-mapped around (controller/recovery.py)."""
    injected_at = {} if injected_at is None else injected_at
    recovery = None
    if options.recovery and problem is not None and mapper is not None:
        recovery = Recovery(
            context.state,
            context.app,
            problem,
            mapper,
            context.agents,
            context.home_url,
            lambda source, input_id: _inject(context, source, input_id),
            lambda: list(injected_at),
            roles=context.executors,
        )
    async with contextlib.AsyncExitStack() as stack:
        if recovery is not None:
            context.recovery = recovery
            context.state.on_behind = recovery.behind
            stack.callback(setattr, context, "recovery", None)
            task = background(recovery.run(), "recovery")
            stack.callback(task.cancel)
            if options.controller.mode != "none" and problem is not None and mapper is not None:
                controller = TaskController(
                    options.controller,
                    context.state,
                    problem,
                    mapper,
                    recovery,
                    injected_at,
                    schedule.makespan,
                    figures=figures,
                )
                steering = background(controller.run(), "the task controller")
                stack.callback(steering.cancel)
            stack.callback(context.changes.extend, recovery.changes)
        if options.on_stream is not None:
            observer = background(options.on_stream(context), "the stream's observer")
            stack.callback(observer.cancel)
        conditions = context.state.conditions
        conditions.stream_started = time.time()
        if context.cluster.events:
            schedule_task = background(
                apply_schedule(
                    conditions,
                    context.cluster.events,
                    context.cluster.dilation,
                    context.state.latch,
                ),
                "the cluster's events",
            )
            stack.callback(schedule_task.cancel)
        await _stream(context, options, injected_at)
    return injected_at


async def _stream(context: RunContext, options: RunOptions, injected_at: dict[int, float]) -> None:
    state, app, progress = context.state, context.app, context.progress
    state.deliveries.on_error = options.on_error
    progress.phase("stream", options.inputs)
    for input_id in range(options.inputs):
        if options.max_in_flight is not None:
            await state.latch.wait_for(
                lambda: _in_flight(state, injected_at) < options.max_in_flight,  # type: ignore[operator]
                timeout=options.timeout,
                what=f"room to inject input {input_id}",
            )
        await _wait_for_room(context, options, input_id)
        if context.recovery is not None:
            # Last before injecting: a mapping switch from this input on must be in place.
            await context.recovery.at_boundary(input_id)
        injected_at[input_id] = time.time()
        await asyncio.gather(*(_inject(context, source, input_id) for source in app.sources))
        state.inputs_injected += 1
        progress.advance(sum(state.deliveries.done(k) for k in injected_at))
        if options.interval > 0 and input_id + 1 < options.inputs:
            # An emulated wait: K times as long on the host under time dilation K.
            await asyncio.sleep(options.interval * context.cluster.dilation)
    await state.latch.wait_for(
        lambda: (
            _advance(progress, sum(state.deliveries.done(k) for k in injected_at)) >= options.inputs
        ),
        timeout=options.timeout,
        what="every input's exit outputs",
    )


def collect_result(
    context: RunContext,
    built: BuiltProblem,
    schedule: Schedule | None,
    injected_at: dict[int, float],
    stats: list[dict[str, Any]],
) -> RunResult:
    """The run as the home saw it: complete, or (from a failed run) as far as it got."""
    deliveries = context.state.deliveries
    succeeded = [k for k in injected_at if deliveries.succeeded(k)]
    completed_at = {k: deliveries.completed_at(k) for k in succeeded}
    # A failed input's outputs that did arrive are kept in --out, and listed.
    outputs = {k: deliveries.outputs(k) for k in injected_at if deliveries.outputs(k)}
    failed = [deliveries.failed[k] for k in sorted(deliveries.failed)]
    return RunResult(
        run_id=context.run_id,
        app=context.app,
        cluster=context.cluster,
        schedule=schedule,
        figure_sources=built.sources,
        phases={},
        injected_at=injected_at,
        completed_at=completed_at,
        outputs=outputs,
        duplicates=list(deliveries.duplicates),
        stats=stats,
        out_dir=deliveries.out_dir,
        backend=context.backend.name,
        failed=failed,
        status="failed" if failed else "completed",
        error=f"{len(failed)} of {len(injected_at)} inputs failed" if failed else None,
        recovery=list(context.changes),
        conditions=list(context.state.conditions.applied),
    )


async def gather_stats(context: RunContext) -> list[dict[str, Any]]:
    """Every per-(task, input) record, on one timeline: those the agents sent home with their
    heartbeats (released inputs) and those the live agents still hold. A lost agent's
    unsent records are lost with it."""
    registry = context.state.registry
    agents = AgentClient(
        context.session, {n: registry.urls[n] for n in registry.alive()}, context.auth
    )
    per_node = await asyncio.gather(*(agents.stats(node) for node in agents.urls))
    held = [record.model_dump() for stats in per_node for record in stats.records]
    # A record can come both ways (a heartbeat in flight while the stats were read); a node
    # runs a task for an input once, so (task, input, node) names it.
    unique = {(r["task"], r["input_id"], r["node"]): r for r in [*context.state.records, *held]}
    return sorted(
        unique.values(), key=lambda r: (r["input_id"], r["start"] or 0.0, r["task"], r["node"])
    )


def _alive(context: RunContext) -> dict[str, str]:
    registry = context.state.registry
    return {node: registry.urls[node] for node in registry.alive()}


def _save_logs(backend: Backend, logs_dir: Path) -> None:
    try:
        saved = backend.save_logs(logs_dir)
    except OSError as error:
        log.error("could not save the agents' logs into %s: %s", logs_dir, error)
        return
    if saved:
        log.warning("the run failed: %d agent logs saved in %s", len(saved), logs_dir)


def _advance(progress: Progress, done: int) -> int:
    progress.advance(done)
    return done


def _in_flight(state: HomeState, injected_at: dict[int, float]) -> int:
    return sum(1 for k in injected_at if not state.deliveries.done(k))


async def _wait_for_room(context: RunContext, options: RunOptions, input_id: int) -> None:
    """Back-pressure: hold the next input while an agent is over its queue or disk limit."""
    registry = context.state.registry
    limits = (options.backpressure_queue, options.backpressure_bytes)
    pressing = registry.pressing(*limits)
    if pressing is None:
        return
    node, why = pressing
    log.info("input %d waits: agent %s has %s", input_id, node, why)
    began = time.monotonic()
    await context.state.latch.wait_for(
        lambda: registry.pressing(*limits) is None,
        timeout=options.timeout,
        what=f"agent {node} to drain ({why})",
    )
    context.backpressure_s += time.monotonic() - began


def _lost(context: RunContext, node: str, reason: str) -> None:
    found = context.state.registry.mark_lost(node, reason)
    if found is not None:
        context.lost(found)


async def _inject(context: RunContext, source: str, input_id: int) -> None:
    """Hand input `input_id` to `source` at the node the current mapping gives it.

    The input originates on the source's node, so handing it over is not WAN traffic. If that
    node does not take it, the node is lost or about to be: recovery then injects the input
    again where the source moves, and this attempt ends quietly."""
    state = context.state
    assert state.deployment is not None
    node = state.deployment.mapping[source]
    path = context.app.input_for(source, input_id)
    url = state.agents[node] + paths.fill(paths.CIRCE_INJECT, input_id=input_id, producer=source)
    try:
        await send_file(
            context.session, url, path, LinkEmulator(None), context.auth, answer_timeout=30.0
        )
    except TransferError as error:
        if not error.unreachable:
            raise
        if context.recovery is None:
            # The agent is most likely gone, and its loss, once known, says it better.
            with contextlib.suppress(RunError):
                timeout = state.registry.timeout + 1.0
                await state.latch.wait_for(lambda: False, timeout, "the agent's loss")
            if state.latch.failure is not None:
                raise RunError(state.latch.failure) from None
            raise
        where = {"node": node, "task": source, "input_id": input_id}
        log.warning(
            "input not taken: %s; it enters again once the node is replaced", error, extra=where
        )
