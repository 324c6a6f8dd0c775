"""The sparsifying baselines in the layers (tdnumpy.nn.sparsifying, tdnumpy.nn.gates):
L0 gates and sparse variational dropout as weight rules on Dense and Conv2D,
L0 unit gates, variational unit multipliers and Smallify's switches as
modules; their parameters seen by the model, their evaluation passes, their
penalties and the sign-variance rule.

Gradient checks: float64 central differences with every draw frozen, max
relative error 1e-6 (see tdnumpy.testing.gradcheck), for the layer's W, b and
input and for every parameter the method adds, in training and at
evaluation; the penalties' gradients likewise against their values.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from strategies import small_conv, small_dense

from tdnumpy.masks import l0, variational
from tdnumpy.nn import Dense, ReLU, Sequential
from tdnumpy.nn.gates import L0UnitGates, Switches, VariationalUnits
from tdnumpy.nn.sparsifying import L0WeightGates, VariationalWeights, learnt_sparsifiers
from tdnumpy.testing import check_gradients
from tdnumpy.testing.gradcheck import relative_error

TOL = 1e-6


def _rows(layer, x):
    """Rows of the layer's product: the batch for a dense layer, N OH OW for a convolution."""
    return len(layer.linear_rows(x)[0])


def _l0_weight(layer, x, rng):
    layer.noise = L0WeightGates()
    layer.noise.log_alpha.value[...] = rng.normal(0, 1, layer.weight.shape)
    layer.noise.freeze(rng.uniform(0.05, 0.95, layer.weight.shape))
    return [layer.noise.log_alpha]


def _vd_weight(layer, x, rng):
    layer.noise = VariationalWeights()
    # log alpha on both sides of the clip: sigma^2 from 1e-4 to 1e4 times w^2
    w2 = np.square(layer.weight.value)
    layer.noise.log_sigma2.value[...] = np.log(w2) + rng.uniform(-10, 10, w2.shape)
    layer.noise.freeze(rng.standard_normal((_rows(layer, x), layer.units)))
    return [layer.noise.log_sigma2]


@pytest.mark.parametrize("make", [small_dense, small_conv])
@pytest.mark.parametrize("attach", [_l0_weight, _vd_weight], ids=["l0-weight", "vd-weight"])
@pytest.mark.parametrize("training", [True, False])
def test_weight_rule_gradients(make, attach, training, rng):
    layer, x = make(rng)
    added = attach(layer, x, rng)
    assert [p.name.rsplit(".", 1)[-1] for p in layer.parameters()][-1] == added[0].name.rsplit(".", 1)[-1]
    result = check_gradients(layer, x, rng, training=training)
    assert result.max_error < TOL, result.errors


def _unit_input(shape, rng):
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1, 1], shape)


@pytest.mark.parametrize("shape", [(5, 6), (3, 6, 4, 4)])
@pytest.mark.parametrize("method", ["l0", "vd", "smallify"])
@pytest.mark.parametrize("training", [True, False])
def test_unit_gate_gradients(shape, method, training, rng):
    units = shape[1]
    if method == "l0":
        gate = L0UnitGates(units, rng, np.float64)
        gate.log_alpha.value[...] = rng.normal(0, 1, units)
        gate.freeze(rng.uniform(0.05, 0.95, units))
    elif method == "vd":
        gate = VariationalUnits(units, rng, np.float64)
        gate.theta.value[...] = rng.normal(0, 1, units)
        gate.log_sigma2.value[...] = np.log(np.square(gate.theta.value)) + rng.uniform(-10, 10, units)
        gate.freeze(rng.standard_normal((shape[0], units)))
    else:
        gate = Switches(units, rng, np.float64)
        gate.switch.value[...] = rng.uniform(0.5, 1.5, units)  # away from 0: no sign flips, nothing removed
    result = check_gradients(gate, _unit_input(shape, rng), rng, training=training)
    assert result.max_error < TOL, result.errors


def _penalty_check(obj, params, h=1e-5):
    """Relative error of add_penalty_gradient against central differences of penalty_value
    (h = 1e-5: the rounding of a sum of tens of terms, divided by 2h, stays near 1e-10)."""
    for p in params:
        p.grad[...] = 0
    obj.add_penalty_gradient(0.7)
    worst = 0.0
    for p in params:
        numeric = np.zeros(p.size)
        for i in range(p.size):
            index = np.unravel_index(i, p.shape)
            keep = p.value[index]
            p.value[index] = keep + h
            up = obj.penalty_value()
            p.value[index] = keep - h
            down = obj.penalty_value()
            p.value[index] = keep
            numeric[i] = 0.7 * (up - down) / (2 * h)
        worst = max(worst, relative_error(p.grad.reshape(-1), numeric))
    return worst


def test_penalty_gradients(rng):
    layer, x = small_dense(rng)
    _l0_weight(layer, x, rng)
    assert _penalty_check(layer.noise, [layer.noise.log_alpha]) < TOL

    layer, x = small_dense(rng)
    _vd_weight(layer, x, rng)
    assert _penalty_check(layer.noise, [layer.weight, layer.noise.log_sigma2]) < TOL

    gate = L0UnitGates(6, rng, np.float64)
    gate.log_alpha.value[...] = rng.normal(0, 2, 6)
    assert _penalty_check(gate, [gate.log_alpha]) < TOL

    gate = VariationalUnits(6, rng, np.float64)
    gate.theta.value[...] = rng.normal(0, 1, 6)
    gate.log_sigma2.value[...] = np.log(np.square(gate.theta.value)) + rng.uniform(-10, 10, 6)
    assert _penalty_check(gate, [gate.theta, gate.log_sigma2]) < TOL

    gate = Switches(6, rng, np.float64)
    gate.switch.value[...] = rng.uniform(0.2, 1, 6) * rng.choice([-1, 1], 6)  # the kink at 0 avoided
    assert _penalty_check(gate, [gate.switch]) < TOL


def test_penalties_equal_their_closed_forms():
    """Worked values: log_alpha = 0 gives P(z != 0) = sigmoid(-beta log(1/11)) = sigmoid(1.59859) = 0.831822
    per gate; a switch penalty is the L1 norm; a variational weight with sigma^2 = w^2 (alpha = 1) has
    -KL = k1 sigmoid(k2) - 0.5 log 2 - k1."""
    rng = np.random.default_rng(0)
    gate = L0UnitGates(4, rng, np.float64)
    gate.log_alpha.value[...] = 0.0
    assert gate.penalty_value() == pytest.approx(4 * expit(-(2 / 3) * np.log(0.1 / 1.1)), rel=1e-12)
    assert gate.penalty_value() == pytest.approx(4 * 0.831822, abs=4e-6)
    switches = Switches(3, rng, np.float64)
    switches.switch.value[...] = [0.5, -2.0, 0.0]
    assert switches.penalty_value() == 2.5
    vd = VariationalUnits(2, rng, np.float64)
    vd.theta.value[...] = [0.5, -3.0]
    vd.log_sigma2.value[...] = np.log(np.square(vd.theta.value))
    k1, k2 = variational.K1, variational.K2
    assert vd.penalty_value() == pytest.approx(-2 * (k1 * expit(k2) - 0.5 * np.log(2) - k1), rel=1e-12)


def test_evaluation_gates_remove_what_the_methods_say():
    rng = np.random.default_rng(3)
    layer = Dense(8, 5, rng=rng, dtype=np.float64)
    layer.noise = L0WeightGates()
    a = layer.noise.log_alpha.value
    a[...] = rng.normal(0, 3, a.shape)
    x = rng.standard_normal((4, 8))
    gate = np.clip(expit(a) * 1.2 - 0.1, 0, 1)
    np.testing.assert_allclose(layer.forward(x), x @ (layer.weight.value * gate) + layer.bias.value, rtol=1e-12)
    assert ((gate == 0) == (expit(a) <= 0.1 / 1.2)).all() and (gate == 0).any()

    layer.noise = VariationalWeights()
    s = layer.noise.log_sigma2.value
    s[...] = np.log(np.square(layer.weight.value)) + rng.uniform(-6, 6, s.shape)
    keep = s - np.log(np.square(layer.weight.value)) <= 3
    assert (~keep).any() and keep.any()
    np.testing.assert_allclose(layer.forward(x), x @ (layer.weight.value * keep) + layer.bias.value, rtol=1e-12)

    units = VariationalUnits(5, rng, np.float64)
    units.log_sigma2.value[...] = [-10, 4, -1, 3.5, 0]  # theta = 1: log alpha = log sigma^2
    y = units.forward(np.ones((2, 5)))
    np.testing.assert_array_equal(y, [[1, 0, 1, 0, 1]] * 2)


def test_training_draws_have_the_stated_statistics():
    """One pass of VariationalWeights on a single input row: the pre-activation
    is rows W + b + sqrt(rows^2 S + 1e-8) eps, so over 4000 columns of equal
    variance the standardised noise has mean 0 and variance 1; bounds of 6 and
    7 standard errors: false failure below 1e-8."""
    rng = np.random.default_rng(5)
    layer = Dense(3, 4000, rng=rng, dtype=np.float64)
    layer.noise = VariationalWeights()
    layer.weight.value[...] = 0.5
    layer.noise.log_sigma2.value[...] = np.log(0.01)  # sigma^2 = 0.01, alpha = 0.04
    x = np.ones((1, 3))
    noise = (layer.forward(x, training=True) - layer.forward(x)) / np.sqrt(3 * 0.01 + 1e-8)
    n = noise.size
    assert abs(noise.mean()) < 6 / np.sqrt(n)
    assert abs(noise.var() - 1) < 7 * np.sqrt(2 / n)


def test_sign_variance_rule_removes_a_flipping_switch_for_good(rng):
    """mu = 0.9, threshold 0.5, a switch flipping from +1 at every pass: (m, v) go
    (1, 0), (0.8, 0.324), (0.82, 0.2948), (0.638, 0.5337): removed at the fourth pass."""
    switches = Switches(3, rng, np.float64, momentum=0.9, threshold=0.5)
    x = np.ones((2, 3))
    removed_at = None
    for step in range(8):
        switches.switch.value[0] = (-1) ** step if removed_at is None else 0.0
        switches.switch.value[1] = 0.3  # steady
        switches.forward(x, training=True)
        if removed_at is None and switches.switch.mask is not None:
            removed_at = step
    assert removed_at == 3
    assert switches.switch.mask.tolist() == [False, True, True]
    assert switches.switch.value[0] == 0 and switches.forward(x)[:, 0].tolist() == [0, 0]


def test_parameters_are_named_and_found_in_a_model(rng):
    fc1 = Dense(6, 5, rng=rng, name="fc1")
    model = Sequential(fc1, ReLU(), Dense(5, 3, rng=rng, name="fc2"))
    model.layer("fc1").noise = L0WeightGates()
    model.insert_after("relu1", Switches(5, rng))
    assert list(model.named_parameters()) == ["fc1.weight", "fc1.bias", "fc1.log_alpha", "switch1.switch",
                                              "fc2.weight", "fc2.bias"]
    assert [type(o).__name__ for o in learnt_sparsifiers(model)] == ["L0WeightGates", "Switches"]
    assert model.layer("fc1").noise.log_alpha.value.flags.f_contiguous  # the weight's memory order


@pytest.mark.parametrize("make, match", [
    (lambda r: L0WeightGates(beta=0.0), "beta"),
    (lambda r: L0WeightGates(beta=-1.0), "beta"),
    (lambda r: L0WeightGates(gamma=0.1), "gamma"),
    (lambda r: L0WeightGates(zeta=0.9), "zeta"),
    (lambda r: L0WeightGates(init_drop=1.0), "init_drop"),
    (lambda r: L0UnitGates(4, r, gamma=0.0), "gamma"),
    (lambda r: L0UnitGates(4, r, zeta=1.0), "zeta"),
    (lambda r: L0UnitGates(4, r, beta=0.0), "beta"),
    (lambda r: VariationalWeights(threshold=9.0), "threshold"),
    (lambda r: VariationalUnits(4, r, threshold=-8.5), "threshold"),
    (lambda r: Switches(4, r, threshold=0.0), "threshold"),
    (lambda r: Switches(4, r, threshold=4.0), "threshold"),
    (lambda r: Switches(4, r, momentum=1.0), "momentum"),
    (lambda r: Switches(0, r), "units"),
])
def test_bad_settings_are_named(make, match, rng):
    with pytest.raises(ValueError, match=match):
        make(rng)


def test_a_gate_refuses_input_of_the_wrong_width(rng):
    with pytest.raises(ValueError, match="4 units on axis 1"):
        Switches(4, rng).forward(np.ones((2, 5), np.float32))


def test_the_hard_concrete_gate_of_a_rule_is_the_masks_function(rng):
    """The rule draws exactly what masks.l0.hard_concrete_sample draws from the rule's generator."""
    layer = Dense(7, 3, rng=np.random.default_rng(1))
    layer.noise = L0WeightGates()
    twin = np.random.default_rng(1)
    twin_layer = Dense(7, 3, rng=twin)
    expected_rng = twin_layer.rng.spawn(1)[0]
    expected_rng.normal(0, 0.01, (7, 3))  # the initial log_alpha
    z, _ = l0.hard_concrete_sample(layer.noise.log_alpha.value, expected_rng)
    keep = layer.noise.sample(layer, 1)
    np.testing.assert_array_equal(keep.weight, z)
