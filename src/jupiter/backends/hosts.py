"""The hosts backend: agents a user started by hand (`jupiter agent --listen HOST:PORT
--token-file F`) on machines of their own, a Raspberry Pi or a VM, no Kubernetes needed;
cluster.yaml gives each node's `address`. The home enlists each agent in the run (it uploads
the app folder and says which node the agent is), the agents register as usual, and at the
end each is sent back to standby, ready for the next run. A lost agent is noticed by its
heartbeats, like every other backend's.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import tarfile
from pathlib import Path
from typing import Any

import aiohttp

from jupiter.agent.auth import auth_headers
from jupiter.api.client import AgentClient, CallFailed
from jupiter.api.hosts import (
    BUNDLE,
    CERTIFICATE,
    JOIN,
    MAX_BUNDLE_BYTES,
    CertificateGrant,
    JoinAnswer,
    JoinRequest,
)
from jupiter.api.paths import HEALTH
from jupiter.api.tls import TlsError, scheme
from jupiter.cluster.spec import Cluster
from jupiter.controller.backend import AgentLaunch
from jupiter.errors import RunError, SpecError

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 5.0


class HostsBackend:
    name = "hosts"

    def __init__(self, home_address: str | None = None) -> None:
        # The address agents reach the home at; None: the one this machine routes to them from.
        self._home_address = home_address
        self._launch: AgentLaunch | None = None
        self._addresses: dict[str, str] = {}
        # Nodes whose agent accepted the run: only those are this run's to send back.
        self._joined: set[str] = set()

    def home_host(self, cluster: Cluster) -> str:
        addresses = node_addresses(cluster)
        if self._home_address is not None:
            return self._home_address
        return _routed_address(next(iter(addresses.values())))

    async def start(self, launch: AgentLaunch) -> None:
        self._launch = launch
        self._addresses = node_addresses(launch.cluster)
        bundle = _pack(launch)
        await asyncio.gather(
            *(
                self._enlist(launch, node, address, bundle)
                for node, address in self._addresses.items()
            )
        )

    async def _enlist(self, launch: AgentLaunch, node: str, address: str, bundle: bytes) -> None:
        base = f"http://{address}"
        where = f"node {node}: the agent at {address}"
        timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT_S)
        auth = auth_headers(launch.token)
        try:
            async with launch.session.get(f"{base}{HEALTH}", timeout=timeout) as response:
                health = await response.json(content_type=None)
            if not isinstance(health, dict) or health.get("status") != "standby":
                raise RunError(f"{where} is busy with another run (its /health: {health})")
            url = base + BUNDLE.format(run_id=launch.run_id)
            async with launch.session.put(
                url, data=bundle, headers=auth, timeout=timeout
            ) as response:
                await _check(response, where, "the app bundle")
            join = JoinRequest(
                run_id=launch.run_id,
                node=node,
                home_url=launch.home_url,
                # The run agent serves on the same address, over TLS if the run has it.
                advertise_url=f"{scheme(launch.tls)}://{address}",
                app=launch.app.to_dict(),
                cluster=launch.cluster.to_dict(),
                log_level=launch.log_level,
                heartbeat_interval_s=launch.heartbeat_interval,
                tls=launch.tls is not None,
            )
            async with launch.session.post(
                f"{base}{JOIN}",
                data=join.model_dump_json(),
                headers={**auth, "Content-Type": "application/json"},
                timeout=timeout,
            ) as response:
                await _check(response, where, "joining the run")
                joined = JoinAnswer.model_validate_json(await response.read())
            self._joined.add(node)
            if launch.tls is not None:
                await self._certify(launch, node, address, joined, base, where)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RunError(
                f"{where} does not answer ({type(error).__name__}: {error}); start it there "
                f"with `jupiter agent --listen {address} --token-file FILE`"
            ) from None

    async def _certify(
        self,
        launch: AgentLaunch,
        node: str,
        address: str,
        joined: JoinAnswer,
        base: str,
        where: str,
    ) -> None:
        """Sign the agent's request for the address cluster.yaml gives it (whatever the
        request asked for) and send the certificate; the agent then serves the run."""
        assert launch.tls is not None
        if joined.csr is None:
            raise RunError(f"{where} joined without a signing request: upgrade it for TLS")
        try:
            certificate = launch.tls.issuer().sign_request(
                joined.csr.encode(), node, [_host(address)]
            )
        except TlsError as error:
            raise RunError(f"{where}: {error}") from None
        grant = CertificateGrant(
            run_id=launch.run_id,
            ca=launch.tls.issuer().ca_pem.decode(),
            certificate=certificate.decode(),
        )
        async with launch.session.post(
            f"{base}{CERTIFICATE}",
            data=grant.model_dump_json(),
            headers={**auth_headers(launch.token), "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S),
        ) as response:
            await _check(response, where, "the run's certificate")

    def agent_log(self, node: str, lines: int = 20) -> str:
        return ""  # on the agent's own machine: its work dir's last-run.log

    def save_logs(self, into: Path) -> list[Path]:
        return []  # each agent keeps its run's log as last-run.log in its own work dir

    async def stop(self) -> None:
        launch, self._launch = self._launch, None
        if launch is None or launch.session.closed:
            return
        urls = {node: f"{scheme(launch.tls)}://{self._addresses[node]}" for node in self._joined}
        registered = {n: url for n, url in launch.registered().items() if n in urls}
        agents = AgentClient(launch.session, {**urls, **registered}, auth_headers(launch.token))

        async def one(node: str) -> None:
            # Back to standby; an agent that never came up for the run ends by its lease.
            try:
                await agents.shutdown(node, timeout=SHUTDOWN_TIMEOUT_S)
            except CallFailed as error:
                log.warning("could not send the agent back to standby: %s", error)

        await asyncio.gather(*(one(node) for node in agents.urls))


def node_addresses(cluster: Cluster, source: str = "cluster.yaml") -> dict[str, str]:
    """node -> HOST:PORT; every node must have one."""
    missing = [i for i, node in enumerate(cluster.nodes) if node.address is None]
    if missing:
        raise SpecError(
            source,
            f"nodes[{missing[0]}].address",
            "the hosts backend needs every node's HOST:PORT, where `jupiter agent --listen "
            "HOST:PORT` runs",
        )
    return {node.name: str(node.address) for node in cluster.nodes}


def _pack(launch: AgentLaunch) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(launch.app.root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.add(path, arcname=str(path.relative_to(launch.app.root)))
    data = buffer.getvalue()
    if len(data) > MAX_BUNDLE_BYTES:
        raise SpecError(
            launch.app.root,
            None,
            f"the app folder packs to {len(data)} bytes, over the hosts backend's "
            f"{MAX_BUNDLE_BYTES}: keep large data out of the app folder",
        )
    return data


async def _check(response: aiohttp.ClientResponse, where: str, what: str) -> None:
    if response.status == 401:
        raise RunError(f"{where} refused the run token: give both the same --token-file")
    if response.status >= 300:
        detail: Any = (await response.text())[:300]
        raise RunError(f"{where} refused {what}: HTTP {response.status}: {detail}")


def _host(address: str) -> str:
    """HOST of HOST:PORT (an IPv6 address without its brackets)."""
    return address.rpartition(":")[0].strip("[]")


def _routed_address(address: str) -> str:
    """The local address this machine reaches `address` (HOST:PORT) from."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        family, _, _, _, target = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(target)  # no packet is sent: this only asks for a route
            return str(probe.getsockname()[0])
    except OSError as error:
        raise RunError(f"cannot reach agent address {address}: {error}") from None


BACKEND = HostsBackend
