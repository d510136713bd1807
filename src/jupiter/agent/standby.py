"""An agent a user starts by hand on a machine of their own (`jupiter agent --listen HOST:PORT
--token-file F`), for the hosts backend.

Between runs it waits in standby on HOST:PORT, answering /health and, behind the token, the
home's enlistment: the app folder (a bundle) and a join request naming the node it is to be.
It then hands HOST:PORT to a fresh agent process for that run (the same `python -m
jupiter.agent` a Kubernetes pod runs), and waits for it to end: the home stops it with
/shutdown, or the home stops answering for longer than the run's lease. The run's folder is
removed and the standby serves again, run after run, until SIGTERM, SIGINT or SIGHUP.

A fresh process per run means nothing one run leaves in memory reaches the next, and every
task process dies with its run (the run agent's task lifelines); a lifeline pipe ties the
run agent to this process, so killing the standby in any way ends its run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ValidationError

from jupiter.agent.auth import environment_without_token
from jupiter.agent.config import AgentConfig
from jupiter.agent.server import serving
from jupiter.api.hosts import (
    BUNDLE,
    CERTIFICATE,
    JOIN,
    MAX_BUNDLE_BYTES,
    CertificateGrant,
    CertificateTaken,
    JoinAnswer,
    JoinRequest,
    StandbyHealth,
)
from jupiter.api.paths import HEALTH
from jupiter.api.tls import SigningRequest, TlsError, TlsFiles
from jupiter.app.spec import App
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError

log = logging.getLogger(__name__)

Parsed = TypeVar("Parsed", bound=BaseModel)

STOP_GRACE_S = 10.0
# Seconds a join with TLS waits for the home's certificate before it lapses.
CERTIFY_TIMEOUT_S = 60.0
LEASE_POLL_S = 1.0


@dataclass
class Enlisted:
    join: JoinRequest
    run_dir: Path
    # The run's certificate, key and CA, with TLS (in the run's folder, 0600).
    tls: TlsFiles | None = None


@dataclass
class _Certifying:
    """A join with TLS, waiting for the home to certify the key the agent made."""

    join: JoinRequest
    run_dir: Path
    request: SigningRequest


class StandbyAgent:
    def __init__(self, host: str, port: int, token: str, work_root: Path) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.work_root = work_root
        self.quit = asyncio.Event()

    async def serve(self, once: bool = False) -> None:
        """Serve runs until told to quit (after the first run with `once`)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self.quit.set)
        while not self.quit.is_set():
            enlisted = await self._await_join()
            if enlisted is None:
                return
            try:
                await self._serve_run(enlisted)
            finally:
                shutil.rmtree(enlisted.run_dir, ignore_errors=True)
            if once:
                return

    # -- standby -------------------------------------------------------------------------

    async def _await_join(self) -> Enlisted | None:
        joined: asyncio.Future[Enlisted] = asyncio.get_running_loop().create_future()
        bundles: dict[str, Path] = {}
        certifying: list[_Certifying] = []

        async def health(request: web.Request) -> web.Response:
            return web.json_response(StandbyHealth().model_dump())

        async def bundle(request: web.Request) -> web.Response:
            run_id = request.match_info["run_id"]
            run_dir = self._run_dir(run_id)
            if request.content_length is not None and request.content_length > MAX_BUNDLE_BYTES:
                raise web.HTTPRequestEntityTooLarge(
                    max_size=MAX_BUNDLE_BYTES, actual_size=request.content_length
                )
            run_dir.mkdir(parents=True, exist_ok=True)
            path = run_dir / "bundle.tar.gz"
            size = 0
            with path.open("wb") as out:
                async for chunk in request.content.iter_chunked(1 << 20):
                    size += len(chunk)
                    if size > MAX_BUNDLE_BYTES:
                        raise web.HTTPRequestEntityTooLarge(
                            max_size=MAX_BUNDLE_BYTES, actual_size=size
                        )
                    out.write(chunk)
            bundles[run_id] = path
            return web.json_response({"stored": size}, status=201)

        async def join(request: web.Request) -> web.Response:
            if joined.done() or certifying:
                raise web.HTTPConflict(text="already enlisted in a run")
            body = _parse(JoinRequest, await request.read(), "join request")
            if body.run_id not in bundles:
                raise web.HTTPConflict(text=f"no app bundle uploaded for run {body.run_id}")
            run_dir = self._run_dir(body.run_id)
            try:
                _unpack(bundles[body.run_id], run_dir / "app")
                App.from_dict(body.app, run_dir / "app")
                Cluster.from_dict(body.cluster, "join request: cluster")
            except (SpecError, tarfile.TarError, OSError) as error:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise web.HTTPBadRequest(text=f"cannot serve this run: {error}") from None
            if not body.tls:
                joined.set_result(Enlisted(body, run_dir))
                return web.json_response(JoinAnswer(joined=True, node=body.node).model_dump())
            # The key is made here and never leaves this machine: the home gets a signing
            # request for it and answers with the certificate.
            signing = SigningRequest.new(body.node)
            certifying.append(_Certifying(body, run_dir, signing))

            def give_up() -> None:
                # A home that died between join and certificate must not keep this agent
                # enlisted for ever: the join lapses, and the agent takes the next one.
                if not joined.done() and certifying and certifying[0].join is body:
                    log.warning("run %s sent no certificate in time: join dropped", body.run_id)
                    certifying.clear()
                    shutil.rmtree(run_dir, ignore_errors=True)
                    bundles.pop(body.run_id, None)

            asyncio.get_running_loop().call_later(CERTIFY_TIMEOUT_S, give_up)
            answer = JoinAnswer(joined=True, node=body.node, csr=signing.csr_pem.decode())
            return web.json_response(answer.model_dump())

        async def certificate(request: web.Request) -> web.Response:
            grant = _parse(CertificateGrant, await request.read(), "certificate")
            if joined.done() or not certifying or certifying[0].join.run_id != grant.run_id:
                raise web.HTTPConflict(text=f"no join of run {grant.run_id} awaits a certificate")
            pending = certifying[0]
            try:
                credentials = pending.request.accept(grant.certificate.encode(), grant.ca.encode())
            except TlsError as error:
                raise web.HTTPBadRequest(text=str(error)) from None
            files = credentials.write(pending.run_dir / "tls")
            joined.set_result(Enlisted(pending.join, pending.run_dir, files))
            return web.json_response(CertificateTaken().model_dump())

        routes = [
            web.get(HEALTH, health),
            web.put(BUNDLE, bundle),
            web.post(JOIN, join),
            web.post(CERTIFICATE, certificate),
        ]
        async with serving(routes, self.token, self.host, self.port):
            quit_wait = asyncio.ensure_future(self.quit.wait())
            try:
                await asyncio.wait({joined, quit_wait}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                quit_wait.cancel()
        # Bundles of runs that never joined are not kept.
        for run_id in bundles:
            if not joined.done() or joined.result().join.run_id != run_id:
                shutil.rmtree(self._run_dir(run_id), ignore_errors=True)
        return joined.result() if joined.done() else None

    def _run_dir(self, run_id: str) -> Path:
        return self.work_root / f"run-{run_id}"

    # -- one run -------------------------------------------------------------------------

    async def _serve_run(self, enlisted: Enlisted) -> None:
        join, run_dir = enlisted.join, enlisted.run_dir
        lifeline_read, lifeline_write = os.pipe()
        config = AgentConfig(
            run_id=join.run_id,
            node=join.node,
            host=self.host,
            port=self.port,
            home_url=join.home_url,
            advertise_url=join.advertise_url,
            register_timeout_s=join.register_timeout_s,
            work_dir=run_dir / "node",
            app=join.app,
            app_root=run_dir / "app",
            cluster=join.cluster,
            lifeline_fd=lifeline_read,
            log_level=join.log_level,
            heartbeat_interval_s=join.heartbeat_interval_s,
            tls=enlisted.tls,
        )
        config_path = run_dir / "agent.json"
        config.write(config_path)
        log_path = run_dir / "agent.log"
        with log_path.open("ab") as agent_log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "jupiter.agent",
                str(config_path),
                stdin=asyncio.subprocess.PIPE,
                stdout=agent_log,
                stderr=agent_log,
                pass_fds=(lifeline_read,),
                env=environment_without_token(),
            )
        assert process.stdin is not None
        process.stdin.write(f"{self.token}\n".encode())
        await process.stdin.drain()
        process.stdin.close()
        os.close(lifeline_read)
        log.info("serving run %s as node %s (pid %d)", join.run_id, join.node, process.pid)
        lease = asyncio.ensure_future(_home_lost(join.home_url, join.home_lease_s, enlisted.tls))
        quit_wait = asyncio.ensure_future(self.quit.wait())
        exited = asyncio.ensure_future(process.wait())
        try:
            done, _ = await asyncio.wait(
                {lease, quit_wait, exited}, return_when=asyncio.FIRST_COMPLETED
            )
            if lease in done:
                log.warning(
                    "home %s silent for %.0f s: leaving run %s",
                    join.home_url,
                    join.home_lease_s,
                    join.run_id,
                )
        finally:
            for waiter in (lease, quit_wait):
                waiter.cancel()
            await _stop(process)
            exited.cancel()
            os.close(lifeline_write)
            _keep_last_log(log_path, self.work_root / "last-run.log")
        log.info("run %s over (agent exit code %s)", join.run_id, process.returncode)


def _parse(model: type[Parsed], data: bytes, what: str) -> Parsed:
    """A request body as `model`, or a 400 naming the first bad field."""
    try:
        return model.model_validate_json(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise web.HTTPBadRequest(text=f"bad {what}: {where}: {first['msg']}") from None


def _unpack(bundle: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(bundle, "r:gz") as archive:
        # The "data" filter refuses absolute paths, links leaving the folder and devices.
        archive.extractall(into, filter="data")
    bundle.unlink()


async def _home_lost(home_url: str, lease_s: float, tls: TlsFiles | None) -> None:
    """Returns once the home has not answered its /health for `lease_s` seconds."""
    loop = asyncio.get_running_loop()
    last_answer = loop.time()
    timeout = aiohttp.ClientTimeout(total=max(1.0, min(lease_s / 2, 5.0)))
    # With TLS the home asks every client for a certificate of the run: this one shows the
    # run agent's.
    connector = aiohttp.TCPConnector(ssl=tls.client_context() if tls is not None else True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        while loop.time() - last_answer < lease_s:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{home_url}{HEALTH}") as response:
                    if response.status == 200:
                        last_answer = loop.time()
            await asyncio.sleep(LEASE_POLL_S)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=STOP_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def _keep_last_log(log_path: Path, keep: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.copyfile(log_path, keep)


async def serve_standby(
    host: str, port: int, token: str, work_root: Path | None = None, once: bool = False
) -> None:
    """Run a hand-started agent; its scratch folder is removed when it stops."""
    own_root = work_root is None
    root = Path(tempfile.mkdtemp(prefix="jupiter-agent-")) if work_root is None else work_root
    root.mkdir(parents=True, exist_ok=True)
    try:
        await StandbyAgent(host, port, token, root).serve(once)
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)
