"""The Profile document and the scheduling problem built from it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from jupiter.app.spec import load_app
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.mapper.problem import LinkModel
from jupiter.planning.problem import build_problem
from jupiter.profiler.model import LinkProfile, Profile, ResourceSample

DIAMOND = Path(__file__).resolve().parents[2] / "examples" / "diamond"


def resources(cpu: float) -> ResourceSample:
    return ResourceSample(
        at=time.time(),
        cpu_percent=50.0,
        node_cpu_percent=cpu,
        memory_percent=30.0,
        memory_available=1 << 30,
        load_1m=1.0,
        load_5m=1.0,
        load_15m=1.0,
        cpus=2,
    )


def diamond_profile(cluster: Cluster) -> Profile:
    nodes = cluster.node_names
    links = {
        a: {
            b: LinkProfile(p=0.01 * (i + 1), q=1e-8 * (j + 1), r=0.0, samples=5, sizes=[1, 2])
            for j, b in enumerate(nodes)
            if b != a
        }
        for i, a in enumerate(nodes)
    }
    return Profile(
        app="diamond",
        tasks=["a", "b", "c", "d"],
        nodes=nodes,
        emulated=True,
        created_at=time.time(),
        links=links,
        resources={node: resources(10.0 * i) for i, node in enumerate(nodes)},
        compute={
            t: {n: 0.5 + k + 0.1 * i for i, n in enumerate(nodes)} for k, t in enumerate("abcd")
        },
        output_bytes={"a": 1000, "b": 2000, "c": 3000, "d": 4000},
        settings={"execution": {"repeats": 3}},
    )


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    profile = diamond_profile(Cluster.default(3))
    path = profile.save(tmp_path / "sub" / "profile.json")
    assert Profile.load(path) == profile


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON"),
        ('{"app": "x"}', "not a Jupiter profile"),
        ("[1, 2]", "not a Jupiter profile"),
    ],
)
def test_a_bad_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(SpecError, match=message) as caught:
        Profile.load(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(SpecError, match="cannot read"):
        Profile.load(tmp_path / "missing.json")


def test_a_profile_of_other_nodes_or_tasks_is_refused_in_one_line() -> None:
    profile = diamond_profile(Cluster.default(3))
    profile.check_matches(["a", "b", "c", "d"], ["n00", "n01", "n02"], "p.json")
    with pytest.raises(SpecError) as caught:
        profile.check_matches(["a", "b", "c", "d"], ["n00", "n01", "n02", "n03"], "p.json")
    assert str(caught.value) == (
        "p.json: nodes: profile of 'diamond' does not match this run's nodes: it lacks n03"
    )
    with pytest.raises(SpecError, match=r"tasks: .* lacks e and has unknown d"):
        profile.check_matches(["a", "b", "c", "e"], ["n00", "n01", "n02"], "p.json")
    del profile.compute["c"]["n01"]
    with pytest.raises(SpecError, match=r"compute\.c: no execution figures on n01"):
        profile.check_matches(["a", "b", "c", "d"], ["n00", "n01", "n02"], "p.json")


def test_the_problem_takes_every_figure_from_the_profile() -> None:
    app = load_app(DIAMOND)
    cluster = Cluster.default(3)
    profile = diamond_profile(cluster)
    built = build_problem(app, cluster, profile)
    problem = built.problem
    assert problem.compute["c"] == profile.compute["c"]
    assert problem.compute["numbers"] == dict.fromkeys(cluster.node_names, 0.0)
    sizes = {(e.src, e.dst): e.bytes for e in problem.edges}
    assert sizes[("a", "b")] == sizes[("a", "c")] == 1000
    assert sizes[("c", "d")] == 3000
    assert sizes[("numbers", "a")] == build_problem(app, cluster).problem.edges[0].bytes
    assert problem.links["n01"]["n02"] == profile.links["n01"]["n02"].model()
    assert problem.links["n01"]["n02"].p == 0.02
    assert problem.load["n02"] == {"cpu": 20.0, "memory": 30.0}
    sources = built.sources
    assert sources["compute"].startswith("execution profile")
    assert sources["data_sizes"].startswith("execution profile")
    assert sources["links"] == "network profile: quadratic fits of timed transfers, 6 of 6 links"
    assert sources["load"].startswith("resource profile")
    json.dumps(problem.to_dict())  # a valid PROBLEM.json


def test_gaps_in_the_network_profile_are_filled_from_the_link_model_and_said_so() -> None:
    app = load_app(DIAMOND)
    cluster = Cluster.default(3)
    profile = diamond_profile(cluster)
    del profile.links["n00"]["n01"]
    profile.links["n02"]["n00"] = LinkProfile(p=0.03, q=0.0, r=0.0, samples=2, sizes=[1, 2])
    built = build_problem(app, cluster, profile)
    link = cluster.link("n00", "n01")
    assert built.problem.links["n00"]["n01"] == LinkModel(link.latency, 1 / link.bandwidth, 0.0)
    bandwidth = cluster.link("n02", "n00").bandwidth
    assert built.problem.links["n02"]["n00"] == LinkModel(0.03, 1 / bandwidth, 0.0)
    assert built.sources["links"] == (
        "network profile: quadratic fits of timed transfers, 5 of 6 links; 1 from the cluster "
        "link model; bandwidth from the cluster link model on 1 whose probes have not resolved "
        "it yet"
    )


def test_without_a_profile_the_estimates_path_is_unchanged() -> None:
    app = load_app(DIAMOND)
    built = build_problem(app, Cluster.default(3))
    assert built.sources["compute"].startswith("declared estimates")
    assert built.sources["links"] == "cluster link model (latency, bandwidth)"
    assert built.problem.load == {}


@pytest.mark.parametrize(("measured_under", "run_under"), [(1.0, 3.0), (4.0, 2.0), (2.0, 2.0)])
def test_a_profile_from_another_time_dilation_is_rescaled_to_the_runs(
    measured_under: float, run_under: float
) -> None:
    # Its seconds are host seconds under its own K: a run under another K would otherwise
    # predict K times too fast or too slow once the report divides by the run's K.
    app = load_app(DIAMOND)
    cluster = Cluster.default(3)
    profile = diamond_profile(cluster).model_copy(update={"dilation": measured_under})
    built = build_problem(app, cluster.dilated(run_under), profile)
    ratio = run_under / measured_under
    assert built.problem.compute["c"] == {
        node: pytest.approx(seconds * ratio) for node, seconds in profile.compute["c"].items()
    }
    fit, link = profile.links["n01"]["n02"], built.problem.links["n01"]["n02"]
    assert (link.p, link.q, link.r) == pytest.approx((fit.p * ratio, fit.q * ratio, 0.0))
    assert ("profile_dilation" in built.sources) is (ratio != 1.0)


def test_a_profile_saved_before_dilation_was_recorded_reads_as_real_time(tmp_path: Path) -> None:
    data = json.loads(diamond_profile(Cluster.default(3)).model_dump_json())
    del data["dilation"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert Profile.load(path).dilation == 1.0
