"""The profiler role of a node agent: its three profilers and their HTTP surface.

Every route sits behind the agent's run-token middleware. `async with ProfilerRole(...)`
bounds the lifetime of the background sampling and probing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from jupiter.api import paths
from jupiter.api.profiler import (
    MAX_WAIT_S,
    ChainAnswer,
    ChainRequest,
    ExecutionFigures,
    MeasureAnswer,
    MeasureRequest,
    NetworkAnswer,
    NetworkPlan,
    NetworkQuery,
    NetworkStarted,
    ProbeTaken,
    ResourcesAnswer,
    RunRequest,
    SampleTaken,
    ShareAnswer,
    ShareRequest,
)
from jupiter.api.reading import answer, read_body, read_query
from jupiter.app.runner import TaskFailed, TaskRunner
from jupiter.app.spec import App
from jupiter.circe.monitor import Monitor
from jupiter.cluster.emulator import HostPath
from jupiter.cluster.spec import Cluster
from jupiter.profiler.execution import DEFAULT_BUDGET_S, DEFAULT_REPEATS, ExecutionProfiler
from jupiter.profiler.network import NetworkProfiler
from jupiter.profiler.resource import ResourceProfiler


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
            web.get(paths.PROFILER_NETWORK, self._network),
            web.post(paths.PROFILER_NETWORK_START, self._network_start),
            web.post(paths.PROFILER_NETWORK_MEASURE, self._network_measure),
            web.put(paths.PROFILER_NETWORK_PROBE, self._network_probe),
            web.get(paths.PROFILER_RESOURCES, self._resources),
            web.get(paths.PROFILER_EXECUTION, self._execution),
            web.post(paths.PROFILER_EXECUTION_CHAIN, self._execution_chain),
            web.post(paths.PROFILER_EXECUTION_SHARE, self._execution_share),
            web.put(paths.PROFILER_EXECUTION_SAMPLE, self._execution_sample),
            web.post(paths.PROFILER_EXECUTION_RUN, self._execution_run),
        ]

    # -- network ---------------------------------------------------------------------------

    async def _network(self, request: web.Request) -> web.Response:
        """This node's fits (and samples unless ?samples=0); ?wait=first holds the answer
        until the first round is fitted (at most ?timeout= seconds)."""
        query = read_query(request, NetworkQuery)
        if query.wait == "first":
            if self.network.plan is None:
                raise web.HTTPConflict(text="network profiling has not been started")
            timeout = min(query.timeout, MAX_WAIT_S)
            try:
                await asyncio.wait_for(self.network.first_round_done.wait(), timeout)
            except TimeoutError:
                raise web.HTTPGatewayTimeout(
                    text=f"first round not done after {timeout:g} s"
                ) from None
        snapshot = self.network.snapshot(include_samples=query.samples)
        return answer(NetworkAnswer.model_validate(snapshot))

    async def _network_start(self, request: web.Request) -> web.Response:
        plan = await read_body(request, NetworkPlan)
        try:
            self.network.start(plan)
        except ValueError as error:
            raise web.HTTPBadRequest(text=f"bad network plan: {error}") from None
        return answer(NetworkStarted(node=self.node, peers=len(plan.peers)))

    async def _network_measure(self, request: web.Request) -> web.Response:
        body = await read_body(request, MeasureRequest)
        if max(body.sizes) > self.network.max_body_bytes:
            raise web.HTTPBadRequest(text="probe size exceeds this agent's body limit")
        try:
            samples = await self.network.measure(body.peer, body.sizes, body.repeats, body.emulate)
        except KeyError as error:
            raise web.HTTPNotFound(text=str(error)) from None
        except LookupError as error:
            raise web.HTTPConflict(text=str(error)) from None
        return answer(MeasureAnswer(node=self.node, peer=body.peer, samples=samples))

    async def _network_probe(self, request: web.Request) -> web.Response:
        size = await self.network.absorb(request, request.match_info["sender"])
        return answer(ProbeTaken(bytes=size), status=201)

    # -- resources -------------------------------------------------------------------------

    async def _resources(self, request: web.Request) -> web.Response:
        return answer(ResourcesAnswer.model_validate(self.resources.snapshot()))

    # -- execution -------------------------------------------------------------------------

    async def _execution(self, request: web.Request) -> web.Response:
        return answer(ExecutionFigures.model_validate(self.execution.figures()))

    async def _execution_chain(self, request: web.Request) -> web.Response:
        body = await read_body(request, ChainRequest, optional=True)
        chain = await _task_errors(self.execution.chain(body.input_id))
        return answer(ChainAnswer.model_validate(chain))

    async def _execution_share(self, request: web.Request) -> web.Response:
        body = await read_body(request, ShareRequest)
        try:
            sent = await self.execution.share(body.peers, self.session, self.auth, body.concurrency)
        except LookupError as error:
            raise web.HTTPConflict(text=str(error)) from None
        return answer(ShareAnswer(node=self.node, files=sent))

    async def _execution_sample(self, request: web.Request) -> web.Response:
        size = await self.execution.receive_sample(request, request.match_info["task"])
        return answer(SampleTaken(bytes=size), status=201)

    async def _execution_run(self, request: web.Request) -> web.Response:
        body = await read_body(request, RunRequest, optional=True)
        repeats = DEFAULT_REPEATS if body.repeats is None else body.repeats
        budget = DEFAULT_BUDGET_S if body.budget_seconds is None else body.budget_seconds
        figures = await _task_errors(self.execution.run_all(repeats, budget))
        return answer(ExecutionFigures.model_validate(figures))


async def _task_errors(work: Awaitable[Any]) -> Any:
    """A task that fails or lacks inputs while profiling is the caller's problem to report."""
    try:
        return await work
    except TaskFailed as failure:
        raise web.HTTPUnprocessableEntity(text=str(failure)) from None
    except LookupError as error:
        raise web.HTTPConflict(text=str(error)) from None
