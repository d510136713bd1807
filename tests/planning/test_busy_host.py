"""`--time-dilation auto` on a busy host: it counts only the cores other work leaves free."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cpu_affinity import pinned_to_one_core
from jupiter.planning.cpu_demand import CpuDemand, cores_busy_elsewhere

HOG = "while True: pass"


@contextlib.contextmanager
def hog_on(core: int) -> Iterator[None]:
    """A busy loop in its own process, pinned to `core`."""
    process = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        os.sched_setaffinity(process.pid, {core})
        yield
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    ("demand", "cores", "busy", "expected"),
    [
        (3.0, 2, 0.0, 2),  # 3 / (0.8 * 2)
        (3.0, 2, 1.0, 4),  # one core left: 3 / (0.8 * 1)
        (3.0, 2, 2.0, 8),  # nothing left: the floor counts on a quarter of the cores
        (0.5, 2, 1.5, 2),  # 0.5 / (0.8 * 0.5)
        (0.1, 2, 0.0, 1),
    ],
)
def test_auto_dilation_fits_the_demand_into_the_free_cores(
    demand: float, cores: int, busy: float, expected: int
) -> None:
    estimate = CpuDemand(
        demand=demand, cpu_per_input=1.0, period=1.0, cores=cores, busy_elsewhere=busy
    )
    assert estimate.dilation_for() == expected


def test_a_cpu_hog_on_the_runs_core_counts_as_busy() -> None:
    with pinned_to_one_core() as core, hog_on(core):
        busy = cores_busy_elsewhere(0.5)
    # The hog takes most of the one core this run may use (the sampler itself sleeps).
    assert busy >= 0.6
