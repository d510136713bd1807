"""The backend protocol: how the home gets one agent per node, whatever runs them.

A backend starts agents for a cluster (or reaches agents someone else started), tells the
home when one is lost, and stops them all. Agents always report their own address by
registering with the home, so learning addresses is the home's job, not the backend's.
The implementations live one layer up, one file each, in `jupiter.backends`: `local`
(processes forked on this machine), `hosts` (agents a user started by hand with
`jupiter agent`) and `kubernetes` (pods created by `jupiter run --backend kubernetes`).
The shape follows dask's SpecCluster/ProcessInterface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from jupiter.api.tls import RunTls
from jupiter.app.spec import App
from jupiter.cluster.spec import Cluster

# Called with (node, reason) when the backend sees an agent die or become unreachable.
OnAgentLost = Callable[[str, str], None]


@dataclass(frozen=True)
class AgentLaunch:
    """Everything a backend needs to bring up a run's agents."""

    run_id: str
    token: str
    # Where the agents register and deliver exit outputs.
    home_url: str
    app: App
    cluster: Cluster
    # The run's own scratch folder on the home's machine; removed at teardown.
    work_dir: Path
    # The home's HTTP client, with no total timeout (callers set their own).
    session: aiohttp.ClientSession
    # The live registry (node -> URL) as agents register: a backend that stops agents by
    # asking them reads it.
    registered: Callable[[], dict[str, str]]
    on_lost: OnAgentLost
    # The agents' own log level (jupiter.logs.LEVELS).
    log_level: str = "warning"
    # Seconds between each agent's heartbeats (the home scales it with the cluster's size).
    heartbeat_interval: float = 0.5
    # Mutual TLS for the run (None: plain HTTP): the backend gives each agent a certificate
    # of the run's CA for the address it is reached at, by its own means (api/tls.py).
    tls: RunTls | None = None


class Backend(Protocol):
    """One run's agents. `start` is called once; `stop` always, even after a failed start."""

    # The name users pick it by: `jupiter run --backend NAME`.
    name: str

    def home_host(self, cluster: Cluster) -> str:
        """The address the home binds so that this backend's agents can reach it."""
        ...

    async def start(self, launch: AgentLaunch) -> None:
        """Start or reach one agent per node of `launch.cluster`; each then registers."""
        ...

    def agent_log(self, node: str, lines: int = 20) -> str:
        """The tail of a node's agent log, where the backend can see it ("" otherwise)."""
        ...

    def save_logs(self, into: Path) -> list[Path]:
        """Copy every agent's whole log into the folder `into` (one file per node), where
        the backend can reach them; returns the files written."""
        ...

    async def stop(self) -> None:
        """Stop every agent this run used and leave nothing behind; safe to call twice."""
        ...
