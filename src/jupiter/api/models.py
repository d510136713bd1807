"""Request and response bodies exchanged by the home and the agents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """Every body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Deployment(Body):
    """The controller's desired state, as pushed to every agent at dispatch."""

    mapping: dict[str, str]  # task or source -> node
    addresses: dict[str, str]  # node -> base URL, plus "home"
