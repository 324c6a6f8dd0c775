"""Weight initialisation (tdnumpy.nn.init)."""

from __future__ import annotations

import numpy as np

from tdnumpy.nn import he_normal


def test_he_initialisation_has_the_stated_variance():
    """Var[w] = 2 / fan_in. With n = 300,000 draws the sample variance has relative
    standard deviation sqrt(2 / n) = 0.0026; the bound 0.02 is 7.7 standard
    deviations (false failure rate below 1e-13)."""
    w = he_normal(np.random.default_rng(0), (1000, 300), 1000, 300, np.float64)
    assert abs(w.var() / (2 / 1000) - 1) < 0.02
