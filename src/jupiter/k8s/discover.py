"""The cluster from the cluster itself: Kubernetes nodes labelled `jupiter.io/node=true`.

    kubectl label node edge-7 jupiter.io/node=true
    kubectl label node edge-7 topology.kubernetes.io/region=sgp     # clouds set this already
    kubectl label node edge-7 jupiter.io/name=camera-7 jupiter.io/speed=0.5   # optional
    kubectl label node edge-7 jupiter.io/class=pi4                             # optional

A region from the default table (sfo, nyc, ..., blr) brings its measured links; any other
region is added as a custom one, and since nothing is known about its links to other regions
such a cluster needs a cluster.yaml (`links:`) unless it is the only region. Nodes without a
region label share the region `local`. Cordoned and not-ready nodes are left out.

A node's hardware class (which nodes the execution profiler may time for the others,
profiler/classes.py) is its `jupiter.io/class` label, else its instance type and
architecture from the standard `node.kubernetes.io/instance-type` and `kubernetes.io/arch`
labels (`m5.large-amd64`; either alone if only one is set), else none: a class of its own.
"""

from __future__ import annotations

import math
import re
from typing import Any

from jupiter.cluster.links import default_link_table
from jupiter.cluster.regions import DEFAULT_REGIONS
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.k8s import names
from jupiter.k8s.client import api_errors, resource

SOURCE = f"Kubernetes nodes labelled {names.PARTICIPATE_LABEL}=true"
UNLABELLED_REGION = "local"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_NOT_IN_CLASS = re.compile(r"[^A-Za-z0-9_.-]+")


async def discover_cluster(client: Any) -> tuple[Cluster, list[str]]:
    """The participating nodes as a Cluster (emulation off), and notes on nodes left out."""
    with api_errors(f"listing nodes labelled {names.PARTICIPATE_LABEL}=true"):
        found = [
            obj.to_dict()
            async for obj in client.list(resource("Node"), labels={names.PARTICIPATE_LABEL: "true"})
        ]
    return cluster_from_nodes(found)


def cluster_from_nodes(found: list[dict[str, Any]]) -> tuple[Cluster, list[str]]:
    notes: list[str] = []
    nodes: list[dict[str, Any]] = []
    for node in sorted(found, key=lambda n: n["metadata"]["name"]):
        host = node["metadata"]["name"]
        labels = node["metadata"].get("labels") or {}
        if (node.get("spec") or {}).get("unschedulable"):
            notes.append(f"{host}: cordoned, left out")
            continue
        if not _is_ready(node):
            notes.append(f"{host}: not Ready, left out")
            continue
        name = labels.get(names.NAME_LABEL, host)
        if not _NAME.match(name):
            raise SpecError(
                SOURCE,
                f"{host}",
                f"{name!r} is not a valid Jupiter node name; label the node "
                f"{names.NAME_LABEL}=<at most 63 letters, digits, '_', '.', '-'>",
            )
        nodes.append(
            {
                "name": name,
                "region": labels.get(names.REGION_LABEL, UNLABELLED_REGION),
                "speed": _speed(host, labels.get(names.SPEED_LABEL)),
                "host": host,
                "class": _hardware_class(host, labels),
            }
        )
    if not nodes:
        raise SpecError(
            SOURCE,
            None,
            f"no usable node: label some with `kubectl label node NAME "
            f"{names.PARTICIPATE_LABEL}=true`, or give --cluster FILE",
        )
    regions = {region.key: region.name for region in DEFAULT_REGIONS}
    for node in nodes:
        regions.setdefault(node["region"], node["region"])
    links = default_link_table(regions)
    used = sorted({node["region"] for node in nodes})
    for a in used:
        for b in used:
            if b not in links[a]:
                raise SpecError(
                    SOURCE,
                    "regions",
                    f"no link data between regions {a!r} and {b!r}: list the nodes in a "
                    "cluster.yaml with `links:` between them and pass --cluster",
                )
    cluster = Cluster.from_dict(
        {"nodes": nodes, "regions": regions, "links": _plain(links), "emulate": False}, SOURCE
    )
    return cluster, notes


def _plain(links: Any) -> dict[str, dict[str, dict[str, float]]]:
    return {
        a: {b: {"latency": link.latency, "bandwidth": link.bandwidth} for b, link in row.items()}
        for a, row in links.items()
    }


def _is_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _hardware_class(host: str, labels: dict[str, str]) -> str | None:
    """The node's class from its labels; None if they say nothing."""
    given = labels.get(names.CLASS_LABEL)
    if given is not None:
        if not _NAME.match(given):
            raise SpecError(
                SOURCE,
                host,
                f"{names.CLASS_LABEL}={given!r}: expected at most 63 letters, digits, '_', "
                "'.', '-'",
            )
        return given
    parts = [labels.get(names.INSTANCE_TYPE_LABEL), labels.get(names.ARCH_LABEL)]
    # The cloud's own names: made to fit a class name rather than refused.
    words = [_NOT_IN_CLASS.sub("-", part).strip("-._") for part in parts if part]
    joined = "-".join(word for word in words if word)[:63].rstrip("-._")
    return joined or None


def _speed(host: str, value: str | None) -> float:
    if value is None:
        return 1.0
    try:
        speed = float(value)
    except ValueError:
        speed = math.nan
    if not math.isfinite(speed) or speed <= 0:
        raise SpecError(SOURCE, host, f"{names.SPEED_LABEL}={value!r}: expected a positive number")
    return speed
