"""The link fit: exact on clean data, never unphysical, not pulled by a slow probe."""

from __future__ import annotations

import numpy as np
import pytest

from jupiter.profiler.fit import fit_quadratic, nnls_small, per_size_floor

KIB = 1024
MIB = 1024 * KIB
SIZES = [4 * KIB, 32 * KIB, 256 * KIB, 1 * MIB, 4 * MIB]


def test_recovers_latency_bandwidth_and_curvature_from_clean_samples() -> None:
    p, q, r = 0.040, 1 / 20e6, 2e-15
    fit = fit_quadratic((s, p + q * s + r * s * s) for s in SIZES)
    assert fit is not None
    assert fit.p == pytest.approx(p, rel=1e-6)
    assert fit.q == pytest.approx(q, rel=1e-6)
    assert fit.r == pytest.approx(r, rel=1e-4)
    assert fit.sizes == tuple(SIZES)
    assert fit.rel_rms < 1e-9
    assert fit.seconds(512 * KIB) == pytest.approx(p + q * 512 * KIB + r * (512 * KIB) ** 2)


def test_coefficients_stay_non_negative_where_least_squares_would_not() -> None:
    # Times that fall with size: an unconstrained fit has a negative slope.
    samples = [(4 * KIB, 0.050), (256 * KIB, 0.049), (4 * MIB, 0.048)]
    unconstrained = np.polyfit([s for s, _ in samples], [t for _, t in samples], 2)
    assert (unconstrained < 0).any()
    fit = fit_quadratic(samples)
    assert fit is not None
    assert min(fit.p, fit.q, fit.r) >= 0
    assert fit.p == pytest.approx(0.049, abs=0.002)
    # And times that would give a negative latency: the fit goes through the origin instead.
    fit = fit_quadratic([(1 * MIB, 0.010), (2 * MIB, 0.030), (4 * MIB, 0.070)])
    assert fit is not None and fit.p >= 0 and fit.q > 0


def test_a_slow_probe_among_repeats_does_not_pull_the_fit() -> None:
    p, q = 0.020, 1 / 50e6
    samples = [(s, p + q * s) for s in SIZES for _ in range(3)]
    samples.append((32 * KIB, 0.5))  # one probe that met a busy CPU
    fit = fit_quadratic(samples)
    assert fit is not None
    assert fit.p == pytest.approx(p, rel=0.01)
    assert fit.bandwidth == pytest.approx(50e6, rel=0.01)
    assert fit.samples == len(samples)


def test_floor_is_the_lower_quartile_per_size() -> None:
    floors = per_size_floor([(1, 5.0), (1, 1.0), (1, 3.0), (2, 9.0)] + [(3, t) for t in range(8)])
    assert floors == {1: 1.0, 2: 9.0, 3: 1.0}


def test_small_latency_is_recovered_despite_large_transfers_dominating_in_seconds() -> None:
    # Relative residuals: 1 ms of noise on a 0.8 s transfer must not move a 5 ms latency.
    p, q = 0.005, 1 / 5e6
    noisy = {4 * MIB: +0.004, 1 * MIB: -0.002}
    fit = fit_quadratic((s, p + q * s + noisy.get(s, 0.0)) for s in SIZES)
    assert fit is not None
    assert fit.p == pytest.approx(p, rel=0.05)


def test_two_sizes_fit_a_line_and_one_size_only_a_latency() -> None:
    fit = fit_quadratic([(4 * KIB, 0.011), (64 * KIB, 0.014)])
    assert fit is not None and fit.r == 0.0 and fit.resolved
    assert fit.q == pytest.approx(0.003 / (60 * KIB))
    fit = fit_quadratic([(4 * KIB, 0.02), (4 * KIB, 0.01)])
    assert fit is not None
    assert (fit.p, fit.q, fit.r, fit.sizes) == (0.01, 0.0, 0.0, (4 * KIB,))
    assert not fit.resolved and fit.bandwidth == float("inf")
    assert fit_quadratic([]) is None


def test_nnls_small_meets_the_optimality_conditions() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        a = rng.normal(size=(6, 3))
        b = rng.normal(size=6)
        x = nnls_small(a, b)
        gradient = a.T @ (a @ x - b)
        assert (x >= 0).all()
        # KKT: zero gradient on free coefficients, non-negative on those held at zero.
        assert np.allclose(gradient[x > 0], 0, atol=1e-9)
        assert (gradient[x == 0] >= -1e-9).all()
