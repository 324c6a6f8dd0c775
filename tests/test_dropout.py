"""Dropout and its relatives: the masks' laws, the layers' expectations,
DropConnect's moments and inference, gradients with frozen noise, bad input.

Statistical tests use exact binomial or chi-square intervals, or Hoeffding /
Gaussian-concentration bounds, each with its false-failure rate (<= 1e-6)
stated next to it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, chi2, norm

from tdnumpy import masks
from tdnumpy.models import build_model
from tdnumpy.nn import Dense, ReLU, Sequential, Tanh
from tdnumpy.nn.activations import Sigmoid
from tdnumpy.nn.conv import Conv2D
from tdnumpy.nn.dropout import Dropout, GaussianDropout, SpatialDropout, Standout
from tdnumpy.nn.noise import DropConnect, FixedKeep, UnitDropout, WeightDropout
from tdnumpy.regularisers import Settings, apply, parse
from tdnumpy.testing import check_gradients

RATES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1 / 3])


def binomial_ok(count, n, p, false_failure=1e-6) -> bool:
    lo, hi = binom.interval(1 - false_failure, n, p)
    return lo <= count <= hi


# ------------------------------------------------- 1. expectations of the layers


@settings(max_examples=30, deadline=None)
@given(p=RATES, seed=st.integers(0, 2**32 - 1))
def test_inverted_dropout_preserves_the_expectation(p, seed):
    """E[y] = x: every output is exactly 0 or x / (1 - p) (deterministic), and the
    kept count over 2 * 10^5 elements lies in the exact binomial interval of
    Bernoulli(1 - p) (false-failure rate 1e-6), so E[y] = (1 - p) x / (1 - p) = x."""
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (400, 500)).astype(np.float32)
    layer = Dropout(p, np.random.default_rng(seed))
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - p)))
    assert binomial_ok(kept.sum(), x.size, 1 - p)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


@settings(max_examples=20, deadline=None)
@given(p=RATES, seed=st.integers(0, 2**32 - 1))
def test_classic_dropout_evaluates_to_its_training_expectation(p, seed):
    """Training: y in {0, x}, kept ~ Bernoulli(1 - p) (exact binomial bound, rate
    1e-6), so E[y] = (1 - p) x; evaluation returns exactly (1 - p) x."""
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (300, 400))
    layer = Dropout(p, np.random.default_rng(seed), mode="classic")
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept])
    assert binomial_ok(kept.sum(), x.size, 1 - p)
    np.testing.assert_array_equal(layer.forward(x, training=False), x * (1 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_gaussian_dropout_noise_has_mean_one_and_variance_p_over_1_minus_p(p):
    """n = 10^6 draws of N(1, s^2), s^2 = p / (1 - p): the sample mean is exactly
    normal and (n - 1) S^2 / s^2 exactly chi-square(n - 1); each bound has a
    false-failure rate of 5e-7."""
    n = 10**6
    e = masks.gaussian_dropout_noise((n,), p, np.random.default_rng(7), np.float64)
    s2 = p / (1 - p)
    assert abs(e.mean() - 1) <= norm.isf(2.5e-7) * math.sqrt(s2 / n)
    lo, hi = chi2.interval(1 - 5e-7, n - 1)
    assert lo <= (n - 1) * e.var(ddof=1) / s2 <= hi
    layer = GaussianDropout(p, np.random.default_rng(0))
    x = np.ones((3, 4), np.float32)
    assert layer.forward(x, training=True).dtype == np.float32
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


@settings(max_examples=20, deadline=None)
@given(p=RATES, seed=st.integers(0, 2**32 - 1))
def test_spatial_dropout_drops_whole_channels_and_preserves_the_expectation(p, seed):
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (100, 60, 5, 4)).astype(np.float32)
    layer = SpatialDropout(p, np.random.default_rng(seed))
    y = layer.forward(x, training=True)
    kept = y != 0
    assert (kept == kept[:, :, :1, :1]).all()           # a channel is all kept or all dropped
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - p)))
    assert binomial_ok(kept[:, :, 0, 0].sum(), 100 * 60, 1 - p)  # rate 1e-6
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


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


# ------------------------------------------------------- 3. DropConnect moments


def test_dropconnect_moments_match_the_exact_law_of_the_masks():
    """4 inputs and a bias: all 2^5 masks of a unit enumerated with their
    probabilities give E[u] and Var[u] exactly (no sampling)."""
    rng = np.random.default_rng(3)
    v, w, b, p = rng.standard_normal((2, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3), 0.3
    mean, var = masks.dropconnect_moments(v, w, b, p)
    for n, o in itertools.product(range(2), range(3)):
        values, probs = [], []
        for bits in itertools.product([0, 1], repeat=5):
            keep = np.array(bits)
            values.append(v[n] @ (w[:, o] * keep[:4]) + b[o] * keep[4])
            probs.append((1 - p) ** keep.sum() * p ** (5 - keep.sum()))
        values, probs = np.array(values), np.array(probs)
        exact_mean = probs @ values
        assert mean[n, o] == pytest.approx(exact_mean, rel=1e-12)
        assert var[n, o] == pytest.approx(probs @ (values - exact_mean) ** 2, rel=1e-12)


def test_dropconnect_layer_masks_average_to_the_moments():
    """The masks the DropConnect rule draws, 4 * 10^5 of them on a 12-input layer:
    the sample mean of u and of (u - E[u])^2 per unit, against Hoeffding bounds
    from the range of u (false-failure rate 1e-6 over all units and both tests)."""
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
    assert (abs(u.mean(0) - mean[0]) <= t).all()
    spread = np.maximum(hi - mean[0], mean[0] - lo) ** 2
    t2 = spread * math.sqrt(math.log(2 / delta) / (2 * n))
    assert (abs(((u - mean[0]) ** 2).mean(0) - var[0]) <= t2).all()
    assert abs(u.mean(0) - mean[0]).max() < 0.2 * abs(mean[0]).max()  # the bound is not vacuous


def test_gaussian_inference_approaches_the_gaussian_integral_and_the_masked_average():
    """(a) For Z draws, r = mean_z relu(u_z) concentrates around the closed form
    E[relu(u)] = mu Phi(mu/s) + s phi(mu/s): relu is 1-Lipschitz, so by Gaussian
    concentration P(|r - E| >= t) <= 2 exp(-Z t^2 / (2 s^2)); t set for a
    false-failure rate of 1e-6 over all units.
    (b) As Z grows, r approaches the Monte-Carlo average of relu over masked
    networks (2,000 masks of a 400-input layer, where u is close to Gaussian):
    the error at Z = 4000 is far below the error at Z = 1 (a 1-sample estimate).
    Part (b) has no exact bound (the Gaussian approximation has a bias of its
    own); its seeds are fixed, so it cannot flake, and it fails if the
    inference ignores the variance or does not average its samples."""
    rng = np.random.default_rng(6)
    v, w, b, p = rng.uniform(0, 1, (1, 400)), rng.normal(0, 0.05, (400, 40)), rng.normal(0, 0.1, 40), 0.5
    mean, var = masks.dropconnect_moments(v, w, b, p)
    s = np.sqrt(var)
    closed = mean * norm.cdf(mean / s) + s * norm.pdf(mean / s)
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    z = 4000
    r = masks.dropconnect_gaussian_inference(mean, var, relu, np.random.default_rng(7), z)
    t = s * math.sqrt(2 * math.log(2 * 40 / 1e-6) / z)
    assert (abs(r - closed) <= t).all()

    keeps = rng.random((2000, 401, 40)) >= p
    masked = np.maximum(np.einsum("i,kio->ko", v[0], keeps[:, :400] * w) + keeps[:, 400] * b, 0).mean(0)
    one = masks.dropconnect_gaussian_inference(mean, var, relu, np.random.default_rng(8), 1)
    assert abs(r - masked).mean() < 0.25 * abs(one - masked).mean()


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


# --------------------------------------------------------------------- standout


def test_standout_keeps_with_probability_sigmoid_of_the_preactivation():
    """Two positive pre-activations (so relu(a) > 0 and kept = [h != 0]), 2 * 10^5
    draws each: the kept counts lie in the exact binomial intervals of
    sigmoid(alpha a + beta) (rate 5e-7 each); evaluation gives pi * relu(a)."""
    a = np.repeat(np.array([[0.25, 1.5]]), 200_000, axis=0)
    layer = Standout(ReLU(), np.random.default_rng(1), alpha=-2.0, beta=0.5)
    pi = 1 / (1 + np.exp(-(-2.0 * a[0] + 0.5)))
    kept = (layer.forward(a, training=True) != 0).sum(0)
    assert all(binomial_ok(kept[j], len(a), pi[j], 5e-7) for j in range(2))
    a = np.array([[-0.5, 0.25, 1.5]])
    expected = np.maximum(a, 0) / (1 + np.exp(-(-2.0 * a + 0.5)))
    np.testing.assert_allclose(layer.forward(a, training=False), expected, rtol=1e-12)


# --------------------------------------------------- 4. gradients, noise frozen


def _frozen(layer, x):
    layer.freeze(layer.draw(x))
    return layer


@pytest.mark.parametrize("make, shape", [
    (lambda r: Dropout(0.4, r), (6, 7)),
    (lambda r: Dropout(0.4, r, mode="classic"), (6, 7)),
    (lambda r: GaussianDropout(0.4, r), (6, 7)),
    (lambda r: SpatialDropout(0.4, r), (3, 4, 5, 5)),
])
def test_activation_noise_gradients(make, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    layer = _frozen(make(rng), x)
    assert check_gradients(layer, x, rng, training=True).max_error < 1e-6
    assert check_gradients(layer, x, rng, training=False).max_error < 1e-6


@pytest.mark.parametrize("activation", [ReLU, Tanh, Sigmoid])
def test_standout_gradients(activation):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 2.0, (5, 8)) * rng.choice([-1, 1], (5, 8))  # away from ReLU's kink
    model = Sequential(Dense(8, 6, rng=rng, dtype=np.float64), Standout(activation(), rng, 1.5, -0.2))
    model.layers[1].freeze(rng.random((5, 6)) < 0.6)
    result = check_gradients(model, x, rng, training=True)
    assert result.max_error < 1e-6, result


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
    rng = np.random.default_rng(2)
    layer = Dense(30, 20, rng=rng, dtype=np.float64)
    layer.noise = FixedKeep(**_keep_cases(np.random.default_rng(0))[case])
    x = rng.standard_normal((4, 30))
    result = check_gradients(layer, x, rng, training=True)
    assert result.max_error < 1e-6, result
    keep = layer.noise.keep
    layer.forward(x, training=True)
    layer.backward(np.ones((4, 20)))
    if keep.weight is not None and keep.weight.ndim == 2:
        assert (layer.weight.grad[~keep.weight] == 0).all()      # dropped weights get exactly 0
    if keep.bias is not None and keep.bias.ndim == 1:
        assert (layer.bias.grad[~keep.bias] == 0).all()


def test_conv_dropconnect_gradients_with_frozen_masks():
    rng = np.random.default_rng(3)
    layer = Conv2D(2, 3, 3, rng=rng, padding="same", dtype=np.float64)
    layer.noise = FixedKeep(weight=rng.random(layer.weight.shape) < 0.5, bias=rng.random(3) < 0.5)
    result = check_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng, training=True)
    assert result.max_error < 1e-6, result


# ------------------------------------------------------------- 6. bad input


@pytest.mark.parametrize("call, error, match", [
    (lambda r: Dropout(1.0, r), ValueError, r"'p' parameter of Dropout must be a float in the range \[0, 1\). Got 1.0"),
    (lambda r: Dropout(-0.1, r), ValueError, "'p'"),
    (lambda r: Dropout(float("nan"), r), ValueError, "Got nan"),
    (lambda r: Dropout("0.5", r), TypeError, "'p'"),
    (lambda r: Dropout(0.5, r, mode="both"), ValueError, "'mode'"),
    (lambda r: Dropout(0.5, 0), TypeError, "'rng'"),
    (lambda r: GaussianDropout(1.0, r), ValueError, "'p' parameter of GaussianDropout"),
    (lambda r: SpatialDropout(0.5, r).forward(np.ones((2, 3)), training=True), ValueError, "4-D"),
    (lambda r: DropConnect(1.0), ValueError, "'p' parameter of DropConnect"),
    (lambda r: DropConnect(0.5, samples=0), ValueError, "'samples'"),
    (lambda r: DropConnect(0.5, inference="median"), ValueError, "'inference'"),
    (lambda r: UnitDropout(1.5), ValueError, "'p' parameter of UnitDropout"),
    (lambda r: WeightDropout(1.0), ValueError, "'p' parameter of WeightDropout"),
    (lambda r: masks.dropout_keep((2, 2), 1.0, r), ValueError, "'p' parameter of dropout_keep"),
    (lambda r: masks.dropout_keep((2, -1), 0.5, r), TypeError, "'shape'"),
    (lambda r: masks.dropconnect_gaussian_inference(np.zeros(2), np.ones(2), None, r, 0), ValueError,
     r"'samples' parameter of dropconnect_gaussian_inference must be an int in the range \[1, inf\)"),
    (lambda r: masks.standout_keep_prob(np.zeros(2), float("inf"), 0.0), ValueError, "'alpha'"),
    (lambda r: Standout(Dense(2, 2, rng=r), r), TypeError, "element-wise activation"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(np.random.default_rng(0))


def test_regulariser_specifications():
    model = build_model("lenet300", seed=0)
    assert parse("dropout", model) == {"fc1": "dropout", "fc2": "dropout"}
    assert parse("dropconnect", model) == dict.fromkeys(["fc1", "fc2", "fc3"], "dropconnect")
    assert parse("fc1=dropconnect, fc2=dropout", model) == {"fc1": "dropconnect", "fc2": "dropout"}
    for bad, match in [("dropot", "'reg' parameter must be one of"), ("fc9=dropout", "No weighted layer named 'fc9'"),
                       ("fc1=dropout,fc1=gaussian", "twice"), ("fc1", "must be one of")]:
        with pytest.raises(ValueError, match=match):
            parse(bad, model)
    apply(model, {"fc1": "dropout", "fc2": "standout", "fc3": "dropconnect"}, Settings(drop_rate=0.2))
    assert [layer.name for layer in model.layers] == ["fc1", "relu1", "drop1", "fc2", "relu2", "fc3"]
    assert isinstance(model.layer("relu2"), Standout) and isinstance(model.layer("fc3").noise, DropConnect)
    with pytest.raises(ValueError, match="Spatial dropout drops channels of convolution outputs; 'fc1'"):
        apply(build_model("lenet300", seed=0), {"fc1": "spatial"})
    with pytest.raises(ValueError, match="no activation follows 'fc3'"):
        apply(build_model("lenet300", seed=0), {"fc3": "standout"})
