"""The gathered profile: what the home knows about links, nodes and tasks after profiling.

One JSON document (`Profile.save` / `Profile.load`), so that a profile taken once can be
reused by later runs (`jupiter run --profile`), and the same shapes the agents report over
HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupiter.errors import SpecError
from jupiter.mapper.problem import LinkModel
from jupiter.profiler.classes import FigureSource
from jupiter.profiler.fit import QuadraticFit
from jupiter.specfile import MAX_DOCUMENT_BYTES, read_spec_text

PROFILE_VERSION = 1


class LinkProfile(BaseModel):
    """One directed link's fitted transfer time, `p + q*bytes + r*bytes^2` seconds."""

    model_config = ConfigDict(extra="forbid")

    p: float = Field(ge=0, allow_inf_nan=False)
    q: float = Field(ge=0, allow_inf_nan=False)
    r: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    samples: int = Field(ge=0)
    sizes: list[int]
    rel_rms: float = 0.0
    fitted_at: float = 0.0
    # Where the figures came from: probes of this link ("measured"), or the sampled
    # strategy's inference (profiler/sampled.py): the latency from network coordinates,
    # the bandwidth from its group pair's representative links.
    latency_source: Literal["measured", "inferred"] = "measured"
    bandwidth_source: Literal["measured", "inferred"] = "measured"
    # Of `samples`, the task outputs the executor sent over this link (the rest: probes).
    runtime_samples: int = Field(default=0, ge=0)

    @classmethod
    def from_fit(cls, fit: QuadraticFit, fitted_at: float, runtime: int = 0) -> LinkProfile:
        return cls(
            runtime_samples=runtime,
            p=fit.p,
            q=fit.q,
            r=fit.r,
            samples=fit.samples,
            sizes=list(fit.sizes),
            rel_rms=fit.rel_rms,
            fitted_at=fitted_at,
        )

    def seconds(self, nbytes: float) -> float:
        return self.p + self.q * nbytes + self.r * nbytes * nbytes

    @property
    def resolved(self) -> bool:
        """Whether the probes told sizes apart (see QuadraticFit.resolved)."""
        return self.q > 0 or self.r > 0

    @property
    def bandwidth(self) -> float:
        """Bytes per second over the largest probed transfer, net of latency."""
        largest = max(self.sizes)
        moving = self.seconds(largest) - self.p
        return largest / moving if moving > 0 else float("inf")

    def model(self) -> LinkModel:
        return LinkModel(self.p, self.q, self.r)


class HeldOutError(BaseModel):
    """Relative error |predicted - measured| / measured of latencies on measured links that
    were held out of the fit."""

    model_config = ConfigDict(extra="forbid")

    links: int = Field(ge=0, description="Held-out links the error is taken over.")
    median: float = Field(ge=0, description="Median relative error.")
    p90: float = Field(ge=0, description="90th percentile of the relative error.")
    worst: float = Field(ge=0, description="Largest relative error.")


class NetworkInference(BaseModel):
    """How the sampled network strategy measured a few links and inferred the rest
    (docs/profiling.md, Sampled strategy)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["sampled"] = Field(default="sampled", description="Always 'sampled'.")
    groups_by: Literal["region", "coordinates"] = Field(
        description="'region': the cluster's regions; 'coordinates': k-means on the network "
        "coordinates (a cluster in one region)."
    )
    groups: dict[str, list[str]] = Field(description="Group -> its nodes.")
    latency_peers: dict[str, list[str]] = Field(
        description="Node -> the peers it probed for latency: a landmark per group plus "
        "random neighbours."
    )
    dimensions: int = Field(description="Dimensions of the Vivaldi coordinates (plus a height).")
    coordinates: dict[str, list[float]] = Field(
        description="Node -> [x_1 .. x_d, height], seconds."
    )
    latency_model: str = Field(
        description="How an unprobed link's latency is predicted: 'coordinates' (the Vivaldi "
        "distance) or 'group core + heights' (its ordered group pair's core latency plus a "
        "height per end, fitted by medians)."
    )
    representatives: dict[str, list[tuple[str, str]]] = Field(
        description="Ordered group pair 'G->H' -> the links probed with every size, whose "
        "per-byte terms every link of the pair takes."
    )
    measured_links: int = Field(ge=0, description="Links probed (latency, bandwidth or both).")
    latency_inferred: int = Field(ge=0, description="Links whose latency was predicted.")
    bandwidth_inferred: int = Field(
        ge=0, description="Links whose bandwidth is their group pair's."
    )
    held_out_links: list[tuple[str, str]] = Field(
        description="Measured latency links left out of the fit (they keep their measured figure)."
    )
    held_out: HeldOutError | None = Field(
        default=None, description="The latency model's error on the held-out links."
    )
    held_out_vivaldi: HeldOutError | None = Field(
        default=None, description="Plain Vivaldi distances' error on the held-out links."
    )
    seconds: float = Field(default=0.0, ge=0, description="Seconds the inference took.")


class ResourceSample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: float
    # The whole machine the agent runs on (on the local backend, shared by every node).
    cpu_percent: float
    # This agent and the task processes it started, as a percentage of one core.
    node_cpu_percent: float
    memory_percent: float
    memory_available: int
    load_1m: float
    load_5m: float
    load_15m: float
    cpus: int


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = PROFILE_VERSION
    app: str
    tasks: list[str]
    nodes: list[str]
    emulated: bool
    # The time dilation K it was measured under: its seconds are host seconds, K times the
    # emulated ones. A run under another K rescales them (planning/problem.py).
    dilation: float = Field(default=1.0, ge=1.0, allow_inf_nan=False)
    created_at: float
    # links[a][b]: data from a to b. Links that could not be probed are absent.
    links: dict[str, dict[str, LinkProfile]] = Field(default_factory=dict)
    resources: dict[str, ResourceSample] = Field(default_factory=dict)
    # compute[task][node]: seconds one run takes there, node speed emulation included.
    compute: dict[str, dict[str, float]] = Field(default_factory=dict)
    # compute_source[task][node]: `measured` on the node itself, `from-class` (another node
    # of its class, scaled by speed: profiler/classes.py) or `learned` at runtime. Empty in
    # a profile taken before classes: every figure there was measured.
    compute_source: dict[str, dict[str, FigureSource]] = Field(default_factory=dict)
    # Node -> its hardware class, as the execution profiler grouped them (empty: before
    # classes).
    classes: dict[str, str] = Field(default_factory=dict)
    # output_bytes[task]: size of its output on the sample input; every child receives it.
    output_bytes: dict[str, int] = Field(default_factory=dict)
    # Wall seconds each profiler took, and how the figures were taken (sizes, repeats...).
    timings: dict[str, float] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    # The sampled network strategy's account; None when every link was probed.
    network_inference: NetworkInference | None = None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a saved profile; any problem is one SpecError line naming the file."""
        source = str(path)
        text = read_spec_text(path, MAX_DOCUMENT_BYTES)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(source, f"line {error.lineno}", f"invalid JSON: {error.msg}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise SpecError(source, field, f"not a Jupiter profile: {first['msg']}") from None

    def source_of(self, task: str, node: str) -> FigureSource:
        """Where compute[task][node] came from (`measured` in a profile before classes)."""
        return self.compute_source.get(task, {}).get(node, "measured")

    def check_matches(self, tasks: list[str], nodes: list[str], source: str | None) -> None:
        """Refuse a profile taken for another app or cluster, in one line."""
        for what, mine, theirs in (("tasks", self.tasks, tasks), ("nodes", self.nodes, nodes)):
            if set(mine) != set(theirs):
                extra = sorted(set(mine) - set(theirs))
                missing = sorted(set(theirs) - set(mine))
                parts = []
                if missing:
                    parts.append(f"lacks {_few(missing)}")
                if extra:
                    parts.append(f"has unknown {_few(extra)}")
                raise SpecError(
                    source,
                    what,
                    f"profile of {self.app!r} does not match this run's {what}: it "
                    + " and ".join(parts),
                )
        for task in tasks:
            row = self.compute.get(task, {})
            absent = [node for node in nodes if node not in row]
            if absent:
                raise SpecError(
                    source, f"compute.{task}", f"no execution figures on {_few(absent)}"
                )


def _few(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
