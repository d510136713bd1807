"""Probe sizes sized to the app: the network fit is accurate where the mapper uses it.

A link's fit `p + q*size + r*size^2` is used at the sizes the app's data really has, and
probing sizes the app never sends costs time for nothing: a 4 MiB probe takes a second on
a slow link, twice per link in the first round. So the sizes span the app's smallest to its
largest transfer: the outputs of tasks that have children (measured ones when an earlier
profile of the app measured them, else `estimate.output_bytes` in app.yaml) and the source
inputs' sample files. Within a floor (below it a probe measures latency alone, and the
host's cost of a request dominates) and a cap (the largest default size), with at least two
sizes a factor `SPREAD` apart so that a fit has a slope, and a size every factor `STEP`
between the ends, at most `MAX_SIZES` of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from jupiter.api.profiler import DEFAULT_SIZES
from jupiter.app.spec import App
from jupiter.errors import SpecError

KIB = 1024
FLOOR = 4 * KIB
CAP = 4 * KIB * KIB
# The two ends at least this far apart: the larger probe must take measurably more link
# time than the smaller for the fit's per-byte term to mean anything.
SPREAD = 8
# One size for every factor of STEP between the ends (8: 4K, 32K, 256K, 2M, as the defaults).
STEP = 8
MAX_SIZES = 4


def app_transfer_sizes(app: App, measured: Mapping[str, int] | None = None) -> list[int]:
    """Bytes the app moves between nodes: each source sample file's size, and the output of
    every task with children (`measured[task]` where known, else its declared estimate;
    tasks with neither are left out)."""
    measured = measured or {}
    sizes: list[int] = []
    for source in app.sources:
        sizes.extend(path.stat().st_size for path in app.sample_inputs(source))
    for name, task in app.tasks.items():
        if not app.downstream(name):
            continue  # an exit's output goes home, over no profiled link
        size = measured.get(name, task.estimate_output_bytes)
        if size is not None:
            sizes.append(size)
    return sizes


def probe_sizes(
    transfers: Iterable[int],
    floor: int = FLOOR,
    cap: int = CAP,
    spread: int = SPREAD,
    step: int = STEP,
    max_sizes: int = MAX_SIZES,
) -> list[int]:
    """Probe sizes spanning `transfers` (bytes), clamped to [floor, cap], at least two and
    `spread` apart, geometric in between, whole KiB; the defaults when nothing is known."""
    known = [size for size in transfers if size >= 0]
    if not known:
        return list(DEFAULT_SIZES)
    low = min(max(min(known), floor), cap)
    high = min(max(max(known), floor), cap)
    if high < low * spread:
        # Widen upwards (transfers bigger than the app's own cost little more to probe),
        # downwards only at the cap.
        high = min(cap, low * spread)
        low = max(floor, min(low, high // spread))
    count = 1 + math.ceil(math.log(high / low, step) - 1e-9)
    count = max(2, min(max_sizes, count))
    ratio = (high / low) ** (1 / (count - 1))
    sizes = {_whole_kib(low * ratio**i) for i in range(count)}
    sizes.update({_whole_kib(low), _whole_kib(high)})
    return sorted(size for size in sizes if floor <= size <= cap) or [floor, floor * spread]


def _whole_kib(size: float) -> int:
    return max(KIB, round(size / KIB) * KIB)


_UNITS = {"": 1, "B": 1, "K": 1024, "KIB": 1024, "M": 1024**2, "MIB": 1024**2}


def parse_sizes(text: str, option: str) -> list[int]:
    """ "4K,256K,1M" -> bytes (binary units), at least two different sizes."""
    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip().upper()
        digits = part.rstrip("KMIB")
        unit = part[len(digits) :]
        if not digits.isdigit() or unit not in _UNITS or int(digits) == 0:
            raise SpecError(None, option, f"{part!r} is not a size like 4K, 256K or 1M")
        sizes.append(int(digits) * _UNITS[unit])
    if len(set(sizes)) < 2:
        raise SpecError(None, option, "give at least two different sizes: a fit needs them")
    return sorted(set(sizes))
