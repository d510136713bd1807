"""The home's own requests in `--time-dilation auto`: timed on this host's loopback, and
kept below a share of one input's emulated makespan by the dilation they ask for."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest

from jupiter.cluster.spec import Cluster
from jupiter.mapper.schedule import Assignment, Schedule
from jupiter.planning.cpu_demand import HOST_OVERHEAD_SHARE, CpuDemand, peak_cores
from jupiter.planning.host_requests import MAX_PROBE_BYTES, request_seconds


def demand(host_per_input: float, makespan: float, cpu_demand: float = 0.1) -> CpuDemand:
    return CpuDemand(
        demand=cpu_demand,
        cpu_per_input=0.0,
        period=1.0,
        cores=2,
        host_per_input=host_per_input,
        makespan=makespan,
    )


@pytest.mark.parametrize(
    ("host", "makespan", "expected"),
    [
        (0.002, 0.002, 10),  # 2 ms of requests on a 2 ms input: 0.2 ms at K = 10
        (0.002, 0.1, 1),  # 2% of a 100 ms input: no dilation needed
        (0.002, 0.015, 2),  # 0.002 / (0.1 * 0.015) = 1.33
        (0.0, 0.002, 1),  # not measured: the CPU demand alone decides
        (0.002, 0.0, 1),  # an input that takes no time cannot be dilated into shape
    ],
)
def test_the_homes_requests_ask_for_a_dilation_that_keeps_them_small(
    host: float, makespan: float, expected: int
) -> None:
    assert HOST_OVERHEAD_SHARE == 0.1
    assert demand(host, makespan).dilation_for() == expected


def test_the_cpu_demand_still_decides_when_it_asks_for_more() -> None:
    # 3 cores of demand on 2: K = 2, above the requests' K = 1.
    assert demand(0.002, 0.1, cpu_demand=3.0).dilation_for() == 2


def test_a_request_is_timed_on_this_hosts_loopback_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    sample = tmp_path / "input.txt"
    sample.write_bytes(b"1\n2\n3\n")
    threads = threading.active_count()
    connections = len(psutil.Process().net_connections())
    seconds = request_seconds(sample)
    # A loopback request is well under a second and more than nothing, on any host.
    assert 0.0 < seconds < 1.0
    assert threading.active_count() == threads
    assert len(psutil.Process().net_connections()) <= connections


def test_a_large_input_is_timed_by_its_first_mebibyte(tmp_path: Path) -> None:
    sample = tmp_path / "big.bin"
    sample.write_bytes(b"x" * (MAX_PROBE_BYTES * 3))
    assert 0.0 < request_seconds(sample, probes=2) < 5.0


def test_the_peak_is_the_most_cores_one_inputs_tasks_use_at_once() -> None:
    # A task on a node of stretch s uses 1 / s of a core. a and b overlap on 0.5-1; c
    # starts as a ends (what ends goes first): a and b at most, never all three.
    cluster = Cluster.default(4)
    n0, n1 = cluster.node_names[:2]
    both = 1 / cluster.stretch(n0) + 1 / cluster.stretch(n1)
    schedule = Schedule(
        "x",
        {
            "a": Assignment("a", n0, 0.0, 1.0),
            "b": Assignment("b", n1, 0.5, 2.0),
            "c": Assignment("c", n0, 1.0, 1.5),
        },
    )
    assert peak_cores(schedule, cluster) == pytest.approx(both)
    # Twice the dilation, half the cores at once: each task holds its slot twice as long.
    assert peak_cores(schedule, cluster.dilated(2)) == pytest.approx(both / 2)


def test_a_peak_above_half_the_free_cores_asks_for_dilation() -> None:
    peaky = CpuDemand(demand=0.5, cpu_per_input=0.0, period=1.0, cores=2, peak=3.0)
    # 3 cores at once on 2: K = 3 / (0.5 * 2).
    assert peaky.dilation_for() == 3
