"""Folding learnt gates into plain weights (tdnumpy.pruning.learned): biases
scaled with their unit, where a unit's gate goes (its own column, or the rows
of the next layer, convolutions included), gates at the end of a model, the
report of each layer, and the errors for gates that cannot be folded.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.experiments import regularisers
from tdnumpy.nn import Conv2D, Dense, Dropout, Flatten, ReLU, Sequential
from tdnumpy.nn.gates import Switches
from tdnumpy.pruning.learned import fold, importance

F64 = np.float64


def _rng():
    return np.random.default_rng(7)


def _switches(units, values, name="switch1"):
    s = Switches(units, _rng(), dtype=F64, name=name)
    s.switch.value[...] = values
    return s


def _dense(fan_in, units, name):
    layer = Dense(fan_in, units, rng=_rng(), dtype=F64, name=name)
    layer.bias.value[...] = _rng().standard_normal(units)  # non-zero biases, so that scaling them shows
    return layer


def _folds_exactly(model, x):
    before = model.forward(x)
    report = fold(model)
    assert not any(isinstance(m, Switches) for m in model.layers)
    np.testing.assert_allclose(model.forward(x), before, rtol=1e-12, atol=1e-12)
    return report


def test_a_gate_right_after_its_layer_scales_the_bias_too():
    model = Sequential(_dense(5, 4, "fc1"), _switches(4, [0.5, 2.0, -1.5, 0.0]), ReLU(name="relu1"),
                       _dense(4, 3, "fc2"))
    report = _folds_exactly(model, _rng().standard_normal((6, 5)))
    assert report == {"fc1": {"method": "smallify", "what": "units", "removed": 1, "of": 4}}
    assert not model.layer("fc1").bias.mask[3]
    assert model.layer("fc2").weight.mask is None  # a ReLU lies between: the next layer's rows stay


def test_a_non_negative_gate_after_a_relu_goes_into_its_own_column_whatever_follows():
    """ReLU(a) g = ReLU(g a) for g >= 0, zero and fractional gates included: no next layer is needed."""
    model = Sequential(_dense(5, 4, "fc1"), ReLU(name="relu1"), _switches(4, [0.0, 0.25, 1.0, 3.0]),
                       Dropout(0.5, _rng(), name="drop1"), _dense(4, 3, "fc2"))
    _folds_exactly(model, _rng().standard_normal((6, 5)))
    np.testing.assert_array_equal(model.layer("fc1").bias.mask, [False, True, True, True])
    assert model.layer("fc2").weight.mask is None  # Dropout lies between: its rows are left alone


def test_a_negative_gate_after_a_relu_goes_into_the_rows_of_the_next_convolution():
    """A Conv2D's patch rows are ordered (kh, kw, C): row r reads channel r mod C."""
    conv1 = Conv2D(2, 3, 3, rng=_rng(), dtype=F64, name="conv1")
    conv1.bias.value[...] = [0.3, -0.2, 0.1]
    conv2 = Conv2D(3, 2, 2, rng=_rng(), dtype=F64, name="conv2")
    model = Sequential(conv1, ReLU(name="relu1"), _switches(3, [-0.5, 0.0, 2.0]), conv2,
                       Flatten(name="flatten1"), _dense(2 * 4 * 4, 3, "fc1"))
    _folds_exactly(model, _rng().standard_normal((2, 2, 7, 7)))
    rows = np.arange(conv2.weight.shape[0]) % 3
    np.testing.assert_array_equal(conv2.weight.mask, np.broadcast_to((rows != 1)[:, None], conv2.weight.shape))


def test_a_gate_on_the_output_units_folds_into_them():
    model = Sequential(_dense(5, 4, "fc1"), ReLU(name="relu1"), _dense(4, 3, "fc2"),
                       _switches(3, [1.5, 0.0, -2.0], name="switch2"))
    report = _folds_exactly(model, _rng().standard_normal((6, 5)))
    assert report["fc2"]["removed"] == 1 and model.layers[-1].name == "fc2"


def test_a_negative_gate_after_a_relu_at_the_end_of_the_model_is_refused():
    gate = _switches(3, [1.0, -1.0, 0.5], name="switch2")
    model = Sequential(_dense(5, 4, "fc1"), _dense(4, 3, "fc2"), ReLU(name="relu2"), gate)
    with pytest.raises(ValueError) as caught:
        fold(model)
    assert str(caught.value) == (f"{gate!r}: a gate that cannot go into 'fc2''s own weights (a negative gate after "
                                 f"{model.layer('relu2')!r}) needs a weighted layer right after it; got None.")


def test_the_last_gate_masks_the_rows_of_the_output_layer_that_read_a_dead_unit():
    model = Sequential(_dense(5, 4, "fc1"), ReLU(name="relu1"), _switches(4, [1.0, 0.0, 1.0, 1.0]),
                       _dense(4, 3, "fc2"))
    _folds_exactly(model, _rng().standard_normal((6, 5)))
    np.testing.assert_array_equal(model.layer("fc2").weight.mask.all(axis=1), [True, False, True, True])


def test_a_next_layer_that_does_not_read_the_gated_units_one_to_one_is_refused():
    after = _dense(6, 2, "fc2")
    model = Sequential(_dense(5, 3, "fc1"), ReLU(name="relu1"), _switches(3, [1.0, -1.0, 1.0]), after)
    with pytest.raises(ValueError) as caught:
        fold(model)
    assert str(caught.value) == f"{after!r} reads 6 inputs, not the 3 gated units."


def test_a_unit_gate_that_follows_no_weighted_layer_is_refused():
    gate = _switches(5, 1.0, name="switch0")
    model = Sequential(gate, _dense(5, 4, "fc1"), ReLU(name="relu1"), _dense(4, 3, "fc2"))
    with pytest.raises(ValueError) as caught:
        importance(model)
    assert str(caught.value) == f"{gate!r} follows no weighted layer; there are no units to gate."


def test_a_layer_with_a_weight_rule_and_a_unit_gate_reports_both_methods():
    model = Sequential(_dense(5, 4, "fc1"), ReLU(name="relu1"), _dense(4, 3, "fc2"))
    regularisers.apply(model, {"fc1": "l0-unit"})
    model.layer("fc1").noise = regularisers.weight_rule("vd-weight", regularisers.Settings(), 1)
    report = fold(model)
    assert report["fc1"]["method"] == "vd+l0" and report["fc1"]["what"] == "units"
