"""Sparse variational dropout (Molchanov et al. 2017): the clipped log alpha,
the KL approximation against the exact KL by quadrature, hand-written
gradients against central differences, the local reparameterisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from tdnumpy.masks import keep_probability, local_reparameterization, neg_kl, vd_keep, vd_log_alpha, vd_penalty
from tdnumpy.masks.variational import K1, K2


def exact_neg_kl(log_alpha: float) -> tuple[float, float]:
    """-KL(N(theta, alpha theta^2) || log-uniform) up to the constant that makes it 0 as alpha -> inf:
    0.5 log alpha - E log|1 + sqrt(alpha) z| + E log|z|, z ~ N(0, 1); and quad's error estimate."""
    s = np.exp(log_alpha / 2)
    f = lambda z: np.log(abs(1 + s * z)) * stats.norm.pdf(z)  # noqa: E731
    a, ea = integrate.quad(f, -np.inf, -1 / s, limit=200)
    b, eb = integrate.quad(f, -1 / s, np.inf, limit=200)
    return 0.5 * log_alpha - (a + b) - (np.euler_gamma + np.log(2)) / 2, ea + eb


def test_the_kl_approximation_is_within_0_01_of_the_exact_kl():
    grid = np.linspace(-8, 8, 161)
    exact = np.array([exact_neg_kl(a) for a in grid])
    assert exact[:, 1].max() < 1e-6  # quadrature error, far below the fit's
    error = np.abs(neg_kl(grid)[0] - exact[:, 0])
    assert error.max() < 0.01  # measured: 0.0094 at log alpha = -3.5
    assert error.max() > 0.005  # the fit is not exact; a wrong constant or sign would show at either end


def test_worked_values():
    value, _ = neg_kl(np.array([0.0]))
    assert value[0] == pytest.approx(K1 / (1 + np.exp(-K2)) - 0.5 * np.log(2) - K1, rel=1e-12)
    log_alpha, d_theta, d_sigma = vd_log_alpha(np.array([2.0, 0.0, 1e-6]), np.array([0.0, 0.0, 5.0]))
    assert log_alpha == pytest.approx([-np.log(4), 8.0, 8.0])
    assert d_theta == pytest.approx([-1.0, 0.0, 0.0]) and d_sigma == pytest.approx([1.0, 0.0, 0.0])


def test_gradients_match_central_differences():
    rng = np.random.default_rng(3)
    theta = rng.normal(0, 1, (6, 5))
    log_sigma2 = np.log(np.square(theta)) + rng.uniform(-6, 6, theta.shape)  # log alpha inside the clip
    _, d_theta, d_sigma = vd_penalty(theta, log_sigma2)
    h = 1e-6
    for which, grad in ((0, d_theta), (1, d_sigma)):
        numeric = np.empty_like(theta)
        for i in range(theta.size):
            e = np.zeros_like(theta)
            e.flat[i] = h
            args_plus = (theta + e, log_sigma2) if which == 0 else (theta, log_sigma2 + e)
            args_minus = (theta - e, log_sigma2) if which == 0 else (theta, log_sigma2 - e)
            numeric.flat[i] = (vd_penalty(*args_plus)[0] - vd_penalty(*args_minus)[0]) / (2 * h)
        assert np.max(np.abs(numeric - grad) / np.abs(grad)) < 1e-6
    _, grad = neg_kl(np.linspace(-8, 8, 33))
    numeric = (neg_kl(np.linspace(-8, 8, 33) + h)[0] - neg_kl(np.linspace(-8, 8, 33) - h)[0]) / (2 * h)
    assert np.max(np.abs(numeric - grad) / np.abs(grad)) < 1e-6


def test_local_reparameterisation_has_the_posterior_mean_and_variance():
    rng = np.random.default_rng(4)
    x, theta = rng.normal(size=(7, 4)), rng.normal(size=(4, 3))
    log_sigma2 = rng.normal(-3, 1, (4, 3))
    mean = local_reparameterization(x, theta, log_sigma2, np.zeros((7, 3)))
    assert mean == pytest.approx(x @ theta)
    alpha = np.exp(vd_log_alpha(theta, log_sigma2)[0])
    spread = local_reparameterization(x, theta, log_sigma2, np.ones((7, 3))) - mean
    assert spread == pytest.approx(np.sqrt(np.square(x) @ (alpha * np.square(theta))))


def test_weights_above_the_threshold_are_dropped():
    theta = np.array([1.0, 1.0, 1.0])
    keep = vd_keep(theta, np.array([2.9, 3.0, 3.1]))
    assert keep.tolist() == [True, True, False]
    with pytest.raises(ValueError, match="'threshold'.*9.0"):
        vd_keep(theta, np.zeros(3), threshold=9.0)
    with pytest.raises(ValueError, match="'log_sigma2'"):
        vd_log_alpha(theta, np.zeros(2))


def test_keep_probability_is_one_over_one_plus_alpha_before_the_clip():
    theta = np.array([0.5, -2.0, 0.0, 1e-6])
    log_sigma2 = np.array([np.log(0.25), np.log(1.0), -3.0, 0.0])  # alpha = 1, 1/4, inf, 1e12 (beyond the clip)
    np.testing.assert_allclose(keep_probability(theta, log_sigma2), [0.5, 0.8, 0.0, 1 / (1 + 1e12)], rtol=1e-9)
    with pytest.raises(ValueError, match="'log_sigma2' parameter of keep_probability"):
        keep_probability(theta, log_sigma2[:2])
