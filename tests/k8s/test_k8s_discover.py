"""Nodes from the cluster's own labels: who takes part, in which region, at what speed."""

from __future__ import annotations

from typing import Any

import pytest

from jupiter.errors import SpecError
from jupiter.k8s.discover import cluster_from_nodes

REGION = "topology.kubernetes.io/region"


def node(name: str, ready: bool = True, cordoned: bool = False, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"jupiter.io/node": "true", **labels}},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_regions_speeds_and_names_come_from_labels() -> None:
    cluster, notes = cluster_from_nodes(
        [
            node("pi-2", **{REGION: "sgp", "jupiter.io/speed": "0.25"}),
            node("vm-1", **{REGION: "fra", "jupiter.io/name": "cloud-fra"}),
            node("pi-3", ready=False, **{REGION: "sgp"}),
            node("pi-4", cordoned=True, **{REGION: "sgp"}),
        ]
    )
    assert [(n.name, n.host, n.region, n.speed) for n in cluster.nodes] == [
        ("pi-2", "pi-2", "sgp", 0.25),
        ("cloud-fra", "vm-1", "fra", 1.0),
    ]
    assert notes == ["pi-3: not Ready, left out", "pi-4: cordoned, left out"]
    assert cluster.emulate is False
    assert cluster.link("pi-2", "cloud-fra").rtt_ms == pytest.approx(179)


def test_unlabelled_nodes_share_one_region_and_custom_regions_alone_are_fine() -> None:
    plain, _ = cluster_from_nodes([node("a"), node("b")])
    assert {n.region for n in plain.nodes} == {"local"}
    custom, _ = cluster_from_nodes(
        [node("a", **{REGION: "us-west-2"}), node("b", **{REGION: "us-west-2"})]
    )
    assert custom.link("a", "b").rtt_ms == pytest.approx(0.5)


def test_hardware_classes_come_from_the_standard_labels() -> None:
    instance, arch = "node.kubernetes.io/instance-type", "kubernetes.io/arch"
    cluster, _ = cluster_from_nodes(
        [
            node("vm-1", **{instance: "m5.large", arch: "amd64"}),
            node("vm-2", **{instance: "m5.large", arch: "amd64"}),
            node("pi-1", **{arch: "arm64"}),
            node("odd", **{instance: "Standard D2s/v3", arch: "amd64"}),
            node("own", **{instance: "m5.large", "jupiter.io/class": "camera"}),
            node("bare"),
        ]
    )
    assert {n.name: n.node_class for n in cluster.nodes} == {
        "vm-1": "m5.large-amd64",
        "vm-2": "m5.large-amd64",
        "pi-1": "arm64",
        "odd": "Standard-D2s-v3-amd64",
        "own": "camera",
        "bare": None,
    }


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([], "no usable node: label some with `kubectl label node NAME jupiter.io/node=true`"),
        (
            [node("a", **{REGION: "us-west-2"}), node("b", **{REGION: "sgp"})],
            "no link data between regions 'sgp' and 'us-west-2'",
        ),
        (
            [node("a", **{"jupiter.io/speed": "fast"})],
            "jupiter.io/speed='fast': expected a positive",
        ),
        (
            [node("a", **{"jupiter.io/class": "two words"})],
            "a: jupiter.io/class='two words': expected at most 63 letters",
        ),
        (
            [node("a", **{"jupiter.io/name": "x"}), node("b", **{"jupiter.io/name": "x"})],
            "duplicate node name 'x'",
        ),
    ],
)
def test_what_cannot_make_a_cluster_is_one_line(nodes: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(SpecError) as error:
        cluster_from_nodes(nodes)
    assert str(error.value).startswith("Kubernetes nodes labelled jupiter.io/node=true")
    assert message in str(error.value)
