"""The Kubernetes backend, as the home in its Job sees it: the agents are pods that
`jupiter run --backend kubernetes` created beside the home (k8s/deploy.py); they register by
themselves, and are stopped by asking them (the client deletes the pods afterwards)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from jupiter.agent.auth import auth_headers
from jupiter.api.client import AgentClient, CallFailed
from jupiter.cluster.spec import Cluster
from jupiter.controller.backend import AgentLaunch

SHUTDOWN_TIMEOUT_S = 5.0


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, bind: str = "0.0.0.0") -> None:
        # In a pod the home binds every interface and is reached through its Service.
        self._bind = bind
        self._launch: AgentLaunch | None = None

    def home_host(self, cluster: Cluster) -> str:
        return self._bind

    async def start(self, launch: AgentLaunch) -> None:
        self._launch = launch

    def agent_log(self, node: str, lines: int = 20) -> str:
        return ""  # `kubectl logs` has it; the home may not read pods

    def save_logs(self, into: Path) -> list[Path]:
        return []  # `kubectl logs -l jupiter.io/run=RUN` has them

    async def stop(self) -> None:
        launch, self._launch = self._launch, None
        if launch is None or launch.session.closed:
            return
        agents = AgentClient(launch.session, launch.registered(), auth_headers(launch.token))

        async def one(node: str) -> None:
            # An agent already gone is no error: the pods are deleted next anyway.
            with contextlib.suppress(CallFailed):
                await agents.shutdown(node, timeout=SHUTDOWN_TIMEOUT_S)

        await asyncio.gather(*(one(node) for node in agents.urls))


BACKEND = KubernetesBackend
