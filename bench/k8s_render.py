"""Rendering a 106-node run's manifests: `python bench/k8s_render.py [--repeats 21]`.

Times the whole of `jupiter k8s render` after start-up: loading the app and the cluster file,
building the objects, and writing the YAML files (libyaml when PyYAML has it). Prints the
median and the slowest of the repeats, and the first (cold) run apart, since it pays for
imports and caches. Target: well under a second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from jupiter.agent.auth import new_token
from jupiter.app.spec import load_app
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.k8s.manifest_files import write_manifests
from jupiter.k8s.render import RenderOptions, render

NODES = 106
APP = Path(__file__).resolve().parents[1] / "examples" / "anomaly-detection"


def cluster_file(directory: Path) -> Path:
    nodes = [
        {"name": n.name, "region": n.region, "speed": n.speed, "host": f"worker-{i}"}
        for i, n in enumerate(Cluster.default(NODES).nodes)
    ]
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump({"nodes": nodes, "emulate": False}))
    return path


def once(cluster_path: Path, out: Path) -> tuple[dict[str, float], int]:
    """Seconds spent loading the inputs, building the objects and writing YAML."""
    began = time.perf_counter()
    app = load_app(APP)
    cluster = load_cluster(cluster_path)
    loaded = time.perf_counter()
    options = RenderOptions(
        image="registry.example.com/anomaly:1", run_id="bench", token=new_token(), namespace="ns"
    )
    objects = render(app, cluster, options)
    built = time.perf_counter()
    write_manifests(objects, out)
    done = time.perf_counter()
    parts = {"total": done - began, "load": loaded - began, "build": built - loaded}
    return {**parts, "write": done - built}, len(objects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as tmp:
        directory = Path(tmp)
        path = cluster_file(directory)
        cold, count = once(path, directory / "out")
        runs = [once(path, directory / "out")[0] for _ in range(args.repeats)]

    def median_ms(part: str) -> float:
        return statistics.median(run[part] for run in runs) * 1e3

    slowest = max(run["total"] for run in runs) * 1e3
    print(
        f"k8s render, {NODES} nodes, {count} objects: median {median_ms('total'):.0f} ms "
        f"(load {median_ms('load'):.0f}, build {median_ms('build'):.0f}, "
        f"write YAML {median_ms('write'):.0f}), slowest {slowest:.0f} ms over {args.repeats} "
        f"runs, cold first run {cold['total'] * 1e3:.0f} ms; target: well under 1 s"
    )


if __name__ == "__main__":
    main()
