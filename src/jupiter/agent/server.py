"""The node agent: one aiohttp server per node hosting the executor role (and, as they land,
the profiler and mapper roles). It registers with the home, serves until told to stop, and
exits by itself when the home that started it goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import shutil
import signal
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import hdrs, web

from jupiter.agent.auth import Handler, auth_headers, token_middleware
from jupiter.agent.config import AgentConfig, ServerLimits
from jupiter.agent.connections import CappedSite
from jupiter.agent.emulation_control import emulation_routes
from jupiter.agent.errorlog import ServerErrorLog
from jupiter.agent.heartbeat import beat_until_stopped
from jupiter.agent.metrics import metrics_route, with_process_metrics
from jupiter.agent.wave_role import WaveRole
from jupiter.api import paths
from jupiter.api.client import CallFailed, HomeClient
from jupiter.api.models import Health, Registration, Stopping
from jupiter.api.reading import answer
from jupiter.api.tls import scheme
from jupiter.app.runner import TaskRunner
from jupiter.app.spec import App
from jupiter.background import background
from jupiter.circe.executor import Executor
from jupiter.circe.routes import circe_routes
from jupiter.circe.store import DataStore
from jupiter.circe.transfer import close_taken_connections
from jupiter.cluster.emulator import HostPath
from jupiter.cluster.nic import Nic
from jupiter.cluster.spec import Cluster
from jupiter.profiler.role import ProfilerRole

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def serving(
    routes: list[web.RouteDef],
    token: str,
    host: str,
    port: int,
    limits: ServerLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[web.Application, int]]:
    """Serve `routes` behind the token check (and, with `ssl_context`, over TLS that asks
    every client for its certificate); yields the application and the bound port."""
    limits = limits or ServerLimits()
    application = web.Application(
        middlewares=[token_middleware(token), refuse_encoded_bodies, close_taken_connections]
    )
    application.add_routes(routes)
    runner = web.AppRunner(
        application,
        access_log=None,
        handle_signals=False,
        logger=ServerErrorLog(),
        keepalive_timeout=limits.header_timeout_s,
        max_line_size=limits.max_line_size,
        max_field_size=limits.max_field_size,
        max_headers=limits.max_headers,
        # Bodies are taken as sent: see refuse_encoded_bodies.
        auto_decompress=False,
    )
    await runner.setup()
    try:
        site = CappedSite(runner, host, port, limits.max_connections, limits.backlog, ssl_context)
        await site.start()
        yield application, runner.addresses[0][1]
    finally:
        await runner.cleanup()


@web.middleware
async def refuse_encoded_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """415 for a compressed body: no Jupiter client compresses (its data is hashed as sent,
    and probes are random bytes), and decoding one would only be work for a stranger."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise web.HTTPUnsupportedMediaType(text="Content-Encoding is not supported")
    return await handler(request)


async def run_agent(config: AgentConfig, token: str) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    if config.lifeline_fd is None:
        await _serve(config, token, stop)
        return
    _stop_when_home_is_gone(config.lifeline_fd, stop)
    try:
        await _serve(config, token, stop)
    finally:
        # Checked at the end, not only by the reader: a home that died may also have had
        # this agent sent SIGTERM first. The work dir is in the home's, and nobody is left
        # to remove it or read it.
        if _home_is_gone(config.lifeline_fd):
            _remove_work_dir(config.work_dir)


async def _serve(config: AgentConfig, token: str, stop: asyncio.Event) -> None:
    app = App.from_dict(config.app, config.app_root)
    cluster = Cluster.from_dict(config.cluster)
    store = DataStore(config.work_dir / "data")
    auth = auth_headers(token)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    tls = config.tls
    # With TLS, every call this agent makes (home, peers' transfers and probes) shows its
    # certificate and checks the peer's against the run's CA.
    connector = aiohttp.TCPConnector(limit=0, ssl=tls.client_context() if tls is not None else True)
    async with (
        aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
        TaskRunner(app, scratch_parent=config.work_dir) as runner,
    ):
        # Every emulated transfer from this agent, data or probe, learns and pays the same
        # host tail: the profiler must measure the links the executor will use.
        host_path = HostPath()
        executor = Executor(
            config.node,
            app,
            cluster,
            store,
            runner,
            session,
            auth,
            config.slots,
            host_path,
            # One NIC for the node: all its links' data out share it, all data in apart.
            nic=Nic.of(cluster, config.node),
        )
        profiler = ProfilerRole(
            config.node,
            app,
            cluster,
            session,
            auth,
            runner,
            executor.monitor,
            config.work_dir / "profiler",
            config.max_body_bytes,
            host_path,
        )
        # Every output this node sends refines the fit of the link it took.
        executor.on_transfer = profiler.network.observe_transfer

        # The distributed WAVE decides from this node's own link fits.
        wave = WaveRole(
            config.node, cluster, lambda: profiler.network.fits, session, auth, config.home_url
        )
        routes = [
            *agent_routes(config.node, stop),
            metrics_route(with_process_metrics(executor.metrics.registry)),
            *circe_routes(executor, config.max_body_bytes),
            *emulation_routes(executor),
            *profiler.routes(),
            *wave.routes(),
        ]
        try:
            # Probing stops before the server does: a server waits for requests in flight,
            # and peers that are still probing would keep it waiting.
            async with (
                serving(
                    routes,
                    token,
                    config.host,
                    config.port,
                    config.limits,
                    tls.server_context() if tls is not None else None,
                ) as (_, port),
                profiler,
                wave,
            ):
                url = config.advertise_url or f"{scheme(tls)}://{config.host}:{port}"
                await _register(session, config, url, auth, stop)
                heartbeat = background(
                    beat_until_stopped(
                        session,
                        config.home_url,
                        auth,
                        executor,
                        stop,
                        config.heartbeat_interval_s,
                    ),
                    "the heartbeat",
                )
                await stop.wait()
                await heartbeat
        finally:
            await executor.close()


def agent_routes(node: str, stop: asyncio.Event) -> list[web.RouteDef]:
    """The agent's own surface: liveness, and stopping when the home says so."""

    async def health(request: web.Request) -> web.Response:
        return answer(Health(node=node))

    async def shutdown(request: web.Request) -> web.Response:
        stop.set()
        return answer(Stopping())

    return [web.get(paths.HEALTH, health), web.post(paths.SHUTDOWN, shutdown)]


async def _register(
    session: aiohttp.ClientSession,
    config: AgentConfig,
    url: str,
    auth: dict[str, str],
    stop: asyncio.Event,
) -> None:
    """Tell the home where this agent listens; the home may not be up yet on a real cluster."""
    home = HomeClient(session, config.home_url, auth)
    registration = Registration(run_id=config.run_id, node=config.node, url=url, pid=os.getpid())
    deadline = time.monotonic() + config.register_timeout_s
    while not stop.is_set():
        try:
            await home.register(registration)
            return
        except CallFailed as error:
            if error.status is not None:
                raise SystemExit(
                    f"agent {config.node}: home refused registration: {error.detail}"
                ) from None
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"agent {config.node}: home at {config.home_url} unreachable"
                ) from None
            await asyncio.sleep(0.2)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


def _stop_when_home_is_gone(fd: int, stop: asyncio.Event) -> None:
    # Nobody ever writes to the lifeline: it becomes readable only at EOF, when the last holder
    # of its write end (the home) has exited, however it exited.
    loop = asyncio.get_running_loop()

    def on_readable() -> None:
        loop.remove_reader(fd)
        stop.set()

    loop.add_reader(fd, on_readable)


def _home_is_gone(fd: int) -> bool:
    # Readable at once means end of file: the home closed its end, whether it exited or died.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _remove_work_dir(work_dir: Path) -> None:
    log.warning("the home is gone: removing this agent's work dir %s", work_dir)
    # Gone already if a later run removed the home's stale work dir, ours with it.
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(work_dir)
