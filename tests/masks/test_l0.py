"""Hard-concrete gates and the L0 penalty (Louizos et al. 2018): worked
values, hand-written derivatives against central differences in float64, the
sampled gates' non-zero rate against the penalty's probability, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tdnumpy.masks import (hard_concrete_gate, hard_concrete_mean, hard_concrete_mean_grad, hard_concrete_sample,
                           l0_penalty, nonzero_probability)


def test_worked_values():
    # log_alpha = 0: P(z != 0) = sigmoid(beta log(zeta / -gamma)) = 1 / (1 + 11^(-2/3))
    value, grad = l0_penalty(np.zeros(3))
    p = 1 / (1 + 11 ** (-2 / 3))
    assert value == pytest.approx(3 * p, rel=1e-12) and grad == pytest.approx(p * (1 - p), rel=1e-12)
    assert hard_concrete_mean(np.array([0.0, -10.0, 10.0])) == pytest.approx([0.5, 0.0, 1.0])
    z, dz = hard_concrete_gate(np.array([0.0]), np.array([0.5]))  # s = 1/2: z = 0.5 * 1.2 - 0.1
    assert z == pytest.approx([0.5]) and dz == pytest.approx([1.2 * 0.25 * 1.5])


def central(f, x, h=1e-6):
    out = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        out.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def test_gate_derivative_matches_central_differences():
    rng = np.random.default_rng(0)
    log_alpha = rng.normal(0, 2, 200)
    u = rng.uniform(0.01, 0.99, 200)
    z, dz = hard_concrete_gate(log_alpha, u)
    inside = (z > 1e-4) & (z < 1 - 1e-4)  # away from the clip's kinks
    assert inside.sum() > 50 and (dz[~((z > 0) & (z < 1))] == 0).all()
    numeric = np.array([(hard_concrete_gate(log_alpha[i:i + 1] + 1e-6, u[i:i + 1])[0][0]
                         - hard_concrete_gate(log_alpha[i:i + 1] - 1e-6, u[i:i + 1])[0][0]) / 2e-6
                        for i in np.flatnonzero(inside)])
    assert np.max(np.abs(numeric - dz[inside]) / np.abs(dz[inside])) < 1e-6


def test_penalty_gradient_matches_central_differences():
    log_alpha = np.random.default_rng(1).normal(0, 3, 20)
    _, grad = l0_penalty(log_alpha)
    numeric = central(lambda a: l0_penalty(a)[0], log_alpha)
    assert np.max(np.abs(numeric - grad) / np.abs(grad)) < 1e-6


@pytest.mark.parametrize("log_alpha", [-2.0, 0.0, 1.5])
def test_sampled_gates_are_non_zero_as_often_as_the_penalty_says(log_alpha):
    n = 200_000
    z, _ = hard_concrete_sample(np.full(n, log_alpha), np.random.default_rng(2))
    p = l0_penalty(np.array([log_alpha]))[0]
    # exact binomial bounds with a false-failure rate of 1e-6 (5e-7 on each side)
    low, high = stats.binom.ppf(5e-7, n, p), stats.binom.isf(5e-7, n, p)
    assert low <= np.count_nonzero(z) <= high


@pytest.mark.parametrize("kwargs, named", [
    ({"beta": 0.0}, "'beta'"), ({"beta": -1.0}, "'beta'"), ({"gamma": 0.0}, "'gamma'"),
    ({"gamma": 0.2}, "'gamma'"), ({"zeta": 1.0}, "'zeta'"), ({"zeta": 0.9}, "'zeta'"),
])
def test_bad_temperature_or_stretch_is_named(kwargs, named):
    for f in (lambda: l0_penalty(np.zeros(2), **kwargs), lambda: hard_concrete_mean(np.zeros(2), **kwargs),
              lambda: hard_concrete_sample(np.zeros(2), np.random.default_rng(0), **kwargs)):
        with pytest.raises(ValueError, match=named) as info:
            f()
        assert repr(next(iter(kwargs.values()))) in str(info.value)


def test_bad_draws_and_locations_are_named():
    with pytest.raises(ValueError, match="'u'.*\\(0, 1\\)"):
        hard_concrete_gate(np.zeros(2), np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match="'log_alpha'"):
        l0_penalty(np.array([np.nan]))


def test_a_draw_near_1_is_not_rounded_to_1_for_float32_gates():
    # 1 - 2^-40 is 1.0 in float32; the gate computes in float64 and returns float32
    z, dz = hard_concrete_gate(np.zeros(2, np.float32), np.array([1 - 2.0 ** -40, 0.5]))
    assert z.dtype == dz.dtype == np.float32 and z.tolist() == [1.0, 0.5] and dz[0] == 0


def test_mean_gate_derivative_matches_central_differences():
    """The evaluation gate's derivative, 0 where the gate is clipped at 0 or 1 (points
    kept 1e-4 away from the kinks at sigmoid = 1/12 and 11/12)."""
    a = np.linspace(-6, 6, 241)
    s = 1 / (1 + np.exp(-a))
    a = a[(np.abs(s - 1 / 12) > 1e-4) & (np.abs(s - 11 / 12) > 1e-4)]
    h = 1e-6
    numeric = (hard_concrete_mean(a + h) - hard_concrete_mean(a - h)) / (2 * h)
    np.testing.assert_allclose(hard_concrete_mean_grad(a), numeric, rtol=1e-7, atol=1e-9)
    assert (hard_concrete_mean_grad(np.array([-5.0, 5.0])) == 0).all()


def test_nonzero_probability_is_the_penalty_summand():
    a = np.array([-2.0, 0.0, 3.0])
    p = nonzero_probability(a)
    assert l0_penalty(a)[0] == pytest.approx(p.sum(), rel=1e-15)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-(a - (2 / 3) * np.log(0.1 / 1.1)))), rtol=1e-14)
