"""Dense and Conv2D layers carrying a weight-noise rule: gradients with frozen masks,
exact zeros where weights or units are dropped, no noise at evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.masks import unit_targets, weight_targets
from tdnumpy.models import build_model
from tdnumpy.nn import Conv2D, Dense
from tdnumpy.nn.noise import (FixedKeep, RandomTargetedUnitDropout, RandomTargetedWeightDropout,
                              TargetedUnitDropout, TargetedWeightDropout)
from tdnumpy.schedules import LinearRamp, TwoPhaseRamp
from tdnumpy.testing import check_gradients

TOL = 1e-6


def _dense(rng):
    layer = Dense(9, 6, rng=rng, dtype=np.float64, name="fc")
    layer.bias.value[:] = rng.standard_normal(6)
    return layer, rng.standard_normal((5, 9))


def _conv(rng):
    layer = Conv2D(2, 4, 3, rng=rng, padding=1, dtype=np.float64, name="conv")
    layer.bias.value[:] = rng.standard_normal(4)
    return layer, rng.standard_normal((3, 2, 5, 5))


@pytest.mark.parametrize("make", [_dense, _conv])
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


@pytest.mark.parametrize("make", [_dense, _conv])
def test_alpha_one_drops_exactly_the_targets_and_evaluation_uses_all_weights(make, rng):
    layer, x = make(rng)
    full = layer.forward(x, training=False)
    layer.noise = TargetedWeightDropout(0.5, 1.0)
    targets = weight_targets(layer.weight.value, 0.5)
    trained = layer.forward(x, training=True)
    np.testing.assert_array_equal(layer._w, layer.weight.value * ~targets)
    np.testing.assert_array_equal(layer.forward(x, training=False), full)  # no dropout at evaluation
    assert not np.array_equal(trained, full)
    layer.noise = TargetedUnitDropout(0.5, 1.0)
    out = layer.forward(x, training=True)
    dropped = unit_targets(layer.weight.value, 0.5)
    assert (out[:, dropped] == 0).all() and (out[:, ~dropped] != 0).any()


def test_rules_draw_from_the_layer_generator_so_one_seed_fixes_every_mask():
    def masks_of(seed):
        model = build_model("mlp:20-16-8-4", seed=seed)
        for layer in model.layers[::2]:
            layer.noise = TargetedWeightDropout(0.5, 0.5)
        x = np.random.default_rng(0).random((4, 20), dtype=np.float32)
        model.forward(x, training=True)
        return [layer._w.copy() for layer in model.layers[::2]]

    a, b, c = masks_of(1), masks_of(1), masks_of(2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u != 0, v != 0) for u, v in zip(a, c))


def test_ramped_gamma_follows_its_schedule(rng):
    layer, x = _dense(rng)
    layer.noise = TargetedWeightDropout(LinearRamp(1.0, 4), 1.0)
    dropped = []
    for _ in range(6):
        layer.forward(x, training=True)
        dropped.append(int((layer._w == 0).sum()))
    # gamma = 0, 0.25, 0.5, 0.75, 1, 1 of 9 rows: floor(9 gamma) targets in each of 6 columns
    assert dropped == [0, 2 * 6, 4 * 6, 6 * 6, 9 * 6, 9 * 6]
    ramp = TwoPhaseRamp(0.8, 100)
    for t in (0, 50, 100, 150, 200, 250):  # the released code's formula, both phases
        expected = 0.95 * 0.8 * min(1, t / 100) + 0.05 * 0.8 * max(0, min(1, (t - 100) / 100))
        assert ramp(t) == pytest.approx(expected, rel=1e-12)
    assert ramp(50) == pytest.approx(0.38) and ramp(150) == pytest.approx(0.78)


def test_fixed_pattern_targets_are_drawn_once(rng):
    layer, x = _dense(rng)
    rule = RandomTargetedWeightDropout(0.5, 1.0)
    layer.noise = rule
    layer.forward(x, training=True)
    first = rule.targets.copy()
    layer.weight.value[...] = rng.standard_normal(layer.weight.shape)  # magnitudes change, targets do not
    layer.forward(x, training=True)
    np.testing.assert_array_equal(rule.targets, first)
    np.testing.assert_array_equal(layer._w == 0, first)
    unit_rule = RandomTargetedUnitDropout(0.5, 1.0, per_example=True)
    layer.noise = unit_rule
    out = layer.forward(x, training=True)
    assert (out[:, unit_rule.targets] == 0).all()


def test_noise_must_be_a_rule(rng):
    layer, _ = _dense(rng)
    with pytest.raises(TypeError, match="noise must be a tdnumpy.nn.noise.WeightNoise or None"):
        layer.noise = "td-weight"
