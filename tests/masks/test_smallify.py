"""Smallify (Leclerc et al. 2018): the switches' L1 penalty and the
sign-variance rule that removes units whose switch keeps changing sign."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.masks import sign_variance_step, switch_penalty


def test_the_penalty_and_its_gradient():
    value, grad = switch_penalty(np.array([0.5, -2.0, 0.0]), 0.1)
    assert value == pytest.approx(0.25) and grad == pytest.approx([0.1, -0.1, 0.0])


def test_one_step_by_hand():
    m, v, remove = sign_variance_step(np.array([3.0, -1.0]), np.zeros(2), np.zeros(2), 0.5, 0.5)
    assert m == pytest.approx([0.5, -0.5]) and v == pytest.approx([0.125, 0.125]) and not remove.any()


def test_a_flipping_switch_is_removed_and_a_steady_one_is_not():
    m, v = np.zeros(2), np.zeros(2)
    removed = np.zeros(2, bool)
    for t in range(200):
        beta = np.array([1.0, (-1.0) ** t])  # unit 0 steady, unit 1 flips every step
        m, v, remove = sign_variance_step(beta, m, v, 0.9, 0.5)
        removed |= remove
    assert removed.tolist() == [False, True]
    assert v[0] < 1e-3 and v[1] == pytest.approx((2 * 0.9 / 1.9) ** 2)  # the limit (2 mu / (1 + mu))^2


@pytest.mark.parametrize("kwargs, named", [({"momentum": 1.0}, "'momentum'"), ({"momentum": -0.1}, "'momentum'"),
                                           ({"threshold": 0.0}, "'threshold'"), ({"threshold": 4.0}, "'threshold'")])
def test_bad_momentum_or_threshold_is_named(kwargs, named):
    args = {"momentum": 0.9, "threshold": 0.5, **kwargs}
    with pytest.raises(ValueError, match=named):
        sign_variance_step(np.ones(2), np.zeros(2), np.zeros(2), **args)


def test_a_negative_strength_is_named():
    with pytest.raises(ValueError, match="'strength'.*-1.0"):
        switch_penalty(np.ones(2), -1.0)
