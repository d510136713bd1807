"""Local agents for profiling alone (`jupiter profile`, the benchmark): the deploy half of a
run, with the same home server, launcher and teardown, and nothing dispatched."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from jupiter.agent.auth import auth_headers, new_token
from jupiter.app.spec import App
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.home import HomeState, home_server
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.model import Profile


@dataclass
class Agents:
    session: aiohttp.ClientSession
    urls: dict[str, str]  # node -> base URL
    auth: dict[str, str]
    state: HomeState
    home_url: str

    async def gather(
        self, app: App, cluster: Cluster, settings: ProfileSettings | None = None
    ) -> Profile:
        """gather_profile through these agents; the home then serves it (GET /home/profile)."""
        profile = await gather_profile(self.session, self.urls, app, cluster, self.auth, settings)
        self.state.profile = profile
        return profile


@asynccontextmanager
async def local_agents(app: App, cluster: Cluster) -> AsyncIterator[Agents]:
    """One registered agent per node of `cluster`; all stopped and cleaned up on exit."""
    token = new_token()
    run_id = secrets.token_hex(4)
    work_dir = Path(tempfile.mkdtemp(prefix=f"jupiter-{run_id}-"))
    state = HomeState(run_id=run_id, exits=list(app.exits), out_dir=work_dir / "out")
    nodes = cluster.node_names
    try:
        async with (
            home_server(state, token) as home_url,
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                connector=aiohttp.TCPConnector(limit=0),
            ) as session,
            LocalBackend(token, work_dir) as backend,
        ):
            state.session = session
            backend.on_agent_exit(
                lambda node, code: state.fail(f"agent {node} exited with code {code}")
            )
            await backend.start_all(app, cluster, run_id, home_url)
            await state.wait_for(
                lambda: len(state.agents) >= len(nodes),
                timeout=60 + 0.5 * len(nodes),
                what="agents to register",
            )
            yield Agents(session, dict(state.agents), auth_headers(token), state, home_url)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
