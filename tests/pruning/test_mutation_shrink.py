"""Removing dead units (tdnumpy.pruning.shrink): layers without biases,
kept zeros, custom names, dilation and generators carried over, every kind
of evaluation change a weight-noise rule can make, and the exact errors for
models it cannot shrink.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn import Conv2D, Dense, Flatten, Module, Parameter, ReLU, Sequential
from tdnumpy.nn.models import build_model
from tdnumpy.nn.sparsifying import VariationalWeights
from tdnumpy.nn.weighted import Keep, WeightedLayer, WeightNoise
from tdnumpy.pruning.shrink import dead_units, remove_dead_units

F64 = np.float64


def _rng(seed=0):
    return np.random.default_rng(seed)


def _dense(fan_in, units, name, bias=True, seed=0):
    return Dense(fan_in, units, rng=_rng(seed), bias=bias, dtype=F64, name=name)


def _prune_column(layer, j):
    keep = np.ones(layer.weight.shape, bool)
    keep[:, j] = False
    layer.weight.set_mask(keep)


def _same_outputs(a, b, x):
    np.testing.assert_allclose(a.forward(x), b.forward(x), rtol=1e-12, atol=1e-12)


def test_layers_without_bias_shrink_and_a_unit_with_no_weight_left_is_silent():
    model = Sequential(_dense(6, 5, "fc1", bias=False), ReLU(name="relu1"), _dense(5, 3, "fc2", bias=False))
    _prune_column(model.layer("fc1"), 2)
    assert dead_units(model)["fc1"].tolist() == [2]
    report = remove_dead_units(model)
    assert report.removed["fc1"].tolist() == [2] and report.model.layer("fc1").bias is None
    assert report.model.layer("fc2").weight.shape == (4, 3)
    _same_outputs(report.model, model, _rng(1).standard_normal((4, 6)))


def test_kept_weights_of_value_zero_are_not_pruned():
    """A masked weight counts by its mask: kept (True) at the value 0 is not pruned."""
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=F64)
    fc1 = model.layer("fc1")
    fc1.weight.set_mask(np.ones(fc1.weight.shape, bool))
    fc1.weight.value[:, 1] = 0
    fc1.bias.set_mask(np.arange(5) != 1)
    assert dead_units(model)["fc1"].tolist() == []


def test_custom_layer_names_are_kept():
    model = Sequential(_dense(6, 5, "hidden"), ReLU(name="act"), _dense(5, 3, "out"))
    _prune_column(model.layer("hidden"), 0)
    model.layer("hidden").bias.value[0] = 0
    report = remove_dead_units(model)
    assert [m.name for m in report.model.layers] == ["hidden", "act", "out"]
    assert report.removed["hidden"].tolist() == [0]


def test_a_dilated_convolution_is_rebuilt_dilated():
    r = _rng()
    model = Sequential(Conv2D(1, 3, 3, rng=r, dtype=F64, name="conv1"), ReLU(name="relu1"),
                       Conv2D(3, 2, 3, rng=r, dilation=2, dtype=F64, name="conv2"), Flatten(name="flatten1"),
                       Dense(2 * 2 * 2, 2, rng=r, dtype=F64, name="fc1"))
    conv1 = model.layer("conv1")
    _prune_column(conv1, 1)
    conv1.bias.value[1] = 0
    report = remove_dead_units(model)
    assert report.removed["conv1"].tolist() == [1] and report.model.layer("conv2").dilation == 2
    _same_outputs(report.model, model, _rng(1).standard_normal((2, 1, 8, 8)))


def test_the_new_layers_draw_from_independent_copies_of_the_generators():
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=F64)
    old = model.layer("fc1").rng.bit_generator.state
    new = remove_dead_units(model).model
    new.layer("fc1").rng.random(10)
    assert model.layer("fc1").rng.bit_generator.state == old


class _EvaluationKeep(WeightNoise):
    """A rule whose evaluation applies the given Keep."""

    def __init__(self, **keep):
        super().__init__()
        self.keep = keep

    def inference(self, layer):
        return Keep(**{k: v(layer) if callable(v) else v for k, v in self.keep.items()})


@pytest.mark.parametrize("keep", [
    dict(weight=lambda layer: np.ones(layer.weight.shape, bool)),
    dict(units=lambda layer: np.ones(layer.units, bool)),
    dict(bias=lambda layer: np.ones(layer.units, bool)),
    dict(weight_scale=0.5),
    dict(bias_scale=0.5),
], ids=["weight", "units", "bias", "weight_scale", "bias_scale"])
def test_every_kind_of_evaluation_change_is_refused(keep):
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=F64)
    model.layer("fc1").noise = _EvaluationKeep(**keep)
    with pytest.raises(ValueError, match="changes its evaluation output"):
        remove_dead_units(model)


def test_a_learnt_weight_rule_that_reads_its_layer_is_refused():
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=F64)
    model.layer("fc1").noise = VariationalWeights()
    with pytest.raises(ValueError) as caught:
        remove_dead_units(model)
    assert str(caught.value) == (
        f"{model.layer('fc1')!r} carries a VariationalWeights rule that changes its evaluation output, and the "
        "shrunken layer cannot carry it (the rule's state is shaped for the old layer). Detach it first "
        "(layer.noise = None) if the plain layer is what should be shrunk.")


def test_a_model_without_weighted_layers_has_no_dead_units():
    assert dead_units(Sequential(ReLU(name="relu1"), Flatten(name="flatten1"))) == {}


class _Other(WeightedLayer):
    def __init__(self):
        super().__init__("other")
        self.weight, self.bias, self.rng = Parameter(np.zeros((2, 2)), "weight"), None, _rng()


class _Opaque(Module):
    """A module without an element-wise ``f``."""


def _junction_error(*layers):
    model = Sequential(*layers)
    with pytest.raises((TypeError, ValueError)) as caught:
        dead_units(model)
    return type(caught.value), str(caught.value), model


def test_models_it_cannot_shrink_get_the_documented_errors_in_full():
    r = _rng()
    a, b = Dense(4, 3, rng=r, name="fc1"), Conv2D(3, 2, 1, rng=r, name="conv1")
    assert _junction_error(a, b)[:2] == (ValueError, "Removing dead units handles Dense -> Dense, Conv2D -> Conv2D "
                                                     f"and Conv2D -> Flatten -> Dense. Got {a!r} -> {b!r}.")
    a, b = Dense(4, 3, rng=r, name="fc1"), Dense(6, 2, rng=r, name="fc2")
    assert _junction_error(a, b)[:2] == (ValueError, f"{b!r} has 6 inputs, which do not split evenly over the "
                                                     f"3 units of {a!r}.")
    a, b = Conv2D(1, 3, 3, rng=r, name="conv1"), Conv2D(4, 2, 3, rng=r, name="conv2")
    assert _junction_error(a, b)[:2] == (ValueError, f"{b!r} reads 4 channels but {a!r} makes 3.")
    other = _Other()
    assert _junction_error(other)[:2] == (TypeError, f"Removing dead units handles Dense and Conv2D layers. "
                                                     f"Got {other!r}.")
    opaque = _Opaque(name="opaque")
    error, message, _ = _junction_error(Dense(4, 3, rng=r, name="fc1"), opaque, Dense(3, 2, rng=r, name="fc2"))
    assert (error, message) == (TypeError, "Removing dead units needs to know how each module between two weighted "
                                           "layers treats a unit; it knows element-wise activations, pooling, Flatten "
                                           f"and the dropout modules. Got {opaque!r} (_Opaque).")
    with pytest.raises(TypeError) as caught:
        dead_units("lenet300")
    assert str(caught.value) == "The 'model' parameter must be a tdnumpy Sequential. Got str."


NEEDS = ("Removing dead units needs a model built from an 'mlp:...' (or 'lenet300') or a 'lenet5[:c1-c2-fc]' "
         "spec, or one without a spec, so that the smaller model gets a spec that rebuilds it.")


@pytest.mark.parametrize("spec", ["resnet", 5])
def test_a_spec_it_cannot_rebuild_is_refused_in_full(spec):
    model = build_model("mlp:12-10-8-4")
    model.spec = spec
    with pytest.raises(ValueError) as caught:
        remove_dead_units(model)
    assert str(caught.value) == f"{NEEDS} Got model.spec = {spec!r}."


def test_an_mlp_spec_on_a_model_without_weighted_layers_does_not_describe_it():
    model = Sequential(ReLU(name="relu1"), spec="mlp:4-3")
    with pytest.raises(ValueError, match="does not describe the model"):
        remove_dead_units(model)


def test_the_summary_gives_widths_parameter_counts_and_passes():
    model = build_model("mlp:40-30-20-10:relu", seed=5, dtype=F64)
    _prune_column(model.layer("fc1"), 1)
    model.layer("fc1").bias.value[1] = 0
    assert remove_dead_units(model).summary() == ("fc1: 30 -> 29 units; fc2: 20 -> 20 units; fc3: 10 -> 10 units; "
                                                  "parameters 2,060 -> 1,999 (1 pass)")
    model = build_model("mlp:6-5-4-3:relu", seed=5, dtype=F64)
    keep = np.ones((4, 3), bool)
    keep[3] = False  # fc2 unit 3 is unheard, then fc1 unit 4, which speaks only to it
    model.layer("fc3").weight.set_mask(keep)
    keep = np.ones((5, 4), bool)
    keep[4, :3] = False
    model.layer("fc2").weight.set_mask(keep)
    assert remove_dead_units(model).summary() == ("fc1: 5 -> 4 units; fc2: 4 -> 3 units; fc3: 3 -> 3 units; "
                                                  "parameters 74 -> 55 (2 passes)")
