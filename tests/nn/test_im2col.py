"""The patch matrix of convolutions (tdnumpy.nn.im2col): 'same' padding, the
im2col / col2im adjoint identity, the fused col2im of a product, the memory
order chosen and the documented layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from strategies import conv_configs, conv_fits, make_conv
from tdnumpy.nn.im2col import ConvGeometry, col2im, col2im_matmul, cols_order, im2col, output_size, same_padding


@pytest.mark.parametrize("size, kernel, stride, dilation", [(28, 5, 1, 1), (7, 3, 2, 1), (8, 3, 2, 2), (5, 4, 1, 1)])
def test_same_padding_keeps_ceil_size_over_stride(size, kernel, stride, dilation):
    before, after = same_padding(size, kernel, stride, dilation)
    assert 0 <= after - before <= 1
    assert output_size(size, kernel, stride, dilation, before + after) == -(-size // stride)


@settings(max_examples=80, deadline=None)
@given(config=conv_configs(), order=st.sampled_from(["C", "F"]))
def test_im2col_col2im_adjoint(config, order):
    """<im2col(x), y> = <x, col2im(y)>: col2im is exactly the transpose of im2col,
    whichever memory order the patch matrix is stored in."""
    assume(conv_fits(config))
    layer, x, rng = make_conv(config, np.float64)
    g = layer.geometry(x.shape)
    xp = rng.standard_normal(g.padded_shape)
    y = rng.standard_normal(g.cols_shape)
    cols = im2col(xp, g, np.empty(g.cols_shape, order=order))
    np.testing.assert_array_equal(cols, im2col(xp, g))
    lhs = np.vdot(cols, y)
    rhs = np.vdot(xp, col2im(y, g))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(config=conv_configs())
def test_col2im_matmul_equals_col2im_of_the_product(config):
    assume(conv_fits(config))
    layer, x, rng = make_conv(config, np.float64)
    g = layer.geometry(x.shape)
    grad = rng.standard_normal((g.cols_shape[0], config["f"]))
    w = layer.weight.value
    np.testing.assert_allclose(col2im_matmul(grad, w, g), col2im(grad @ w.T, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c, oh_ow, expected", [(1, 24, "F"), (20, 8, "C"), (8, 8, "C")])
def test_cols_order_picks_the_longer_contiguous_runs(c, oh_ow, expected):
    g = ConvGeometry(2, c, oh_ow + 4, oh_ow + 4, 5, 5, 1, 1, (0, 0, 0, 0), oh_ow, oh_ow)
    assert cols_order(g) == expected


@pytest.mark.parametrize("c", [1, 3])
def test_im2col_layout_is_as_documented(c, rng):
    """cols[(n, p, q), (i, j, c)] = xp[n, p s + i d, q s + j d, c], checked entry by entry."""
    s, d = 2, 2
    g = ConvGeometry(n=2, c=c, h=9, w=8, kh=2, kw=3, stride=s, dilation=d, pad=(0, 0, 0, 0),
                     oh=output_size(9, 2, s, d, 0), ow=output_size(8, 3, s, d, 0))
    xp = rng.standard_normal(g.padded_shape)
    cols = im2col(xp, g)
    for n in range(g.n):
        for p in range(g.oh):
            for q in range(g.ow):
                row = (n * g.oh + p) * g.ow + q
                for i in range(g.kh):
                    for j in range(g.kw):
                        for ch in range(g.c):
                            assert cols[row, (i * g.kw + j) * g.c + ch] == xp[n, p * s + i * d, q * s + j * d, ch]
