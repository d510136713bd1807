"""What an agent needs to know at start-up; the mapping arrives later, at dispatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


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

    @classmethod
    def read(cls, path: Path) -> AgentConfig:
        return cls.model_validate_json(path.read_text())

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json())
