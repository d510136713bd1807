"""A run's agents without a run, for profiling alone (`jupiter profile`, the benchmarks): the
controller's own deploy phase and teardown, with nothing dispatched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from jupiter.app.spec import App
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.backend import Backend
from jupiter.controller.home import HomeState
from jupiter.controller.run import RunContext, deployed_agents
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile


@dataclass
class Agents:
    context: RunContext

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.context.session

    @property
    def urls(self) -> dict[str, str]:
        """node -> base URL"""
        return dict(self.context.state.agents)

    @property
    def auth(self) -> dict[str, str]:
        return self.context.auth

    @property
    def state(self) -> HomeState:
        return self.context.state

    @property
    def home_url(self) -> str:
        return self.context.home_url

    async def gather(
        self, app: App, cluster: Cluster, settings: ProfileSettings | None = None
    ) -> Profile:
        """gather_profile through these agents; the home then serves it (GET /home/profile)."""
        profile = await gather_profile(self.session, self.urls, app, cluster, self.auth, settings)
        self.state.profiles.profile = profile
        return profile


@asynccontextmanager
async def local_agents(
    app: App, cluster: Cluster, backend: Backend | None = None
) -> AsyncIterator[Agents]:
    """One registered agent per node of `cluster` (local processes unless `backend` says
    otherwise); all stopped and cleaned up on exit."""
    async with deployed_agents(app, cluster, backend or LocalBackend()) as context:
        yield Agents(context)
