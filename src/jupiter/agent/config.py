"""What an agent needs to know at start-up; the mapping arrives later, at dispatch."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jupiter.api.tls import TlsFiles


def _default_max_connections() -> int:
    # Half the process's descriptors: the rest are for its files, its own client
    # connections and its tasks' pipes.
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return min(4096, max(64, soft // 2)) if soft > 0 else 4096


class ServerLimits(BaseModel):
    """How much any one client can hold of a server (an agent's or the home's)."""

    model_config = ConfigDict(extra="forbid")

    # Open connections at once; at the limit the oldest silent one is dropped
    # (agent/connections.py).
    max_connections: int = Field(default_factory=_default_max_connections, ge=1)
    # Pending connections the kernel queues before the server accepts them.
    backlog: int = Field(default=1024, ge=1)
    # Seconds a connection may sit without a complete request header (from when it opens,
    # and between requests): aiohttp's keep-alive timeout.
    header_timeout_s: float = Field(default=75.0, gt=0)
    # Longest request line and header field, in bytes.
    max_line_size: int = Field(default=8190, ge=1024)
    max_field_size: int = Field(default=8190, ge=1024)
    max_headers: int = Field(default=64, ge=8)


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    node: str
    host: str
    port: int = 0
    # URL the agent registers with, and where exit outputs and failures go.
    home_url: str
    # URL peers and the home reach this agent at, when not http://{host}:{port}: in a pod
    # the agent binds 0.0.0.0 and is reached through its Service's DNS name.
    advertise_url: str | None = None
    # Seconds to keep retrying registration: a pod may start long before the home's pod.
    register_timeout_s: float = 60.0
    work_dir: Path
    app: dict[str, Any]
    # The app folder as seen from this agent (task code and sample inputs live there).
    app_root: Path
    cluster: dict[str, Any]
    # Read end of a pipe whose write end only the home holds: EOF means the home is gone.
    lifeline_fd: int | None = None
    # Largest body accepted on the data endpoint, in bytes.
    max_body_bytes: int = 8 * 1024**3
    # Tasks that may run at once on this node; the mapper models a node as one processor.
    slots: int = 1
    # The agent's own log (agent.log in its work dir): debug, info, warning or error.
    log_level: str = "warning"
    # Seconds between heartbeats to the home (agent/heartbeat.py).
    heartbeat_interval_s: float = Field(default=0.5, gt=0, le=60)
    limits: ServerLimits = Field(default_factory=ServerLimits)
    # Mutual TLS (api/tls.py): this agent's certificate, key and the run CA's certificate,
    # as files only it can read; None: plain HTTP (a local run without --tls).
    tls: TlsFiles | None = None

    @classmethod
    def read(cls, path: Path) -> AgentConfig:
        return cls.model_validate_json(path.read_text())

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json())
