"""The stream prediction against real runs: emulated links, real agents, --no-profile.

Tolerance: measured mean makespan and throughput within 1.5x of the prediction (and the
makespan not below 0.8x of it). What the model leaves out is the host's own work: each task
run costs about 5 ms of hand-over to its worker (and a worker's first run about 0.1 s of
start-up), each hop a loopback HTTP transfer, against 0.1 s tasks and 36 ms links. A stream
that outruns its busiest node keeps every such delay, so measured runs about 1.1-1.2x the
prediction here; 1.5x holds that with room on a busy host with two shared cores, while the
one-input prediction misses the queued stream by more than that (checked below).
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest
import yaml
from tests.e2e.apps import diamond

from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.controller.run import RunOptions, RunResult, run
from jupiter.report.report import build_report

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Every task takes this long (its declared estimate) by sleeping: a busy loop would take
# longer on a host whose two cores other work shares, and the model has one clock.
TASK_SECONDS = 0.1
PAUSE = f"""
import time

_mix = mix


def mix(name, inputs, output):
    time.sleep({TASK_SECONDS})
    _mix(name, inputs, output)
"""

# Speed 1 everywhere (no stretch); three regions 36-37 ms apart one way.
CLUSTER = {
    "nodes": [
        {"name": "n0", "region": "sfo"},
        {"name": "n1", "region": "nyc"},
        {"name": "n2", "region": "tor"},
    ]
}


def spread_diamond(root: Path) -> Path:
    """The diamond a -> (b, c) -> d with b and c on other nodes than a and d: every input
    crosses two WAN links, and n0 runs 2 x TASK_SECONDS of it."""
    app = diamond(root)
    spec = yaml.safe_load((app / "app.yaml").read_text())
    for task, node in {"a": "n0", "b": "n1", "c": "n2", "d": "n0"}.items():
        spec["tasks"][task]["node"] = node
        spec["tasks"][task]["estimate"]["seconds"] = TASK_SECONDS
    spec["sources"][0]["node"] = "n0"
    (app / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    # The pause wraps mix(), which every task calls.
    text = (app / "tasks.py").read_text()
    head, tasks = text.split("\n\ndef a(", 1)
    (app / "tasks.py").write_text(head + PAUSE + "\n\ndef a(" + tasks)
    return app


def stream(tmp_path: Path, name: str, **parameters: float | int) -> RunResult:
    cluster_file = tmp_path / "cluster.yaml"
    cluster_file.write_text(yaml.safe_dump(CLUSTER))
    options = RunOptions(
        backend=LocalBackend(),
        app=spread_diamond(tmp_path / name),
        cluster=load_cluster(cluster_file),
        out_dir=tmp_path / f"out-{name}",
        profiling=False,
        **parameters,  # type: ignore[arg-type]
    )
    return asyncio.run(run(options))


def ratio(result: RunResult) -> tuple[float, float]:
    """measured / predicted, for the mean makespan and for the throughput."""
    report = build_report(result, "heft")
    section = report.stream_prediction
    assert section is not None and report.makespan is not None
    assert section.measured_mean_makespan == pytest.approx(report.makespan.mean)
    assert section.throughput is not None and report.throughput.per_second is not None
    return (
        report.makespan.mean / section.mean_makespan,
        section.throughput / report.throughput.per_second,
    )


def test_one_input_at_a_time_is_predicted_within_the_tolerance(tmp_path: Path) -> None:
    result = stream(tmp_path, "alone", inputs=8, max_in_flight=1)
    assert result.stream_prediction is not None
    # Alone, every input is the idle-cluster schedule (a, b | c, d and two WAN hops) and
    # the home's two requests, handing it over and its output home.
    host = result.stream_prediction.parameters.host
    alone = [i.makespan for i in result.stream_prediction.inputs]
    assert alone == pytest.approx([result.schedule.makespan + host.inject + host.deliver] * 8)
    makespan_ratio, throughput_ratio = ratio(result)
    assert 0.8 <= makespan_ratio <= 1.5, makespan_ratio
    assert throughput_ratio <= 1.5, throughput_ratio


def test_a_stream_faster_than_its_busiest_node_is_predicted_within_the_tolerance(
    tmp_path: Path,
) -> None:
    # n0 needs 2 x 0.1 s per input; one comes every 0.1 s, so its queue grows.
    result = stream(tmp_path, "stream", inputs=10, interval=TASK_SECONDS)
    prediction = result.stream_prediction
    assert prediction is not None
    assert prediction.bottleneck() == ("n0", pytest.approx(2 * TASK_SECONDS))
    makespan_ratio, throughput_ratio = ratio(result)
    assert 0.8 <= makespan_ratio <= 1.5, makespan_ratio
    assert 1 / 1.5 <= throughput_ratio <= 1.5, throughput_ratio
    # The one-input prediction is no description of this stream: it misses by more.
    measured_mean = sum(result.makespans.values()) / len(result.makespans)
    assert measured_mean > 1.5 * result.schedule.makespan
    report = build_report(result, "heft")
    assert report.stream_prediction is not None
    assert report.stream_prediction.explanation is not None
    assert [i.id for i in report.stream_prediction.inputs] == list(range(10))
    assert all(i.measured is not None for i in report.stream_prediction.inputs)


def test_the_homes_requests_are_timed_and_predicted_as_host_overhead(tmp_path: Path) -> None:
    # examples/diamond's tasks take under a millisecond on one node: handing each input to
    # its source's node and its output home, a loopback request each, is most of its time.
    options = RunOptions(
        backend=LocalBackend(),
        app=EXAMPLES / "diamond",
        cluster=Cluster.default(2),
        inputs=6,
        max_in_flight=1,
        out_dir=tmp_path / "out",
        profiling=False,
    )
    result = asyncio.run(run(options))
    assert result.stream_prediction is not None
    host = result.stream_prediction.parameters.host
    assert 0.0 < host.inject < 0.1 and host.deliver == host.inject
    section = build_report(result, "heft").stream_prediction
    assert section is not None
    predicted = statistics.fmean(i.predicted.host_overhead for i in section.inputs)
    measured = statistics.fmean(i.measured.host_overhead for i in section.inputs if i.measured)
    assert predicted == pytest.approx(host.inject + host.deliver)
    # The same requests, timed before the stream and lived through in it.
    assert 1 / 3 <= measured / predicted <= 3.0, (measured, predicted)
