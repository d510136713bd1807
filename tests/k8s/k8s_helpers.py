"""Shared helpers of the Kubernetes tests: clusters with Kubernetes hosts, the examples."""

from __future__ import annotations

from pathlib import Path

import yaml

from jupiter.cluster.spec import Cluster, NodeSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_APPS = sorted(path for path in EXAMPLES.iterdir() if (path / "app.yaml").is_file())


def hosted_cluster(n: int, emulate: bool = False) -> Cluster:
    """n nodes over the default regions, node i on Kubernetes node worker-i."""
    base = Cluster.default(n)
    nodes = [
        NodeSpec(name=node.name, region=node.region, speed=node.speed, host=f"worker-{i}")
        for i, node in enumerate(base.nodes)
    ]
    return Cluster(nodes=nodes, emulate=emulate)


def write_cluster_file(path: Path, n: int, hosts: bool = True) -> Path:
    base = Cluster.default(n)
    nodes = []
    for i, node in enumerate(base.nodes):
        entry = {"name": node.name, "region": node.region, "speed": node.speed}
        if hosts:
            entry["host"] = f"worker-{i}"
        nodes.append(entry)
    path.write_text(yaml.safe_dump({"nodes": nodes, "emulate": False}, sort_keys=False))
    return path
