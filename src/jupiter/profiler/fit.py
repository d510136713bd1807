"""Fitting `seconds = p + q*size + r*size^2` to timed transfers of one link.

Two choices shape the fit:

- Non-negative coefficients. A negative latency or a negative per-byte cost is never
  physical, yet an unconstrained least-squares fit produces one whenever noise tilts the
  small transfers. With three unknowns, non-negative least squares is solved exactly by
  trying every subset of free coefficients (the optimum is the unconstrained fit on its own
  set of positive coefficients, so it is among the candidates).
- Relative residuals. Transfer times span three orders of magnitude across the probed sizes;
  absolute residuals would let the largest transfers decide everything and leave the latency
  (what small messages pay) to chance. Each size's residual is divided by its time, which is
  also how the fit is judged: predictions within some percentage.

Repeated probes of one size are reduced to their lower quartile first (the minimum for up to
four probes). Noise on a transfer time only ever adds: a busy CPU or a queue delays bytes, it
never speeds them up. The low end is what the link and the transfer path cost; the rest
depends on what else ran at that moment, which during a run will not be the same as while
probing. A single slow probe therefore cannot pull the curve.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuadraticFit:
    """`p + q*size + r*size^2` seconds, fitted over `samples` transfers of `sizes` bytes."""

    p: float
    q: float
    r: float
    samples: int
    sizes: tuple[int, ...]
    # Root mean square of (fitted - measured) / measured over the per-size floors.
    rel_rms: float

    def seconds(self, size: float) -> float:
        return self.p + self.q * size + self.r * size * size

    @property
    def latency(self) -> float:
        return self.p

    @property
    def resolved(self) -> bool:
        """Whether the probes told sizes apart: False for one size, or sizes within noise."""
        return self.q > 0 or self.r > 0

    @property
    def bandwidth(self) -> float:
        """Bytes per second over the largest probed transfer, net of latency (inf when not
        resolved).

        For a linear fit this is 1/q; it stays finite and meaningful when the fit puts the
        size dependence into r instead of q.
        """
        largest = max(self.sizes)
        moving = self.seconds(largest) - self.p
        return largest / moving if moving > 0 else math.inf


def per_size_floor(samples: Iterable[tuple[int, float]]) -> dict[int, float]:
    """Each probed size's lower quartile of times (an order statistic: one actual sample)."""
    by_size: dict[int, list[float]] = defaultdict(list)
    for size, seconds in samples:
        by_size[int(size)].append(float(seconds))
    return {size: sorted(times)[(len(times) - 1) // 4] for size, times in sorted(by_size.items())}


def fit_quadratic(samples: Iterable[tuple[int, float]]) -> QuadraticFit | None:
    """The fit over (size, seconds) samples; None without samples.

    With two sizes the curvature cannot be told from noise, so r stays 0; with one, only
    the latency is known (p is that size's time, q = r = 0: the bandwidth is unresolved).
    """
    samples = list(samples)
    floors = per_size_floor(samples)
    if not floors:
        return None
    if len(floors) == 1:
        [(size, seconds)] = floors.items()
        return QuadraticFit(seconds, 0.0, 0.0, len(samples), (size,), 0.0)
    sizes = np.array(list(floors), dtype=float)
    times = np.array(list(floors.values()), dtype=float)
    # Sizes scaled to at most 1: size^2 in bytes reaches 1e13 and would ruin the conditioning.
    scale = float(sizes.max())
    x = sizes / scale
    columns = [np.ones_like(x), x, x * x] if len(floors) >= 3 else [np.ones_like(x), x]
    weights = 1.0 / np.maximum(times, 1e-9)
    design = np.column_stack(columns) * weights[:, None]
    target = times * weights
    coefficients = nnls_small(design, target)
    p, q, r = (*coefficients, 0.0, 0.0)[:3]
    fitted = np.column_stack(columns) @ coefficients
    rel_rms = float(np.sqrt(np.mean(((fitted - times) / times) ** 2)))
    return QuadraticFit(
        p=float(p),
        q=float(q) / scale,
        r=float(r) / (scale * scale),
        samples=len(samples),
        sizes=tuple(int(s) for s in floors),
        rel_rms=rel_rms,
    )


def nnls_small(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin ||a x - b|| subject to x >= 0, exactly, for a handful of columns."""
    n = a.shape[1]
    best = np.zeros(n)
    best_residual = float(np.sum(b * b))
    for k in range(1, n + 1):
        for free in itertools.combinations(range(n), k):
            solution, *_ = np.linalg.lstsq(a[:, free], b, rcond=None)
            if np.any(solution < 0):
                continue
            candidate = np.zeros(n)
            candidate[list(free)] = solution
            residual = float(np.sum((a @ candidate - b) ** 2))
            if residual < best_residual:
                best, best_residual = candidate, residual
    return best
