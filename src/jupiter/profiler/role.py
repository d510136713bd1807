"""The profiler role of a node agent: its three profilers and their HTTP surface.

Every route sits behind the agent's run-token middleware. `async with ProfilerRole(...)`
bounds the lifetime of the background sampling and probing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from jupiter.app.runner import TaskFailed, TaskRunner
from jupiter.app.spec import App
from jupiter.circe.monitor import Monitor
from jupiter.cluster.emulator import HostPath
from jupiter.cluster.spec import Cluster
from jupiter.profiler.execution import DEFAULT_BUDGET_S, DEFAULT_REPEATS, ExecutionProfiler
from jupiter.profiler.network import NetworkPlan, NetworkProfiler
from jupiter.profiler.resource import ResourceProfiler

# Longest a GET /profiler/network?wait=first may hold the request open.
MAX_WAIT_S = 600.0


class ProfilerRole:
    def __init__(
        self,
        node: str,
        app: App,
        cluster: Cluster,
        session: aiohttp.ClientSession,
        auth: dict[str, str],
        runner: TaskRunner,
        monitor: Monitor,
        scratch: Path,
        max_body_bytes: int,
        host_path: HostPath | None = None,
    ) -> None:
        self.node = node
        self.session = session
        self.auth = auth
        self.network = NetworkProfiler(
            node, cluster, session, auth, scratch / "network", max_body_bytes, host_path
        )
        self.resources = ResourceProfiler(node)
        self.execution = ExecutionProfiler(
            node, app, cluster, runner, monitor, scratch / "execution", max_body_bytes
        )

    async def __aenter__(self) -> ProfilerRole:
        self.resources.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.network.close()
        await self.resources.close()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/profiler/network", self._network),
            web.post("/profiler/network/start", self._network_start),
            web.post("/profiler/network/measure", self._network_measure),
            web.put("/profiler/network/probe/{sender}", self._network_probe),
            web.get("/profiler/resources", self._resources),
            web.get("/profiler/execution", self._execution),
            web.post("/profiler/execution/chain", self._execution_chain),
            web.post("/profiler/execution/share", self._execution_share),
            web.put("/profiler/execution/samples/{task}", self._execution_sample),
            web.post("/profiler/execution/run", self._execution_run),
        ]

    # -- network ---------------------------------------------------------------------------

    async def _network(self, request: web.Request) -> web.Response:
        """This node's fits (and samples unless ?samples=0); ?wait=first holds the answer
        until the first round is fitted (at most ?timeout= seconds)."""
        if request.query.get("wait") == "first":
            if self.network.plan is None:
                raise web.HTTPConflict(text="network profiling has not been started")
            timeout = min(_number(request.query.get("timeout", "60"), "timeout"), MAX_WAIT_S)
            try:
                await asyncio.wait_for(self.network.first_round_done.wait(), timeout)
            except TimeoutError:
                raise web.HTTPGatewayTimeout(
                    text=f"first round not done after {timeout:g} s"
                ) from None
        include = request.query.get("samples", "1") not in ("0", "false", "no")
        return web.json_response(self.network.snapshot(include_samples=include))

    async def _network_start(self, request: web.Request) -> web.Response:
        try:
            plan = NetworkPlan.model_validate(await request.json())
            self.network.start(plan)
        except (ValidationError, ValueError) as error:
            raise web.HTTPBadRequest(text=f"bad network plan: {error}") from None
        return web.json_response({"node": self.node, "started": True, "peers": len(plan.peers)})

    async def _network_measure(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            peer = str(body["peer"])
            sizes = [int(size) for size in body["sizes"]]
            repeats = int(body.get("repeats", 1))
            emulate = bool(body.get("emulate", True))
            if not sizes or min(sizes) < 1 or repeats < 1:
                raise ValueError("sizes and repeats must be positive")
        except (KeyError, TypeError, ValueError) as error:
            raise web.HTTPBadRequest(
                text=f"expected {{peer, sizes, repeats, emulate}}: {error}"
            ) from None
        try:
            samples = await self.network.measure(peer, sizes, repeats, emulate)
        except LookupError as error:
            raise web.HTTPConflict(text=str(error)) from None
        return web.json_response({"node": self.node, "peer": peer, "samples": samples})

    async def _network_probe(self, request: web.Request) -> web.Response:
        size = await self.network.absorb(request, request.match_info["sender"])
        return web.json_response({"bytes": size}, status=201)

    # -- resources -------------------------------------------------------------------------

    async def _resources(self, request: web.Request) -> web.Response:
        return web.json_response(self.resources.snapshot())

    # -- execution -------------------------------------------------------------------------

    async def _execution(self, request: web.Request) -> web.Response:
        return web.json_response(self.execution.figures())

    async def _execution_chain(self, request: web.Request) -> web.Response:
        body = await _json_object(request) if request.can_read_body else {}
        input_id = _integer(body.get("input_id", 0), "input_id")
        return web.json_response(await _task_errors(self.execution.chain(input_id)))

    async def _execution_share(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        peers = body.get("peers")
        if not isinstance(peers, dict):
            raise web.HTTPBadRequest(text="expected {peers: {node: url}}")
        concurrency = max(1, _integer(body.get("concurrency", 4), "concurrency"))
        try:
            sent = await self.execution.share(peers, self.session, self.auth, concurrency)
        except LookupError as error:
            raise web.HTTPConflict(text=str(error)) from None
        return web.json_response({"node": self.node, "files": sent})

    async def _execution_sample(self, request: web.Request) -> web.Response:
        size = await self.execution.receive_sample(request, request.match_info["task"])
        return web.json_response({"bytes": size}, status=201)

    async def _execution_run(self, request: web.Request) -> web.Response:
        body = await _json_object(request) if request.can_read_body else {}
        repeats = max(1, _integer(body.get("repeats", DEFAULT_REPEATS), "repeats"))
        budget = _number(body.get("budget_seconds", DEFAULT_BUDGET_S), "budget_seconds")
        return web.json_response(await _task_errors(self.execution.run_all(repeats, budget)))


async def _task_errors(work: Any) -> Any:
    """A task that fails or lacks inputs while profiling is the caller's problem to report."""
    try:
        return await work
    except TaskFailed as failure:
        raise web.HTTPUnprocessableEntity(text=str(failure)) from None
    except LookupError as error:
        raise web.HTTPConflict(text=str(error)) from None


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise web.HTTPBadRequest(text=f"{name} must be an integer")
    return value
