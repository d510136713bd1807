"""Bodies of the profiler's HTTP surface on an agent, and of the home's calls to it.

The fitted links and resource samples inside the answers are `profiler/model.py`'s
`LinkProfile` and `ResourceSample`, which sit above this layer: here they are JSON objects,
and the profiler's home side validates them into those models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from jupiter.api.models import Body, InputId, Message, Name, Url

KIB = 1024
MIB = 1024 * KIB
DEFAULT_SIZES = (4 * KIB, 32 * KIB, 256 * KIB, 1 * MIB, 4 * MIB)
# Largest probe anyone may ask for; the agent's body limit may be lower still.
MAX_PROBE_BYTES = 1024 * MIB
# Longest a GET /profiler/network?wait=first may hold the request open.
MAX_WAIT_S = 600.0

ProbeSize = Annotated[int, Field(strict=True, ge=1, le=MAX_PROBE_BYTES)]
Seconds = Annotated[float, Field(ge=0, le=365 * 24 * 3600, allow_inf_nan=False)]


class NetworkPlan(Body):
    """What the home asks one agent to probe, and how gently."""

    # (node, base URL) in the order to probe them; the home rotates the order per agent so
    # that at any moment each node is probed by about one sender.
    peers: list[tuple[Name, Url]] = Field(max_length=100_000)
    # The first round probes every link with each of these sizes `first_repeats` times.
    first_sizes: list[ProbeSize] = Field(min_length=1, max_length=64)
    first_repeats: int = Field(default=1, ge=1, le=1000)
    # Peers probed for their latency alone: only with the smallest of `first_sizes` in the
    # first round and the smallest of `sizes` later (the sampled strategy: their bandwidth
    # is inferred from representative links, profiler/sampled.py).
    latency_only: list[Name] = Field(default_factory=list, max_length=100_000)
    # Peers the first round leaves out (an earlier plan measured them); later rounds probe
    # them as usual.
    first_skip: list[Name] = Field(default_factory=list, max_length=100_000)
    # Later rounds, `interval` seconds apart (0: none), probe every link once, each link
    # with the next of `sizes` in turn, so the window holds every size after a few rounds
    # and a round costs one probe per link.
    sizes: list[ProbeSize] = Field(
        default_factory=lambda: list(DEFAULT_SIZES), min_length=2, max_length=64
    )
    interval: Seconds = 60.0
    # This agent's offset into each interval, so that rounds across nodes do not coincide.
    phase: Seconds = 0.0
    refit_interval: float = Field(default=600.0, gt=0, le=365 * 24 * 3600, allow_inf_nan=False)
    window: int = Field(default=60, ge=2, le=100_000)
    concurrency: int = Field(default=1, ge=1, le=1024)
    # How the home spreads probing in time: this agent starts a probe of b bytes at least
    # `spacing + b * byte_spacing` seconds after its previous one, the first `offset`
    # seconds after the round begins.
    spacing: Seconds = 0.0
    byte_spacing: Seconds = 0.0
    offset: Seconds = 0.0
    max_link_share: float = Field(default=0.05, gt=0, le=1, allow_inf_nan=False)
    burst_seconds: Seconds = 3.0


class NetworkQuery(Body):
    """GET /profiler/network: ?wait=first holds the answer until the first round is fitted
    (at most ?timeout= seconds); ?samples=0 leaves out the raw samples. Lax: a query is text."""

    wait: Literal["first"] | None = None
    # Seconds; the agent waits at most MAX_WAIT_S whatever is asked.
    timeout: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    samples: bool = True


class NetworkAnswer(Message):
    node: str
    state: Literal["idle", "first-round", "probing"]
    rounds: int
    failures: int
    first_round_seconds: float | None
    plan: dict[str, Any] | None
    # peer -> LinkProfile
    fits: dict[str, dict[str, Any]]
    link_seconds_used: dict[str, float]
    # peer -> [size, seconds, unix time] per sample; absent with ?samples=0
    samples: dict[str, list[list[float]]] | None = None


class NetworkStarted(Message):
    node: str
    started: bool = True
    peers: int


class MeasureRequest(Message):
    """Probe one peer now, without recording anything: for checking a fit."""

    peer: Name
    sizes: list[ProbeSize] = Field(min_length=1, max_length=64)
    repeats: int = Field(default=1, ge=1, le=100)
    emulate: bool = True


class MeasureAnswer(Message):
    node: str
    peer: str
    # [size, seconds] per probe that arrived
    samples: list[list[float]]


class ProbeTaken(Message):
    bytes: int


class ResourcesAnswer(Message):
    node: str
    interval: float
    # ResourceSample, newest and the recent history
    latest: dict[str, Any]
    history: list[dict[str, Any]]


class ExecutionFigures(Message):
    """An agent's execution profile: its timed runs and what its executor has seen."""

    node: str
    stretch: float
    # task -> {seconds, runs, wall_seconds, output_bytes}
    profiled: dict[str, dict[str, Any]]
    # task -> {runs, median, mean, last}
    runtime: dict[str, dict[str, Any]]
    # The task the execution profiler is running now (chain or timed runs), if any.
    running: str | None = None


class ChainRequest(Message):
    input_id: InputId = 0


class ChainAnswer(Message):
    node: str
    input_id: int
    output_bytes: dict[str, int]
    wall_seconds: dict[str, float]


class ShareRequest(Message):
    peers: dict[Name, Url] = Field(max_length=100_000)
    concurrency: int = Field(default=4, ge=1, le=256)


class ShareAnswer(Message):
    node: str
    files: int


class RunRequest(Message):
    """Time every task here; None: the execution profiler's defaults."""

    repeats: int | None = Field(default=None, ge=1, le=1000)
    budget_seconds: float | None = Field(default=None, ge=0, le=3600, allow_inf_nan=False)


class SampleTaken(Message):
    bytes: int
