"""Typed clients: `AgentClient` is what the home calls on its agents, `HomeClient` what an
agent calls on its home. Every call sends a model and validates the answer into one; every
failure (refused, unreachable, answered badly) is one `CallFailed` line naming the node."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlencode

import aiohttp
from pydantic import BaseModel, ValidationError

from jupiter.api import paths
from jupiter.api.models import (
    Deployed,
    Deployment,
    FailureEvent,
    Health,
    Noted,
    Registered,
    Registration,
    RoleChange,
    RoleStatus,
    Stats,
    Status,
    Stopping,
)
from jupiter.api.profiler import (
    ChainAnswer,
    ChainRequest,
    ExecutionFigures,
    MeasureAnswer,
    MeasureRequest,
    NetworkAnswer,
    NetworkPlan,
    NetworkStarted,
    ResourcesAnswer,
    RunRequest,
    ShareAnswer,
    ShareRequest,
)
from jupiter.api.reading import first_error
from jupiter.api.wave import (
    WaveAnnouncement,
    WaveAppointed,
    WaveAppointment,
    WaveNoted,
    WaveReady,
    WaveStart,
    WaveTurn,
    WaveTurnRequest,
)
from jupiter.errors import RunError

Answer = TypeVar("Answer", bound=BaseModel)


class CallFailed(RunError):
    """A call that did not get a valid 2xx answer; `status` is None if none came back."""

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    answer: type[Answer],
    auth: dict[str, str],
    body: BaseModel | None = None,
    timeout: float | None = None,
    who: str = "",
) -> Answer:
    """One JSON call: `body` out, `answer` back."""
    what = f"{who}: {url}" if who else url
    data = None if body is None else body.model_dump_json().encode()
    headers = dict(auth)
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with session.request(
            method, url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            text = await response.text()
            status = response.status
            if status >= 300:
                raise CallFailed(
                    f"{what}: HTTP {response.status}: {text[:500]}", response.status, text
                )
    except (aiohttp.ClientError, TimeoutError) as error:
        raise CallFailed(f"{what}: {type(error).__name__}: {error}") from None
    try:
        return answer.model_validate_json(text)
    except ValidationError as error:
        raise CallFailed(f"{what}: unexpected answer: {first_error(error)}", status, text) from None


class AgentClient:
    """The home's calls to its agents (node -> base URL in `urls`)."""

    def __init__(
        self, session: aiohttp.ClientSession, urls: dict[str, str], auth: dict[str, str]
    ) -> None:
        self.session = session
        self.urls = urls
        self.auth = auth

    async def _call(
        self,
        method: str,
        node: str,
        path: str,
        answer: type[Answer],
        body: BaseModel | None = None,
        timeout: float | None = None,
    ) -> Answer:
        url = f"{self.urls[node]}{path}"
        return await call(self.session, method, url, answer, self.auth, body, timeout, node)

    # -- the agent and CIRCE ---------------------------------------------------------------

    async def health(self, node: str, timeout: float | None = None) -> Health:
        return await self._call("GET", node, paths.HEALTH, Health, timeout=timeout)

    async def shutdown(self, node: str, timeout: float | None = None) -> Stopping:
        return await self._call("POST", node, paths.SHUTDOWN, Stopping, timeout=timeout)

    async def deploy(self, node: str, deployment: Deployment) -> Deployed:
        return await self._call("POST", node, paths.CIRCE_DEPLOY, Deployed, deployment)

    async def stats(self, node: str) -> Stats:
        return await self._call("GET", node, paths.CIRCE_STATS, Stats)

    async def status(self, node: str) -> Status:
        return await self._call("GET", node, paths.CIRCE_STATUS, Status)

    # -- the distributed WAVE (agent/wave_role.py) -------------------------------------------

    async def wave_start(self, node: str, start: WaveStart) -> WaveReady:
        return await self._call("POST", node, paths.WAVE_START, WaveReady, start)

    async def wave_appoint(self, node: str, appointment: WaveAppointment) -> WaveAppointed:
        return await self._call("POST", node, paths.WAVE_APPOINT, WaveAppointed, appointment)

    # -- the executor role (execution model mapped) ----------------------------------------

    async def role(self, node: str) -> RoleStatus:
        return await self._call("GET", node, paths.CIRCE_ROLE, RoleStatus)

    async def set_role(self, node: str, running: bool) -> RoleStatus:
        body = RoleChange(running=running)
        return await self._call("POST", node, paths.CIRCE_ROLE, RoleStatus, body)

    # -- the profiler ----------------------------------------------------------------------

    async def network_start(self, node: str, plan: NetworkPlan) -> NetworkStarted:
        return await self._call("POST", node, paths.PROFILER_NETWORK_START, NetworkStarted, plan)

    async def network(
        self,
        node: str,
        *,
        samples: bool = True,
        wait_first: float | None = None,
        timeout: float | None = None,
    ) -> NetworkAnswer:
        """The node's fits; wait_first=S holds the answer until its first round is fitted
        (at most S seconds)."""
        query: dict[str, str] = {"samples": "1" if samples else "0"}
        if wait_first is not None:
            query.update(wait="first", timeout=f"{wait_first:g}")
        path = f"{paths.PROFILER_NETWORK}?{urlencode(query)}"
        return await self._call("GET", node, path, NetworkAnswer, timeout=timeout)

    async def network_measure(self, node: str, request: MeasureRequest) -> MeasureAnswer:
        return await self._call(
            "POST", node, paths.PROFILER_NETWORK_MEASURE, MeasureAnswer, request
        )

    async def resources(self, node: str, timeout: float | None = None) -> ResourcesAnswer:
        return await self._call(
            "GET", node, paths.PROFILER_RESOURCES, ResourcesAnswer, timeout=timeout
        )

    async def execution(self, node: str) -> ExecutionFigures:
        return await self._call("GET", node, paths.PROFILER_EXECUTION, ExecutionFigures)

    async def execution_chain(self, node: str, request: ChainRequest) -> ChainAnswer:
        return await self._call("POST", node, paths.PROFILER_EXECUTION_CHAIN, ChainAnswer, request)

    async def execution_share(
        self, node: str, request: ShareRequest, timeout: float | None = None
    ) -> ShareAnswer:
        return await self._call(
            "POST", node, paths.PROFILER_EXECUTION_SHARE, ShareAnswer, request, timeout
        )

    async def execution_run(
        self, node: str, request: RunRequest, timeout: float | None = None
    ) -> ExecutionFigures:
        return await self._call(
            "POST", node, paths.PROFILER_EXECUTION_RUN, ExecutionFigures, request, timeout
        )


class HomeClient:
    """An agent's calls to its home."""

    def __init__(self, session: aiohttp.ClientSession, home_url: str, auth: dict[str, str]) -> None:
        self.session = session
        self.home_url = home_url
        self.auth = auth

    async def register(self, registration: Registration) -> Registered:
        url = f"{self.home_url}{paths.HOME_REGISTER}"
        return await call(self.session, "POST", url, Registered, self.auth, registration)

    async def event(self, event: FailureEvent) -> Noted:
        url = f"{self.home_url}{paths.HOME_EVENT}"
        return await call(self.session, "POST", url, Noted, self.auth, event)

    async def wave_turn(self, request: WaveTurnRequest, timeout: float | None = None) -> WaveTurn:
        """Held by the home until it is `request.task`'s turn (at most `timeout` s)."""
        url = f"{self.home_url}{paths.HOME_WAVE_TURN}"
        return await call(self.session, "POST", url, WaveTurn, self.auth, request, timeout)

    async def wave_announce(self, announcement: WaveAnnouncement) -> WaveNoted:
        url = f"{self.home_url}{paths.HOME_WAVE_ANNOUNCE}"
        return await call(self.session, "POST", url, WaveNoted, self.auth, announcement)
