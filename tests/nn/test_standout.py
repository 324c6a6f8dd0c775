"""Standout as Ba and Frey (2013) define it: a standout network with weights
W_s = alpha W + beta (the bias an input x_0 = 1) gives unit j the keep
probability pi_j = sigmoid(sum_i (alpha w_ij + beta) x_i + alpha b_j + beta).
Here that sum is written out weight by weight and compared with
masks.standout_keep_prob and with the Standout module after Dense and Conv2D
layers; the shifted form, sigmoid(alpha a + beta), is the named alternative."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from tdnumpy import masks
from tdnumpy.experiments.config import RunConfig
from tdnumpy.experiments.regularisers import Settings, apply
from tdnumpy.nn import Dense, ReLU, Sequential
from tdnumpy.nn.conv import Conv2D
from tdnumpy.nn.dropout import Standout
from tdnumpy.nn.models import build_model

ALPHA, BETA = 0.7, -0.05


def per_weight_dense(x, w, b, alpha, beta):
    """pi[n, j] = sigmoid(sum_i (alpha w_ij + beta) x_ni + (alpha b_j + beta) * 1), one term at a time."""
    pi = np.empty((x.shape[0], w.shape[1]))
    for n in range(x.shape[0]):
        for j in range(w.shape[1]):
            z = sum((alpha * w[i, j] + beta) * x[n, i] for i in range(w.shape[0]))
            pi[n, j] = expit(z + alpha * b[j] + beta)
    return pi


def per_weight_conv(x, kernel, b, alpha, beta, pad):
    """The same for a stride-1 convolution: unit (n, f, p, q) sees the inputs
    x[n, c, p + u, q + v] of its window (zero padding included), each through the
    weight kernel[f, c, u, v]."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f_out, c_in, kh, kw = kernel.shape
    oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    pi = np.empty((x.shape[0], f_out, oh, ow))
    for n, f, p, q in np.ndindex(pi.shape):
        z = sum((alpha * kernel[f, c, u, v] + beta) * xp[n, c, p + u, q + v]
                for c in range(c_in) for u in range(kh) for v in range(kw))
        pi[n, f, p, q] = expit(z + alpha * b[f] + beta)
    return pi


def _evaluation_factor(model, x):
    """pi, read off an evaluation pass: h = pi * relu(a), and a > 0 where relu(a) > 0."""
    a = model.layers[0].forward(x)
    h = model.forward(x, training=False)
    return h[a > 0] / a[a > 0], a > 0


def test_the_paper_form_is_the_per_weight_sum_for_a_dense_layer():
    rng = np.random.default_rng(0)
    dense = Dense(7, 5, rng=rng, dtype=np.float64)
    dense.bias.value[:] = rng.normal(0, 0.3, 5)
    x = rng.uniform(-1, 2, (4, 7))
    expected = per_weight_dense(x, dense.weight.value, dense.bias.value, ALPHA, BETA)

    a = dense.forward(x)
    got = masks.standout_keep_prob(a, ALPHA, BETA, dense.input_sums())
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    model = Sequential(dense, Standout(ReLU(), rng, ALPHA, BETA, source=dense))
    factor, positive = _evaluation_factor(model, x)
    assert positive.sum() >= 5
    np.testing.assert_allclose(factor, expected[positive], rtol=1e-12)


def test_the_paper_form_is_the_per_weight_sum_for_a_convolution():
    rng = np.random.default_rng(1)
    conv = Conv2D(2, 3, 3, rng=rng, padding=1, dtype=np.float64)
    conv.bias.value[:] = rng.normal(0, 0.3, 3)
    x = rng.uniform(-1, 2, (2, 2, 5, 4))
    expected = per_weight_conv(x, conv.kernel, conv.bias.value, ALPHA, BETA, pad=1)

    a = conv.forward(x)
    assert conv.input_sums().shape == (2, 1, 5, 4)
    np.testing.assert_allclose(masks.standout_keep_prob(a, ALPHA, BETA, conv.input_sums()), expected, rtol=1e-12)
    model = Sequential(conv, Standout(ReLU(), rng, ALPHA, BETA, source=conv))
    factor, positive = _evaluation_factor(model, x)
    assert positive.sum() >= 20
    np.testing.assert_allclose(factor, expected[positive], rtol=1e-12)


def test_the_shifted_form_adds_beta_once_and_the_forms_agree_only_at_beta_zero():
    rng = np.random.default_rng(2)
    dense = Dense(6, 4, rng=rng, dtype=np.float64)
    x = rng.uniform(0, 1, (3, 6))
    a = dense.forward(x)
    shifted = masks.standout_keep_prob(a, ALPHA, BETA, form="shifted")
    np.testing.assert_allclose(shifted, expit(ALPHA * a + BETA), rtol=1e-14)
    paper = masks.standout_keep_prob(a, ALPHA, BETA, dense.input_sums())
    assert np.abs(paper - shifted).min() > 1e-3  # x >= 0, so beta (sum x + 1) != beta
    np.testing.assert_array_equal(masks.standout_keep_prob(a, ALPHA, 0.0, dense.input_sums()),
                                  masks.standout_keep_prob(a, ALPHA, 0.0, form="shifted"))


def test_training_masks_draw_from_the_paper_form():
    """h != 0 exactly where kept (relu(a) > 0 for the unit tested); 2 * 10^5
    rows of one example: each unit's kept count lies in the exact binomial
    interval of the per-weight pi (5e-7 per side, so 1e-6 per unit and 2e-6
    for the test)."""
    from scipy.stats import binom
    rng = np.random.default_rng(3)
    dense = Dense(3, 2, rng=rng, dtype=np.float64)
    dense.weight.value[:] = [[0.5, -0.2], [0.3, 0.4], [0.1, 0.2]]
    dense.bias.value[:] = [0.1, 0.0]
    row = np.array([[1.0, 2.0, -0.5]])
    pi = per_weight_dense(row, dense.weight.value, dense.bias.value, ALPHA, 0.3)
    model = Sequential(dense, Standout(ReLU(), rng, ALPHA, 0.3, source=dense))
    n = 200_000
    kept = (model.forward(np.repeat(row, n, axis=0), training=True) != 0).sum(axis=0)
    low, high = binom.ppf(5e-7, n, pi[0]), binom.isf(5e-7, n, pi[0])
    assert np.all((low <= kept) & (kept <= high)), (kept, low, high)


def test_the_run_settings_choose_the_form_and_old_configs_keep_the_shifted_one():
    model = build_model("lenet300", seed=0)
    assert apply(model, {"fc1": "standout"}, Settings(standout_beta=0.1)) == [
        "fc1: standout (alpha 1.0, beta 0.1, paper form)"]
    standout = next(m for m in model.layers if isinstance(m, Standout))
    assert standout.form == "paper" and standout.source is model.layer("fc1")
    model = build_model("lenet300", seed=0)
    apply(model, {"fc1": "standout"}, Settings(standout_form="shifted"))
    assert next(m for m in model.layers if isinstance(m, Standout)).form == "shifted"

    assert RunConfig().standout_form == "paper"
    record = RunConfig(reg="standout").to_dict()
    del record["standout_form"]  # written before the field existed
    assert RunConfig.from_dict(record).standout_form == "shifted"
    with pytest.raises(ValueError, match="standout_form"):
        RunConfig(standout_form="ba-frey")


@pytest.mark.parametrize("call, error, match", [
    (lambda a: masks.standout_keep_prob(a, 1.0, 0.5), ValueError,
     "'input_sum' parameter of standout_keep_prob is needed for form='paper'"),
    (lambda a: masks.standout_keep_prob(a, 1.0, 0.5, np.ones((3, 1))), ValueError,
     r"'input_sum' parameter of standout_keep_prob must broadcast to a's shape \(2, 4\). Got shape \(3, 1\)"),
    (lambda a: masks.standout_keep_prob(a, 1.0, 0.5, np.ones((2, 1), np.float32)), TypeError,
     "'input_sum' parameter of standout_keep_prob must have the dtype"),
    (lambda a: masks.standout_keep_prob(a, 1.0, 0.5, np.ones((2, 1)), form="shifted"), ValueError,
     "'input_sum' parameter of standout_keep_prob must be None for form='shifted'"),
    (lambda a: masks.standout_keep_prob(a, 1.0, 0.5, form="ba-frey"), ValueError,
     r"'form' parameter of standout_keep_prob must be one of \('paper', 'shifted'\). Got 'ba-frey'"),
    (lambda a: masks.standout_keep_prob(a, 1.0, 0.5, np.array([[np.nan], [1.0]])), ValueError, "'input_sum'"),
])
def test_bad_standout_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call(np.zeros((2, 4)))


def test_removing_dead_units_points_standout_at_the_rebuilt_layer():
    """remove_dead_units rebuilds the weighted layers; a copied Standout must read
    the input sums of the new fc1, not of a stale copy of the old one."""
    from tdnumpy.pruning.shrink import remove_dead_units
    model = build_model("lenet300", seed=0, dtype=np.float64)
    apply(model, {"fc1": "standout"}, Settings(standout_beta=0.01))
    new = remove_dead_units(model).model
    standout = next(m for m in new.layers if isinstance(m, Standout))
    assert standout.source is new.layer("fc1")
    x = np.random.default_rng(4).random((3, 784))
    np.testing.assert_array_equal(new.forward(x), model.forward(x))
    np.testing.assert_array_equal(new.forward(x[:1]), model.forward(x[:1]))
