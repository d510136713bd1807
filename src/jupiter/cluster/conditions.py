"""Changing emulated conditions during a run: a node's compute, or one link, made slower and
restored (docs/emulation.md, Changing conditions during a run).

`ConditionChange` is one change as a user states it (the home's route, `jupiter emulate`,
cluster.yaml `events:`); `Slowdowns` is what one agent holds of them and applies to its own
compute stretch and to its links out.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jupiter.cluster.links import Link

# A slowdown, never a speed-up: the fastest node already runs at host speed, and nothing here
# can run faster than the host. Bounded like node speeds (1,000x at most).
MAX_FACTOR = 1000.0
Factor = Annotated[float, Field(ge=1.0, le=MAX_FACTOR, allow_inf_nan=False)]
NodeName = Annotated[str, Field(min_length=1, max_length=256)]
# Seconds from the stream's start: at most a week, a bound only against typos.
MAX_AT_S = 7 * 24 * 3600.0

ChangeKind = Literal["slow", "slow_link", "restore", "restore_link"]


class ConditionChange(BaseModel):
    """Exactly one of `slow` (a node's compute, `factor` times slower), `slow_link` ([from, to]:
    latency times `factor`, bandwidth over `factor`), `restore` (the node back to factor 1) or
    `restore_link` (the link back to factor 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slow: NodeName | None = None
    slow_link: tuple[NodeName, NodeName] | None = None
    restore: NodeName | None = None
    restore_link: tuple[NodeName, NodeName] | None = None
    factor: Factor | None = None

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        given = [
            kind for kind in ("slow", "slow_link", "restore", "restore_link") if getattr(self, kind)
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of slow, slow_link, restore, restore_link")
        kind = given[0]
        if kind.startswith("slow") and self.factor is None:
            raise ValueError(f"{kind} needs a factor (>= 1)")
        if kind.startswith("restore") and self.factor is not None:
            raise ValueError(f"{kind} takes no factor: it sets 1")
        link = self.slow_link or self.restore_link
        if link is not None and link[0] == link[1]:
            raise ValueError(f"a link joins two nodes, not {link[0]} to itself")
        return self

    @property
    def kind(self) -> ChangeKind:
        if self.slow is not None:
            return "slow"
        if self.slow_link is not None:
            return "slow_link"
        if self.restore is not None:
            return "restore"
        return "restore_link"

    @property
    def node(self) -> str:
        """The node whose agent applies the change: the node itself, or the link's sender
        (a link is emulated by the agent that sends on it)."""
        link = self.slow_link or self.restore_link
        if link is not None:
            return link[0]
        assert self.slow is not None or self.restore is not None
        return self.slow or self.restore  # type: ignore[return-value]

    @property
    def to(self) -> str | None:
        """The link's destination; None for a node's compute."""
        link = self.slow_link or self.restore_link
        return None if link is None else link[1]

    @property
    def value(self) -> float:
        """The factor the change sets: 1 for a restore."""
        return 1.0 if self.factor is None else self.factor

    def describe(self) -> str:
        target = self.node if self.to is None else f"{self.node}->{self.to}"
        verb = "slow" if self.kind.startswith("slow") else "restore"
        return f"{verb} {target}" + (f" x{self.value:g}" if self.factor is not None else "")


class ScheduledChange(ConditionChange):
    """A change in cluster.yaml `events:`, applied by the home `at` seconds (emulated) after
    the stream starts."""

    at: float = Field(ge=0.0, le=MAX_AT_S, allow_inf_nan=False)


class Slowdowns:
    """One agent's current slowdowns: of its own compute, and of its links out by destination.
    Factor 1 everywhere until told otherwise."""

    def __init__(self) -> None:
        self.node = 1.0
        self.links: dict[str, float] = {}

    def set_node(self, factor: float) -> None:
        self.node = _checked(factor)

    def set_link(self, destination: str, factor: float) -> None:
        factor = _checked(factor)
        if factor == 1.0:
            self.links.pop(destination, None)
        else:
            self.links[destination] = factor

    def link(self, destination: str, link: Link) -> Link:
        """`link` to `destination` as slowed now: latency times its factor, bandwidth over it."""
        factor = self.links.get(destination, 1.0)
        if factor == 1.0:
            return link
        return Link(link.latency * factor, link.bandwidth / factor)


def _checked(factor: float) -> float:
    if not 1.0 <= factor <= MAX_FACTOR:
        raise ValueError(f"a slowdown factor is in [1, {MAX_FACTOR:g}], not {factor!r}")
    return float(factor)
