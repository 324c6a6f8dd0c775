"""Targeted dropout's targets (tdnumpy.masks.targeted): unit norms of
infinite and huge weights, the random baselines' arguments in full, and their
targets as documented, u < gamma for one stored uniform draw per weight or unit.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import warnings

import numpy as np

from full_messages import GENERATOR, message_test
from tdnumpy import masks

RNG = np.random.default_rng(0)
GAMMA = "must be a float in the range [0, 1]. Got {} instead."
ERRORS = [
    (lambda: masks.random_weight_targets((2, 2), 1.5, RNG), ValueError,
     "The 'gamma' parameter of random_weight_targets " + GAMMA.format(1.5)),
    (lambda: masks.random_weight_targets((2, 2), 2.5, RNG), ValueError,
     "The 'gamma' parameter of random_weight_targets " + GAMMA.format(2.5)),
    (lambda: masks.random_weight_targets((2, 2), -0.5, RNG), ValueError,
     "The 'gamma' parameter of random_weight_targets " + GAMMA.format(-0.5)),
    (lambda: masks.random_weight_targets((2, -2), 0.5, RNG), TypeError,
     "The 'shape' parameter of random_weight_targets must be a tuple of non-negative ints. Got (2, -2) instead."),
    (lambda: masks.random_weight_targets((2, 2), 0.5, 0), TypeError,
     f"The 'rng' parameter of random_weight_targets {GENERATOR}"),
    (lambda: masks.random_unit_targets(3, 1.5, RNG), ValueError,
     "The 'gamma' parameter of random_unit_targets " + GAMMA.format(1.5)),
    (lambda: masks.random_unit_targets(3, 2.5, RNG), ValueError,
     "The 'gamma' parameter of random_unit_targets " + GAMMA.format(2.5)),
    (lambda: masks.random_unit_targets(3, -0.5, RNG), ValueError,
     "The 'gamma' parameter of random_unit_targets " + GAMMA.format(-0.5)),
    (lambda: masks.random_unit_targets(3.0, 0.5, RNG), TypeError,
     "The 'units' parameter of random_unit_targets must be a non-negative int. Got 3.0 instead."),
    (lambda: masks.random_unit_targets(3, 0.5, 0), TypeError, f"The 'rng' parameter of random_unit_targets {GENERATOR}"),
    (lambda: masks.drop_targets([True], 0.5, RNG), TypeError,
     "The 'targets' parameter of drop_targets must be a boolean NumPy array. Got list instead."),
    (lambda: masks.drop_targets(np.ones(2), 0.5, RNG), TypeError,
     "The 'targets' parameter of drop_targets must be a boolean NumPy array. Got dtype float64 instead."),
    (lambda: masks.drop_targets(np.ones(2, bool), 0.5, RNG, shape=(2, -1)), TypeError,
     "The 'shape' parameter of drop_targets must be a tuple of non-negative ints. Got (2, -1) instead."),
    (lambda: masks.drop_targets(np.ones(2, bool), 0.5, 0), TypeError, f"The 'rng' parameter of drop_targets {GENERATOR}"),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(ERRORS)


def test_an_infinite_weight_gives_an_infinite_norm_and_a_huge_one_overflows_silently():
    w = np.array([[np.inf, 1.0, 1.5e308], [0.0, 1.0, 1.5e308]])  # sqrt(2) 1.5e308 > 1.8e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = masks.unit_norms(w)
    assert norms[0] == np.inf and norms[1] == np.sqrt(2) and norms[2] == np.inf


def test_random_targets_are_the_uniform_draws_below_gamma_strictly():
    u = np.random.default_rng(5).random((4, 3))
    gamma = float(u[1, 2])  # that weight's draw equals gamma: u < gamma is false there
    np.testing.assert_array_equal(masks.random_weight_targets((4, 3), gamma, np.random.default_rng(5)), u < gamma)
    assert not masks.random_weight_targets((4, 3), gamma, np.random.default_rng(5))[1, 2]
    u = np.random.default_rng(6).random(5)
    gamma = float(u[3])
    np.testing.assert_array_equal(masks.random_unit_targets(5, gamma, np.random.default_rng(6)), u < gamma)
    assert not masks.random_unit_targets(5, gamma, np.random.default_rng(6))[3]
