"""The random draws (tdnumpy.masks._draws): uniform_bytes and bernoulli refuse
bad arguments in full, naming themselves.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from full_messages import GENERATOR, message_test
from tdnumpy import masks

RNG = np.random.default_rng(0)
ERRORS = [
    (lambda: masks.uniform_bytes(RNG, 2.0), TypeError,
     "The 'n' parameter of uniform_bytes must be a non-negative int. Got 2.0 instead."),
    (lambda: masks.uniform_bytes(0, 3), TypeError, f"The 'rng' parameter of uniform_bytes {GENERATOR}"),
    (lambda: masks.bernoulli(RNG, 1.5, (2,)), ValueError,
     "The 'p' parameter of bernoulli must be a float in the range [0, 1]. Got 1.5 instead."),
    (lambda: masks.bernoulli(RNG, 2.0, (2,)), ValueError,
     "The 'p' parameter of bernoulli must be a float in the range [0, 1]. Got 2.0 instead."),
    (lambda: masks.bernoulli(0, 0.5, (2,)), TypeError, f"The 'rng' parameter of bernoulli {GENERATOR}"),
    (lambda: masks.bernoulli(RNG, 0.5, (2, -1)), TypeError,
     "The 'shape' parameter of bernoulli must be a tuple of non-negative ints. Got (2, -1) instead."),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(ERRORS)


@pytest.mark.parametrize("p, expected", [(0.0, False), (1.0, True)])
def test_probabilities_zero_and_one_draw_nothing(p, expected):
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert (masks.bernoulli(rng, p, (4, 5)) == expected).all()
    assert rng.bit_generator.state == before
