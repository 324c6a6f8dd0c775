"""Patch matrices (tdnumpy.nn.im2col): col2im and col2im_matmul return the
dtype they are given, so that a float32 network stays in float32.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np

from tdnumpy.nn import Conv2D
from tdnumpy.nn.im2col import col2im, col2im_matmul


def test_the_adjoints_keep_the_float32_dtype():
    layer = Conv2D(2, 3, 3, rng=np.random.default_rng(0), padding=1)
    g = layer.geometry((2, 2, 5, 4))
    rng = np.random.default_rng(1)
    cols = rng.standard_normal(g.cols_shape).astype(np.float32)
    grad = rng.standard_normal((g.cols_shape[0], 3)).astype(np.float32)
    assert col2im(cols, g).dtype == np.float32
    assert col2im_matmul(grad, layer.weight.value, g).dtype == np.float32
    np.testing.assert_allclose(col2im_matmul(grad, layer.weight.value, g), col2im(grad @ layer.weight.value.T, g),
                               rtol=1e-5, atol=1e-5)
