"""Cluster spec: defaults, cluster.yaml loading, bad files, JSON round trip, stretch."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from jupiter.cluster.links import LOCAL
from jupiter.cluster.regions import DEFAULT_RTT_MS, INTRA_REGION_RTT_MS, tcp_bandwidth
from jupiter.cluster.spec import Cluster, NodeSpec, load_cluster
from jupiter.errors import SpecError


def write(tmp_path: Path, text: str, name: str = "cluster.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- Cluster.default ------------------------------------------------------------------------


def test_default_spreads_106_nodes_over_the_eight_regions() -> None:
    cluster = Cluster.default(106)
    assert len(cluster.nodes) == 106
    assert cluster.node_names[0] == "n000" and cluster.node_names[-1] == "n105"
    per_region = Counter(node.region for node in cluster.nodes)
    assert len(per_region) == 8
    assert set(per_region.values()) == {13, 14}
    assert [cluster.node(f"n00{i}").region for i in range(3)] == ["sfo", "nyc", "tor"]
    assert all(0.5 <= node.speed <= 1.0 for node in cluster.nodes)
    assert cluster.emulate


def test_default_is_deterministic_by_seed() -> None:
    speeds = [node.speed for node in Cluster.default(20, seed=1).nodes]
    assert speeds == [node.speed for node in Cluster.default(20, seed=1).nodes]
    assert speeds != [node.speed for node in Cluster.default(20, seed=2).nodes]
    assert len(set(speeds)) > 10


def test_default_names_are_padded_to_the_width_of_n_minus_1() -> None:
    assert Cluster.default(3).node_names == ["n00", "n01", "n02"]
    assert Cluster.default(100).node_names[-1] == "n99"
    assert Cluster.default(101).node_names[-1] == "n100"
    with pytest.raises(SpecError):
        Cluster.default(0)


def test_links_between_nodes() -> None:
    cluster = Cluster.default(16)
    assert cluster.link("n00", "n00") == LOCAL
    same_region = cluster.link("n00", "n08")  # both sfo
    assert same_region.latency == pytest.approx(INTRA_REGION_RTT_MS / 2000)
    far = cluster.link("n01", "n07")  # nyc -> blr
    assert far.latency == pytest.approx(DEFAULT_RTT_MS[("nyc", "blr")] / 2000)
    assert far.bandwidth == pytest.approx(tcp_bandwidth(DEFAULT_RTT_MS[("nyc", "blr")]))
    with pytest.raises(KeyError):
        cluster.link("n00", "nope")


def test_stretch_normalises_to_the_fastest_node() -> None:
    cluster = Cluster(
        nodes=[
            NodeSpec(name="fast", region="sfo", speed=2.0),
            NodeSpec(name="mid", region="sfo", speed=1.0),
            NodeSpec(name="slow", region="nyc", speed=0.5),
        ]
    )
    assert cluster.stretch("fast") == 1.0
    assert cluster.stretch("mid") == 2.0
    assert cluster.stretch("slow") == 4.0
    spread = Cluster.default(50)
    stretches = [spread.stretch(name) for name in spread.node_names]
    assert min(stretches) == 1.0 and all(s >= 1.0 for s in stretches)


def test_json_round_trip() -> None:
    cluster = Cluster.default(12, seed=7)
    text = json.dumps(cluster.to_dict(), allow_nan=False)
    again = Cluster.from_dict(json.loads(text))
    assert again == cluster
    assert again.link("n03", "n05") == cluster.link("n03", "n05")
    assert again.stretch("n04") == cluster.stretch("n04")


def test_from_dict_errors_are_spec_errors() -> None:
    data = Cluster.default(3).to_dict()
    data["nodes"][2]["region"] = "tokio"
    with pytest.raises(SpecError, match=r"^cluster JSON: nodes\[2\]\.region: unknown region"):
        Cluster.from_dict(data)
    data = Cluster.default(3).to_dict()
    data["nodes"][1]["speed"] = 0
    with pytest.raises(SpecError, match=r"^cluster JSON: nodes\[1\]\.speed: "):
        Cluster.from_dict(data)


# --- cluster.yaml ---------------------------------------------------------------------------

GOOD = """\
# Two cloud nodes and an edge lab.
nodes:
  - {name: cloud-a, region: sfo, speed: 1.0}
  - {name: cloud-b, region: fra, speed: 0.8, host: 10.0.0.2}
  - name: pi-1
    region: lab
    speed: 0.25
regions:
  - {key: lab, name: USC edge lab}
links:
  - {from: lab, to: sfo, rtt_ms: 12, bandwidth_mbps: 100}
  - {from: lab, to: fra, rtt_ms: 160, bandwidth_mbps: 20}
  - {from: fra, to: lab, rtt_ms: 170}
  - {from: sfo, to: fra, bandwidth_mbps: 400}
  - {from: lab, to: lab, rtt_ms: 2, bandwidth_mbps: 50}
emulate: true
"""


def test_load_a_full_cluster_file(tmp_path: Path) -> None:
    cluster = load_cluster(write(tmp_path, GOOD))
    assert cluster.node_names == ["cloud-a", "cloud-b", "pi-1"]
    assert cluster.node("cloud-b").host == "10.0.0.2"
    assert cluster.regions["lab"] == "USC edge lab"
    assert cluster.regions["sfo"] == "San Francisco"
    # Symmetric when only one direction is given.
    lab_sfo = cluster.link("pi-1", "cloud-a")
    assert lab_sfo == cluster.link("cloud-a", "pi-1")
    assert lab_sfo.latency == pytest.approx(0.006)
    assert lab_sfo.bandwidth == pytest.approx(100e6 / 8)
    # Each direction its own when both are given; a missing bandwidth comes from the model.
    assert cluster.link("pi-1", "cloud-b").latency == pytest.approx(0.080)
    assert cluster.link("pi-1", "cloud-b").bandwidth == pytest.approx(20e6 / 8)
    back = cluster.link("cloud-b", "pi-1")
    assert back.latency == pytest.approx(0.085)
    assert back.bandwidth == pytest.approx(tcp_bandwidth(170))
    # A bandwidth-only override keeps each direction's default RTT.
    sfo_fra = cluster.link("cloud-a", "cloud-b")
    assert sfo_fra.rtt_ms == pytest.approx(DEFAULT_RTT_MS[("sfo", "fra")])
    assert cluster.link("cloud-b", "cloud-a").rtt_ms == pytest.approx(
        DEFAULT_RTT_MS[("fra", "sfo")]
    )
    assert sfo_fra.bandwidth == pytest.approx(50e6)
    assert cluster.links["lab"]["lab"].rtt_ms == pytest.approx(2.0)
    assert cluster.stretch("pi-1") == pytest.approx(4.0)
    assert Cluster.from_dict(json.loads(json.dumps(cluster.to_dict()))) == cluster


def test_minimal_file_and_emulate_off(tmp_path: Path) -> None:
    cluster = load_cluster(
        write(
            tmp_path,
            "nodes:\n  - {name: 1, region: nyc}\n  - {name: b, region: blr}\nemulate: false\n",
        )
    )
    assert cluster.node_names == ["1", "b"]
    assert cluster.node("1").speed == 1.0
    assert not cluster.emulate
    assert cluster.link("1", "b").rtt_ms == pytest.approx(DEFAULT_RTT_MS[("nyc", "blr")])


BAD_FILES = [
    (
        "nodes:\n  - {name: a, region: sfo}\n  - {name: a, region: nyc}\n",
        "cluster.yaml: nodes[1].name: duplicate node name 'a' (also nodes[0])",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\n  - {name: b, region: sfo}\n"
        "  - {name: c, region: sfo}\n  - {name: d, region: tokio}\n",
        "cluster.yaml: nodes[3].region: unknown region 'tokio' "
        "(known: sfo, nyc, tor, ams, lon, fra, sgp, blr)",
    ),
    (
        "nodes:\n  - {name: a, region: sfo, speed: 0}\n",
        "cluster.yaml: nodes[0].speed: input should be greater than or equal to 0.001, got 0",
    ),
    (
        "nodes:\n  - {name: a, region: sfo, speed: -2.5}\n",
        "cluster.yaml: nodes[0].speed: input should be greater than or equal to 0.001, got -2.5",
    ),
    (
        "nodes:\n  - {name: a, region: sfo, speed: .inf}\n",
        "cluster.yaml: nodes[0].speed: input should be a finite number, got inf",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n"
        "  - {from: sfo, to: nyc, rtt_ms: 70, bandwidth_mbps: 0}\n",
        "cluster.yaml: links[0].bandwidth_mbps: input should be greater than or equal to "
        "0.001, got 0",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n  - {from: sfo, to: nyc, rtt_ms: -5}\n",
        "cluster.yaml: links[0].rtt_ms: input should be greater than or equal to 0, got -5",
    ),
    ("nodes: []\n", "cluster.yaml: nodes: no nodes: list at least one {name, region}"),
    ("", "cluster.yaml: nodes: empty file: expected a mapping with 'nodes:'"),
    (
        "- {name: a, region: sfo}\n",
        "cluster.yaml: expected a mapping with 'nodes:' at the top level",
    ),
    (
        "nodes:\n  - {name: a, region: sfo\n  - {name: b, region: nyc}\n",
        "cluster.yaml: line 3, column 5: invalid YAML: expected ',' or '}', but got '{'",
    ),
    (
        "nodes:\n  - name: a\n    region: sfo\n   speed: 2\n",
        "cluster.yaml: line 4, column 4: invalid YAML: expected <block end>, but found "
        "'<block mapping start>'",
    ),
    ("nodes:\n  - {name: a}\n", "cluster.yaml: nodes[0].region: required field is missing"),
    (
        "nodes:\n  - {name: a, region: sfo, sped: 2}\n",
        "cluster.yaml: nodes[0].sped: unknown field "
        "(allowed: name, region, speed, host, address, nic_mbps, class)",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nemulation: false\n",
        "cluster.yaml: emulation: unknown field (allowed: nodes, regions, links, emulate, events)",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nemulate: maybe\n",
        "cluster.yaml: emulate: input should be a valid boolean",
    ),
    ("nodes: {name: a, region: sfo}\n", "cluster.yaml: nodes: input should be a valid list"),
    (
        "nodes:\n  - {name: a, region: sfo}\n  - {name: b, region: sfo, class: 'gpu box'}\n",
        "cluster.yaml: nodes[1].class: 'gpu box' is not a valid class: use letters, digits, "
        "'_', '.', '-' (at most 63, starting with a letter or digit)",
    ),
    (
        "nodes:\n  - {name: a/b, region: sfo}\n",
        "cluster.yaml: nodes[0].name: 'a/b' is not a valid name: use letters, digits, '_', "
        "'.', '-' (at most 63, starting with a letter or digit)",
    ),
    ("nodes:\n  - {name: home, region: sfo}\n", "cluster.yaml: nodes[0].name: 'home' is reserved"),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n  - {from: sfo, to: mars, rtt_ms: 9}\n",
        "cluster.yaml: links[0].to: unknown region 'mars' "
        "(known: sfo, nyc, tor, ams, lon, fra, sgp, blr)",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n  - {from: sfo, to: nyc, rtt_ms: 9}\n"
        "  - {from: nyc, to: sfo, rtt_ms: 9}\n  - {from: sfo, to: nyc, rtt_ms: 8}\n",
        "cluster.yaml: links[2]: duplicate link sfo -> nyc (also links[0])",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n  - {from: sfo, to: nyc}\n",
        "cluster.yaml: links[0]: give rtt_ms, bandwidth_mbps or both",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nregions:\n  - {key: lab}\nlinks:\n"
        "  - {from: lab, to: sfo, bandwidth_mbps: 10}\n",
        "cluster.yaml: links[0].rtt_ms: required: there is no default RTT between 'lab' and 'sfo'",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\n  - {name: b, region: lab}\nregions:\n"
        "  - {key: lab}\n",
        "cluster.yaml: links: no link from region 'sfo' to 'lab' (needed by nodes 'a' and 'b'); "
        "add {from: sfo, to: lab, rtt_ms: ...}",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nregions:\n  - {key: sfo, name: Mine}\n",
        "cluster.yaml: regions[0].key: region 'sfo' already exists",
    ),
    (
        "nodes:\n  - {name: a, region: sfo, speed: 0}\n  - {name: b}\n",
        "cluster.yaml: nodes[0].speed: input should be greater than or equal to 0.001, got 0 "
        "(and 1 more problem)",
    ),
    # Values outside physical sense are refused with their range, not overflowed.
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n"
        "  - {from: sfo, to: nyc, bandwidth_mbps: 1e308}\n",
        "cluster.yaml: links[0].bandwidth_mbps: input should be less than or equal to "
        "10000000, got '1e308'",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n"
        "  - {from: sfo, to: nyc, bandwidth_mbps: 1e-300}\n",
        "cluster.yaml: links[0].bandwidth_mbps: input should be greater than or equal to "
        "0.001, got '1e-300'",
    ),
    (
        "nodes:\n  - {name: a, region: sfo, speed: 1e-300}\n",
        "cluster.yaml: nodes[0].speed: input should be greater than or equal to 0.001, "
        "got '1e-300'",
    ),
    (
        "nodes:\n  - {name: a, region: sfo}\nlinks:\n  - {from: sfo, to: nyc, rtt_ms: 1e300}\n",
        "cluster.yaml: links[0].rtt_ms: input should be less than or equal to 600000, got '1e300'",
    ),
    (
        'emulate: "yes"\nnodes:\n  - {name: a, region: sfo}\n',
        "cluster.yaml: emulate: input should be a valid boolean",
    ),
    (
        "nodes:\n  - {name: a, region: \x00sfo}\n",
        "cluster.yaml: line 2, column 23: control character '\\x00' (only tab and newline "
        "belong in a spec)",
    ),
    (
        "nodes: " + "[" * 100_000 + "\n",
        "cluster.yaml: nested more than 64 levels deep",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_cluster_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        load_cluster("cluster.yaml")
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_node_classes_load_and_survive_the_json_round_trip(tmp_path: Path) -> None:
    write(
        tmp_path,
        "nodes:\n  - {name: a, region: sfo, class: m5.large-amd64}\n"
        "  - {name: b, region: sfo, class: 7}\n  - {name: c, region: sfo}\n",
    )
    cluster = load_cluster(tmp_path / "cluster.yaml")
    assert [n.node_class for n in cluster.nodes] == ["m5.large-amd64", "7", None]
    # Spelt `class` in the cluster's JSON too (what agents and the home pod read).
    assert [n["class"] for n in cluster.to_dict()["nodes"]] == ["m5.large-amd64", "7", None]
    assert Cluster.from_dict(cluster.to_dict()) == cluster


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read: No such file or directory$"):
        load_cluster(tmp_path / "nope.yaml")


def test_direct_construction_errors_name_the_field() -> None:
    with pytest.raises(SpecError, match=r"^nodes\[0\]\.region: unknown region 'x'"):
        Cluster(nodes=[NodeSpec(name="a", region="x")])
    with pytest.raises(SpecError, match=r"^nodes: no nodes"):
        Cluster(nodes=[])
    assert math.isinf(LOCAL.bandwidth)
