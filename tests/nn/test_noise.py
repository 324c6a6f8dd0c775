"""The weight-noise rules (tdnumpy.nn.noise) on Dense and Conv2D layers: targeted
dropout drops exactly its targets and evaluates with all weights, one seed fixes
every mask, ramped and fixed-pattern targets, DropConnect's masks (per batch and
per example), their moments and its inference modes, bad input.

Statistical tests use Hoeffding bounds with the false-failure rate (<= 1e-6)
stated next to each.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies import small_conv, small_dense

from tdnumpy import masks
from tdnumpy.masks import unit_targets, weight_targets
from tdnumpy.masks.ramps import LinearRamp
from tdnumpy.nn import Dense
from tdnumpy.nn.dropout import Dropout, SpatialDropout
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import (DropConnect, RandomTargetedUnitDropout, RandomTargetedWeightDropout, TargetedUnitDropout,
                              TargetedWeightDropout, UnitDropout, WeightDropout)




# ------------------------------------------------------- targeted dropout


@pytest.mark.parametrize("make", [small_dense, small_conv])
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
    layer, x = small_dense(rng)
    layer.noise = TargetedWeightDropout(LinearRamp(1.0, 4), 1.0)
    dropped = []
    for _ in range(6):
        layer.forward(x, training=True)
        dropped.append(int((layer._w == 0).sum()))
    # gamma = 0, 0.25, 0.5, 0.75, 1, 1 of 9 rows: floor(9 gamma) targets in each of 6 columns
    assert dropped == [0, 2 * 6, 4 * 6, 6 * 6, 9 * 6, 9 * 6]


def test_fixed_pattern_targets_are_drawn_once(rng):
    layer, x = small_dense(rng)
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


@pytest.mark.parametrize("alpha", [1.2, -0.1, float("nan")])
def test_rule_refuses_a_bad_alpha_schedule(alpha):
    layer = Dense(4, 3, rng=np.random.default_rng(0))
    layer.noise = TargetedWeightDropout(0.5, lambda step: alpha)
    with pytest.raises(ValueError, match="'alpha' parameter of drop_targets must be a float in the range"):
        layer.forward(np.ones((2, 4), np.float32), training=True)


# ------------------------------------------------------------ DropConnect


def test_per_example_masks_differ_across_the_batch_and_per_batch_masks_do_not():
    """Dropout and spatial dropout draw per example: 64 examples with 200 mask
    entries each are all alike with probability below 2^-200 * 64. DropConnect
    (default) and targeted dropout use one mask for the whole batch."""
    rng = np.random.default_rng(0)
    keep = Dropout(0.5, rng).forward(np.ones((64, 200)), training=True) != 0
    assert len({row.tobytes() for row in keep}) > 1
    keep = SpatialDropout(0.5, rng).forward(np.ones((64, 200, 2, 2)), training=True)[:, :, 0, 0] != 0
    assert len({row.tobytes() for row in keep}) > 1

    layer = Dense(30, 20, rng=np.random.default_rng(1), dtype=np.float64)
    layer.noise = DropConnect(0.5)
    x = np.random.default_rng(2).standard_normal((16, 30))
    y = layer.forward(x, training=True)
    m, mb = layer._keep.weight, layer._keep.bias
    assert m.shape == (30, 20) and mb.shape == (20,)
    np.testing.assert_allclose(y, x @ (layer.weight.value * m) + layer.bias.value * mb, rtol=1e-12)

    layer.noise = DropConnect(0.5, per_example=True)
    y = layer.forward(x, training=True)
    m, mb = layer._keep.weight, layer._keep.bias
    assert m.shape == (16, 30, 20) and mb.shape == (16, 20)
    assert len({mask.tobytes() for mask in m}) == 16
    expected = np.stack([x[n] @ (layer.weight.value * m[n]) + layer.bias.value * mb[n] for n in range(16)])
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_dropconnect_layer_masks_average_to_the_moments():
    """The masks the DropConnect rule draws, 4 * 10^5 of them on a 12-input layer:
    the sample mean of u and of (u - E[u])^2 per unit, against Hoeffding bounds
    from the range of u (false-failure rate 1e-6 over all units and both tests).

    The mean's bound is checked to be narrow enough to catch a plausible bug,
    kept weights rescaled by 1 / (1 - p) (inverted dropout's scaling, which
    DropConnect does not use). Its mean would be E[u] / (1 - p), at a distance
    p |E[u]| / (1 - p) from E[u], and its range, so its Hoeffding half-width,
    1 / (1 - p) times ours. When the distance exceeds the sum of the two
    half-widths, as it does for every unit, the buggy sample mean (within its
    half-width of its own mean, except with probability 1e-6) cannot lie
    within t of E[u]."""
    rng = np.random.default_rng(4)
    n, p = 400_000, 0.4
    v, w, b = rng.uniform(-1, 1, 12), rng.uniform(-0.5, 0.5, (12, 3)), rng.uniform(-0.5, 0.5, 3)
    layer = Dense(12, 3, rng=np.random.default_rng(5), dtype=np.float64)
    layer.weight.value[...] = w
    layer.bias.value[...] = b
    layer.noise = DropConnect(p, per_example=True)
    u = np.concatenate([layer.forward(np.tile(v, (50_000, 1)), training=True) for _ in range(n // 50_000)])
    mean, var = masks.dropconnect_moments(v[None], w, b, p)
    terms = np.vstack([v[:, None] * w, b[None]])
    lo, hi = np.minimum(terms, 0).sum(0), np.maximum(terms, 0).sum(0)
    delta = 1e-6 / (2 * 3)
    t = (hi - lo) * math.sqrt(math.log(2 / delta) / (2 * n))
    assert (t + t / (1 - p) < p * abs(mean[0]) / (1 - p)).all()  # not vacuous: it tells the scaling bug apart
    assert (abs(u.mean(0) - mean[0]) <= t).all()
    spread = np.maximum(hi - mean[0], mean[0] - lo) ** 2
    t2 = spread * math.sqrt(math.log(2 / delta) / (2 * n))
    assert (abs(((u - mean[0]) ** 2).mean(0) - var[0]) <= t2).all()


def test_dropconnect_inference_modes_in_a_network():
    """mean: W and b times 1 - p; gaussian: the Sequential computes the layer and
    its ReLU together from the moments, the same on every call (seeded)."""
    rng = np.random.default_rng(9)
    model = build_model("mlp:20-16-5", seed=0, dtype=np.float64)
    x = rng.standard_normal((8, 20))
    plain = [layer.weight.value.copy() for layer in model.layers if hasattr(layer, "weight")]
    for layer in model.layers:
        if hasattr(layer, "weight"):
            layer.noise = DropConnect(0.3)
    fc1, relu, fc2 = model.layers
    expected = relu.f(x @ (0.7 * plain[0]) + 0.7 * fc1.bias.value) @ (0.7 * plain[1]) + 0.7 * fc2.bias.value
    np.testing.assert_allclose(model.forward(x), expected, rtol=1e-12)

    for layer in (fc1, fc2):
        layer.noise = DropConnect(0.3, inference="gaussian", samples=50)
    out = model.forward(x)
    np.testing.assert_array_equal(out, model.forward(x))
    mean, var = masks.dropconnect_moments(x, plain[0], fc1.bias.value, 0.3)
    hidden = masks.dropconnect_gaussian_inference(mean, var, relu.f, np.random.default_rng(0), 50)
    np.testing.assert_allclose(out, masks.dropconnect_moments(hidden, plain[1], fc2.bias.value, 0.3)[0], rtol=1e-12)


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, error, match", [
    (lambda r: DropConnect(1.0), ValueError, "'p' parameter of DropConnect"),
    (lambda r: DropConnect(0.5, samples=0), ValueError, "'samples'"),
    (lambda r: DropConnect(0.5, inference="median"), ValueError, "'inference'"),
    (lambda r: UnitDropout(1.5), ValueError, "'p' parameter of UnitDropout"),
    (lambda r: WeightDropout(1.0), ValueError, "'p' parameter of WeightDropout"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(np.random.default_rng(0))
