"""The contract between a weighted layer and its weight-noise rule
(tdnumpy.nn.weighted): Dense and Conv2D with frozen keep-masks (weights, units,
biases, per example, scales) give exact gradients and exact zeros where
something is dropped; the noise must be a rule.

Gradient checks: float64 central differences, max relative error 1e-6 (see
tdnumpy.testing.gradcheck).
"""

from __future__ import annotations

import numpy as np
import pytest

from strategies import small_conv, small_dense

from tdnumpy.nn import Conv2D, Dense
from tdnumpy.nn.noise import FixedKeep
from tdnumpy.testing import check_gradients

TOL = 1e-6




@pytest.mark.parametrize("make", [small_dense, small_conv])
@pytest.mark.parametrize("kind", ["weight", "units", "units-per-example", "both"])
def test_gradients_with_a_frozen_mask(make, kind, rng):
    layer, x = make(rng)
    n, units = len(x), layer.units
    weight = rng.random(layer.weight.shape) < 0.6 if kind in ("weight", "both") else None
    unit_shape = (n, units) if kind == "units-per-example" else (units,)
    unit_mask = rng.random(unit_shape) < 0.6 if kind != "weight" else None
    layer.noise = FixedKeep(weight, unit_mask)
    result = check_gradients(layer, x, rng, training=True)
    assert result.max_error < TOL, result.errors
    out = layer.forward(x, training=True)
    layer.backward(np.ones_like(out))
    if weight is not None:
        assert (layer.weight.grad[~weight] == 0.0).all()  # a dropped weight gets exactly zero gradient
    if unit_mask is not None and unit_mask.ndim == 1:
        assert (layer.weight.grad[:, ~unit_mask] == 0.0).all() and (layer.bias.grad[~unit_mask] == 0.0).all()
        dropped_outputs = out[:, ~unit_mask] if out.ndim == 2 else out[:, ~unit_mask, :, :]
        assert (dropped_outputs == 0.0).all()  # weight column and bias both silenced


def _keep_cases(rng):
    w, b = (30, 20), (20,)
    return {
        "dropconnect": dict(weight=np.asfortranarray(rng.random(w) < 0.5), bias=rng.random(b) < 0.5),
        "dropconnect per example": dict(weight=rng.random((4,) + w) < 0.5, bias=rng.random((4, 20)) < 0.5),
        "unit dropout": dict(weight=np.broadcast_to(rng.random(20) < 0.5, w), weight_scale=2.0),
        "weight dropout": dict(weight=np.asfortranarray(rng.random(w) < 0.5), weight_scale=1 / 0.7),
        "dropconnect mean inference": dict(weight_scale=0.7, bias_scale=0.7),
    }


@pytest.mark.parametrize("case", list(_keep_cases(np.random.default_rng(0))))
def test_weight_rule_gradients_with_frozen_masks(case):
    """Central differences, then the gradient written out for every case: with
    keep_n the weight mask of example n (the same for all n when there is one
    mask per batch, all ones when there is none) and s_w the weight scale,
    dW = s_w sum_n keep_n * x_n^T g_n, and likewise for the bias; a weight
    dropped for every example gets exactly 0, and with no mask at all
    (DropConnect's mean inference) the gradient is the unmasked one times 0.7."""
    rng = np.random.default_rng(2)
    layer = Dense(30, 20, rng=rng, dtype=np.float64)
    layer.noise = FixedKeep(**_keep_cases(np.random.default_rng(0))[case])
    x = rng.standard_normal((4, 30))
    result = check_gradients(layer, x, rng, training=True)
    assert result.max_error < 1e-6, result
    keep = layer.noise.keep
    g = rng.standard_normal((4, 20))
    rule, layer.noise = layer.noise, None
    layer.forward(x, training=True)
    layer.backward(g)
    plain_w, plain_b = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.noise = rule
    layer.forward(x, training=True)
    layer.backward(g)
    # one mask per example (n) in every case: dW = s_w sum_n keep_n * x_n^T g_n, db = s_b sum_n keep_b,n * g_n
    w_keep = np.broadcast_to(True if keep.weight is None else keep.weight, (4, 30, 20))
    b_keep = np.broadcast_to(True if keep.bias is None else keep.bias, (4, 20))
    np.testing.assert_allclose(layer.weight.grad, keep.weight_scale * np.einsum("ni,no,nio->io", x, g, w_keep),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, keep.bias_scale * (b_keep * g).sum(axis=0), rtol=1e-12, atol=1e-14)
    dropped = ~w_keep.any(axis=0)  # dropped for every example
    assert (layer.weight.grad[dropped] == 0).all() and (layer.bias.grad[~b_keep.any(axis=0)] == 0).all()
    assert dropped.any() == (keep.weight is not None)  # every masked case drops some weight for all examples
    if keep.weight is None and keep.bias is None:  # mean inference: the unmasked gradient times the scales
        np.testing.assert_allclose(layer.weight.grad, keep.weight_scale * plain_w, rtol=1e-13, atol=0)
        np.testing.assert_allclose(layer.bias.grad, keep.bias_scale * plain_b, rtol=1e-13, atol=0)


def test_conv_dropconnect_gradients_with_frozen_masks():
    rng = np.random.default_rng(3)
    layer = Conv2D(2, 3, 3, rng=rng, padding="same", dtype=np.float64)
    layer.noise = FixedKeep(weight=rng.random(layer.weight.shape) < 0.5, bias=rng.random(3) < 0.5)
    result = check_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng, training=True)
    assert result.max_error < 1e-6, result


def test_noise_must_be_a_rule(rng):
    layer, _ = small_dense(rng)
    with pytest.raises(TypeError, match="noise must be a tdnumpy.nn.noise.WeightNoise or None"):
        layer.noise = "td-weight"
