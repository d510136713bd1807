"""The cluster spec: nodes with regions and speeds, the link table, and cluster.yaml loading.

`Cluster` is the resolved form every component uses (and agents receive as JSON); the
cluster.yaml format (`ClusterFile`) is only its user-facing shorthand, resolved by
`load_cluster`. Every user error becomes one `SpecError` line naming the file and the field.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from jupiter.cluster.conditions import ScheduledChange
from jupiter.cluster.links import LOCAL, Link, LinkTable, default_link_table
from jupiter.cluster.regions import DEFAULT_REGIONS
from jupiter.errors import SpecError
from jupiter.specfile import read_spec_text

# Names end up in URLs, file names and pod names: keep them to a safe alphabet.
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
# host:port, the host a name, IPv4 address or [IPv6] address, the port 1-65535.
_ADDRESS = (
    r"^([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\]):"
    r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
)
# The executor addresses the user's machine as "home"; a node of that name would be ambiguous.
RESERVED_NODE_NAMES = frozenset({"home"})

DEFAULT_SPEED_RANGE = (0.5, 1.0)


class NodeSpec(BaseModel):
    # A YAML `name: 7` is meant as the name "7". `class` is a Python keyword: the field is
    # `node_class`, spelt `class` in cluster.yaml and in the cluster's JSON.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    name: str = Field(pattern=_NAME)
    region: str = Field(min_length=1)
    # Relative compute speed: 0.5 means this node takes twice as long as a 1.0 node.
    # Bounded to what a node can be next to another: 1,000x slower or faster at most.
    speed: float = Field(default=1.0, ge=0.001, le=1000, allow_inf_nan=False)
    # Where the agent runs on a real cluster; the local backend picks loopback addresses.
    host: str | None = Field(default=None, min_length=1)
    # HOST:PORT where an agent started by hand listens (`jupiter agent --listen`), for the
    # hosts backend; the other backends start their own agents and ignore it.
    address: str | None = Field(default=None, pattern=_ADDRESS)
    # The node's NIC in megabits per second, shared by all it sends and, apart, all it
    # receives; None: the fastest link touching the node (see Cluster.nic).
    nic_mbps: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # The node's hardware class: nodes of one class run a task alike but for their speed,
    # so the execution profiler times a task on a few nodes of each class and scales the
    # figure to the others by speed (profiler/classes.py). None: see `node_classes` there.
    node_class: str | None = Field(default=None, alias="class", pattern=_NAME)


class Cluster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: list[NodeSpec]
    regions: dict[str, str] = Field(
        default_factory=lambda: {region.key: region.name for region in DEFAULT_REGIONS}
    )
    links: LinkTable = Field(
        default_factory=lambda: default_link_table(region.key for region in DEFAULT_REGIONS)
    )
    emulate: bool = True
    # Time dilation (DieCast, NSDI '08): the emulated clock runs this many times slower than
    # the host's, so that more emulated CPU fits on the host's cores. Every emulated wait is
    # this much longer: `link` and `stretch` include it. Set by `jupiter run
    # --time-dilation`, never in cluster.yaml; 1 is real time.
    dilation: float = Field(default=1.0, ge=1.0, allow_inf_nan=False)
    # Changes of emulated conditions the home applies during the stream (docs/emulation.md,
    # Changing conditions during a run).
    events: list[ScheduledChange] = Field(default_factory=list)

    _by_name: dict[str, NodeSpec] = PrivateAttr(default_factory=dict)
    _max_speed: float = PrivateAttr(default=1.0)
    # Region -> the fastest link between it and any other node's region, bytes/s.
    _fastest_link: dict[str, float] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        source = (info.context or {}).get("source")
        _check_cluster(self, source)
        self._by_name = {node.name: node for node in self.nodes}
        self._max_speed = max(node.speed for node in self.nodes)
        self._fastest_link = _fastest_links(self)
        return self

    @classmethod
    def default(cls, n: int, seed: int = 0) -> Cluster:
        """n nodes round robin over the eight default regions, speeds drawn from `seed`."""
        if n < 1:
            raise SpecError(None, "nodes", f"need at least 1 node, got {n}")
        width = max(2, len(str(n - 1)))
        rng = random.Random(seed)
        low, high = DEFAULT_SPEED_RANGE
        nodes = [
            NodeSpec(
                name=f"n{i:0{width}d}",
                region=DEFAULT_REGIONS[i % len(DEFAULT_REGIONS)].key,
                speed=round(rng.uniform(low, high), 3),
            )
            for i in range(n)
        ]
        return cls(nodes=nodes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "cluster JSON") -> Cluster:
        """The inverse of `to_dict`; `source` names the document in error messages."""
        try:
            return cls.model_validate(data, context={"source": source})
        except ValidationError as error:
            raise _spec_error(source, error) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (no infinities: same-node links are never stored)."""
        return self.model_dump()

    @property
    def node_names(self) -> list[str]:
        return [node.name for node in self.nodes]

    def node(self, name: str) -> NodeSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown node {name!r}") from None

    def link(self, a: str, b: str) -> Link:
        """The link data takes from node a to node b, on the host's clock: with a time
        dilation K, K times the latency and 1/K the bandwidth of the link table's."""
        if a == b:
            self.node(a)
            return LOCAL
        link = self.links[self.node(a).region][self.node(b).region]
        if self.dilation == 1.0:
            return link
        return Link(link.latency * self.dilation, link.bandwidth / self.dilation)

    def stretch(self, name: str) -> float:
        """CPU-time factor that makes this node look `speed`-slow on the host's clock: max
        speed / speed, times the time dilation; >= 1.

        Speeds are relative, and nothing here can run faster than the machine it is on, so
        the fastest node runs at host speed and every other node is slowed down in proportion.
        """
        return self._max_speed / self.node(name).speed * self.dilation

    def nic(self, name: str) -> float:
        """The node's NIC rate, bytes/s on the host's clock (dilated like `link`).

        Its `nic_mbps`, or by default the fastest link touching the node, so that one transfer
        alone never waits for a NIC and only concurrent ones share it; inf for a node that has
        no link to anyone.
        """
        node = self.node(name)
        if node.nic_mbps is not None:
            rate = node.nic_mbps * 1e6 / 8
        else:
            rate = self._fastest_link.get(node.region, math.inf)
        return rate / self.dilation

    def dilated(self, factor: float) -> Cluster:
        """This cluster with time dilation `factor` (>= 1) instead of its own."""
        if not factor >= 1.0 or factor == float("inf"):
            raise ValueError(f"a time dilation is a finite number >= 1, got {factor!r}")
        return self.model_copy(update={"dilation": float(factor)})


def _fastest_links(cluster: Cluster) -> dict[str, float]:
    """Per region of a node, the fastest link in either direction to another node's region
    (its own counts when it holds two nodes or more)."""
    count: dict[str, int] = {}
    for node in cluster.nodes:
        count[node.region] = count.get(node.region, 0) + 1
    fastest: dict[str, float] = {}
    for region in count:
        rates = [
            link.bandwidth
            for other in count
            if other != region or count[region] > 1
            for link in (cluster.links[region][other], cluster.links[other][region])
        ]
        if rates:
            fastest[region] = max(rates)
    return fastest


def _check_cluster(cluster: Cluster, source: str | None) -> None:
    """Cross-field rules pydantic's per-field checks cannot see."""
    if not cluster.nodes:
        raise SpecError(source, "nodes", "no nodes: list at least one {name, region}")
    known = ", ".join(cluster.regions)
    first_index: dict[str, int] = {}
    for i, node in enumerate(cluster.nodes):
        if node.name in first_index:
            raise SpecError(
                source,
                f"nodes[{i}].name",
                f"duplicate node name {node.name!r} (also nodes[{first_index[node.name]}])",
            )
        if node.name in RESERVED_NODE_NAMES:
            raise SpecError(source, f"nodes[{i}].name", f"{node.name!r} is reserved")
        first_index[node.name] = i
        if node.region not in cluster.regions:
            raise SpecError(
                source, f"nodes[{i}].region", f"unknown region {node.region!r} (known: {known})"
            )
    for region, row in cluster.links.items():
        for other in (region, *row):
            if other not in cluster.regions:
                raise SpecError(source, "links", f"unknown region {other!r} (known: {known})")
    used: dict[str, str] = {}
    for node in cluster.nodes:
        used.setdefault(node.region, node.name)
    for a, node_a in used.items():
        for b, node_b in used.items():
            if b not in cluster.links.get(a, {}):
                raise SpecError(
                    source,
                    "links",
                    f"no link from region {a!r} to {b!r} (needed by nodes {node_a!r} and "
                    f"{node_b!r}); add {{from: {a}, to: {b}, rtt_ms: ...}}",
                )
    _check_events(cluster, source)


def _check_events(cluster: Cluster, source: str | None) -> None:
    if cluster.events and not cluster.emulate:
        raise SpecError(source, "events", "changing conditions needs emulation (emulate: true)")
    names = {node.name for node in cluster.nodes}
    for i, event in enumerate(cluster.events):
        for name in (event.node, event.to):
            if name is not None and name not in names:
                raise SpecError(source, f"events[{i}]", f"no node {name!r} in the cluster")


# --- cluster.yaml ---------------------------------------------------------------------------


class RegionEntry(BaseModel):
    """A custom region: its links to other regions come from `links:` entries."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    key: str = Field(pattern=_NAME)
    name: str | None = Field(default=None, min_length=1)


class LinkEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    source: str = Field(alias="from")
    to: str
    # Physical bounds: no round trip beyond 10 minutes; from 1 kbit/s to 10 Tbit/s.
    rtt_ms: float | None = Field(default=None, ge=0, le=600_000, allow_inf_nan=False)
    # Megabits per second, as link speeds are quoted; Link.bandwidth is bytes per second.
    bandwidth_mbps: float | None = Field(default=None, ge=0.001, le=10_000_000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _something_given(self) -> Self:
        if self.rtt_ms is None and self.bandwidth_mbps is None:
            raise ValueError("give rtt_ms, bandwidth_mbps or both")
        return self


class ClusterFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: list[NodeSpec]
    regions: list[RegionEntry] = Field(default_factory=list)
    links: list[LinkEntry] = Field(default_factory=list)
    # Strict: `emulate: "yes"` or `emulate: 1` is a mistake, not a yes.
    emulate: StrictBool = True
    events: list[ScheduledChange] = Field(default_factory=list)


_FIELDS: dict[str, list[str]] = {
    "": ["nodes", "regions", "links", "emulate", "events"],
    "nodes": [field.alias or name for name, field in NodeSpec.model_fields.items()],
    "regions": list(RegionEntry.model_fields),
    "links": ["from", "to", "rtt_ms", "bandwidth_mbps"],
    "events": list(ScheduledChange.model_fields),
}


def load_cluster(path: str | Path) -> Cluster:
    """Read and validate a cluster.yaml; any problem is one SpecError naming file and field."""
    source = str(path)
    text = read_spec_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise _yaml_error(source, error) from None
    if data is None:
        raise SpecError(source, "nodes", "empty file: expected a mapping with 'nodes:'")
    if not isinstance(data, dict):
        raise SpecError(source, None, "expected a mapping with 'nodes:' at the top level")
    try:
        spec = ClusterFile.model_validate(data)
    except ValidationError as error:
        raise _spec_error(source, error) from None
    if not spec.nodes:
        raise SpecError(source, "nodes", "no nodes: list at least one {name, region}")
    regions = _resolve_regions(source, spec.regions)
    links = _resolve_links(source, regions, spec.links)
    try:
        return Cluster.model_validate(
            {
                "nodes": [node.model_dump() for node in spec.nodes],
                "regions": regions,
                "links": links,
                "emulate": spec.emulate,
                "events": [event.model_dump(exclude_none=True) for event in spec.events],
            },
            context={"source": source},
        )
    except ValidationError as error:
        raise _spec_error(source, error) from None


def _resolve_regions(source: str, entries: list[RegionEntry]) -> dict[str, str]:
    regions = {region.key: region.name for region in DEFAULT_REGIONS}
    for i, entry in enumerate(entries):
        if entry.key in regions:
            raise SpecError(source, f"regions[{i}].key", f"region {entry.key!r} already exists")
        regions[entry.key] = entry.name or entry.key
    return regions


def _resolve_links(source: str, regions: dict[str, str], entries: list[LinkEntry]) -> LinkTable:
    """Defaults first, then the overrides: symmetric unless the reverse is given too."""
    table = default_link_table(regions)
    given: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        for field_name, region in (("from", entry.source), ("to", entry.to)):
            if region not in regions:
                raise SpecError(
                    source,
                    f"links[{i}].{field_name}",
                    f"unknown region {region!r} (known: {', '.join(regions)})",
                )
        pair = (entry.source, entry.to)
        if pair in given:
            raise SpecError(
                source,
                f"links[{i}]",
                f"duplicate link {pair[0]} -> {pair[1]} (also links[{given[pair]}])",
            )
        given[pair] = i
    resolved: dict[tuple[str, str], Link] = {}
    for (a, b), i in given.items():
        resolved[(a, b)] = _entry_link(source, i, entries[i], table.get(a, {}).get(b))
        if (b, a) not in given:
            resolved[(b, a)] = _entry_link(source, i, entries[i], table.get(b, {}).get(a))
    for (a, b), link in resolved.items():
        table[a][b] = link
    return table


def _entry_link(source: str, i: int, entry: LinkEntry, default: Link | None) -> Link:
    if entry.rtt_ms is not None:
        rtt_ms = entry.rtt_ms
    elif default is not None:
        rtt_ms = default.rtt_ms
    else:
        raise SpecError(
            source,
            f"links[{i}].rtt_ms",
            f"required: there is no default RTT between {entry.source!r} and {entry.to!r}",
        )
    bandwidth = None if entry.bandwidth_mbps is None else entry.bandwidth_mbps * 1e6 / 8
    return Link.from_rtt(rtt_ms, bandwidth)


# --- one-line errors --------------------------------------------------------------------------


def _yaml_error(source: str, error: yaml.YAMLError) -> SpecError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
    return SpecError(source, where, f"invalid YAML: {problem}")


def _spec_error(source: str, error: ValidationError) -> SpecError:
    """The first pydantic error as `field: message` (plus how many more there are)."""
    errors = error.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    field = _field_path(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        parent = str(loc[0]) if len(loc) > 1 else ""
        allowed = ", ".join(_FIELDS.get(parent, []))
        message = f"unknown field (allowed: {allowed})" if allowed else "unknown field"
    elif kind == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "string_pattern_mismatch":
        what = "class" if loc and loc[-1] == "class" else "name"
        message = (
            f"{first['input']!r} is not a valid {what}: use letters, digits, '_', '.', '-' "
            "(at most 63, starting with a letter or digit)"
        )
    else:
        message = first["msg"]
        message = message[:1].lower() + message[1:]
        if kind.startswith(("greater_than", "less_than", "finite")):
            message += f", got {first['input']!r}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return SpecError(source, field or None, message)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
