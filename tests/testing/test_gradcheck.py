"""The gradient check itself (tdnumpy.testing.gradcheck): the relative error it
reports, and that it catches a wrong backward pass. The layers' own gradient
checks are with the layers (tests/nn/).

Tolerance: max relative error 1e-6. Observed errors are 1e-7 or smaller; a
wrong backward rule (a missing transpose, a dropped term) gives errors of
order 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn import Dense
from tdnumpy.testing import check_gradients, relative_error

TOL = 1e-6


def test_gradient_check_catches_a_wrong_backward(rng):
    """The check itself can fail: a Dense layer whose weight gradient misses a
    factor must be reported with a large error."""

    class Broken(Dense):
        def backward(self, grad_out, input_grad=True):
            out = super().backward(grad_out, input_grad)
            self.weight.grad *= 1.001
            return out

    layer = Broken(4, 3, rng=rng, dtype=np.float64, name="broken")
    result = check_gradients(layer, rng.standard_normal((5, 4)), rng)
    assert result.errors["weight"] > 5e-4
    assert result.errors["input"] < TOL


def test_relative_error_definition():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0, -2.0]), np.array([1.0, -2.2])) == pytest.approx(0.2 / 2.2)
    # tiny entries are compared against 1e-3 of the largest magnitude
    assert relative_error(np.array([1.0, 1e-9]), np.array([1.0, 2e-9])) == pytest.approx(1e-9 / 1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
