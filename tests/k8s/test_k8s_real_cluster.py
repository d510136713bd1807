"""The diamond example on a real cluster, end to end: only with JUPITER_KUBECONFIG.

JUPITER_KUBECONFIG=~/.kube/config            the cluster to use (required)
JUPITER_K8S_IMAGE=registry/jupiter-diamond:1  the diamond app image (required; see
                                              docs/kubernetes.md for building it)
JUPITER_K8S_CLUSTER=cluster.yaml              nodes to use (default: the nodes labelled
                                              jupiter.io/node=true)
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from k8s_helpers import EXAMPLES

KUBECONFIG = os.environ.get("JUPITER_KUBECONFIG")
IMAGE = os.environ.get("JUPITER_K8S_IMAGE")
CLUSTER = os.environ.get("JUPITER_K8S_CLUSTER")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not KUBECONFIG, reason="real-cluster test: set JUPITER_KUBECONFIG to run it"
    ),
    pytest.mark.skipif(
        bool(KUBECONFIG) and not IMAGE,
        reason="real-cluster test: set JUPITER_K8S_IMAGE to the diamond app image",
    ),
]


def test_the_diamond_runs_on_the_cluster_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from jupiter.k8s.client import connect, resource
    from jupiter.k8s.pipeline import KubernetesRun, run_on_kubernetes
    from jupiter.k8s.settings import RunSettings

    assert KUBECONFIG is not None and IMAGE is not None
    spec = KubernetesRun(
        app=EXAMPLES / "diamond",
        image=IMAGE,
        out_dir=tmp_path / "out",
        settings=RunSettings(inputs=6, register_timeout=300, timeout=300),
        cluster_file=Path(CLUSTER) if CLUSTER else None,
        kubeconfig=Path(KUBECONFIG),
    )
    report = asyncio.run(run_on_kubernetes(spec))

    samples = sorted((EXAMPLES / "diamond" / "samples").glob("*.txt"))
    for entry in report["inputs"]:
        numbers = map(int, samples[entry["id"] % len(samples)].read_text().split())
        expected = "".join(f"{(x + 1) * (x + 3)}\n" for x in numbers)
        assert Path(entry["outputs"]["d"]).read_text() == expected
    roles = report["kubernetes"]["roles"]
    assert roles["agent"]["deploy"] > 0 and roles["home"]["deploy"] > 0

    run_id = report["run_id"]

    async def left() -> list[str]:
        client = connect(Path(KUBECONFIG))
        try:
            found = []
            for kind in ("Pod", "Service", "Job", "ConfigMap", "Secret", "NetworkPolicy"):
                async for obj in client.list(
                    resource(kind),
                    namespace=report["kubernetes"]["namespace"],
                    labels={"jupiter.io/run": run_id},
                ):
                    found.append(f"{kind}/{obj.metadata.name}")
            return found
        finally:
            await client.close()

    assert asyncio.run(left()) == []
