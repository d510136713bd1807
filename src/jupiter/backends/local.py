"""The local backend (the default): one agent process per node on this machine, each at its
own 127.0.0.x address, all forked from one warm launcher; an agent that dies is reported
with the tail of its log."""

from __future__ import annotations

from pathlib import Path

from jupiter.api.tls import TlsFiles
from jupiter.backends.forked import ForkedAgents, loopback_address
from jupiter.cluster.spec import Cluster
from jupiter.controller.backend import AgentLaunch


class LocalBackend:
    name = "local"

    def __init__(self) -> None:
        self._agents: ForkedAgents | None = None

    def home_host(self, cluster: Cluster) -> str:
        return "127.0.0.1"

    async def start(self, launch: AgentLaunch) -> None:
        agents = self._agents = ForkedAgents(launch.token, launch.work_dir)
        await agents.__aenter__()

        def lost(node: str, code: int) -> None:
            log = agents.agent_log(node)
            launch.on_lost(
                node, f"exited with code {code}" + (f"; its log ends:\n{log}" if log else "")
            )

        agents.on_agent_exit(lost)
        app_data, cluster_data = launch.app.to_dict(), launch.cluster.to_dict()
        for index, node in enumerate(launch.cluster.node_names):
            config = agents.agent_config(
                run_id=launch.run_id,
                node=node,
                host=loopback_address(index),
                home_url=launch.home_url,
                work_dir=launch.work_dir / "nodes" / node,
                app=app_data,
                app_root=launch.app.root,
                cluster=cluster_data,
                log_level=launch.log_level,
                heartbeat_interval_s=launch.heartbeat_interval,
                tls=_agent_tls(launch, node, loopback_address(index)),
            )
            await agents.start(config)

    def agent_log(self, node: str, lines: int = 20) -> str:
        return "" if self._agents is None else self._agents.agent_log(node, lines)

    def save_logs(self, into: Path) -> list[Path]:
        return [] if self._agents is None else self._agents.save_logs(into)

    async def stop(self) -> None:
        if self._agents is not None:
            await self._agents.stop()


def _agent_tls(launch: AgentLaunch, node: str, host: str) -> TlsFiles | None:
    """The agent's certificate for its loopback address, in its own folder of the home's
    private work dir (0700, files 0600); the agent is told the paths only."""
    if launch.tls is None:
        return None
    credentials = launch.tls.issuer().issue(node, [host])
    return credentials.write(launch.work_dir / "tls" / "nodes" / node)


BACKEND = LocalBackend
