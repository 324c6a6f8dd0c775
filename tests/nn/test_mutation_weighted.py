"""Weighted layers (tdnumpy.nn.weighted): a rule's weight and bias factors
applied whatever their value, only the chosen layers getting a rule, and the
errors that name every offending layer.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn import Dense
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import DropConnect, FixedKeep
from tdnumpy.nn.weighted import attach, choose_layers


def test_attach_gives_a_rule_to_the_chosen_layers_only():
    model = build_model("mlp:6-5-4-3")
    assert attach(model, lambda: DropConnect(0.5), ["fc2"]) == ["fc2"]
    assert [model.layer(n).noise is not None for n in ("fc1", "fc2", "fc3")] == [False, True, False]


@pytest.mark.parametrize("model, layers, error, message", [
    ("lenet300", None, TypeError, "The 'model' parameter must be a model with layers (a Sequential). Got str instead."),
    (None, ["fc1", "fc2", "fc1", "fc2"], ValueError, "The 'layers' parameter names 'fc1', 'fc2' more than once."),
    (None, ["fc1", 2, "fc1", 2], TypeError, "The 'layers' parameter must be None or a list of layer names. "
                                            "Got ['fc1', 2, 'fc1', 2] instead."),
    (None, ["fc7", "fc9"], ValueError, "No weighted layer named 'fc7', 'fc9'; the weighted layers are 'fc1', 'fc2', "
                                       "'fc3'."),
])
def test_a_bad_choice_gets_the_documented_message_in_full(model, layers, error, message):
    with pytest.raises(error) as caught:
        choose_layers(model or build_model("mlp:6-5-4-3"), layers)
    assert str(caught.value) == message


@pytest.mark.parametrize("scale", [0.5, 2.0, 3.0])
def test_a_rules_weight_and_bias_factors_scale_the_layer(scale):
    layer = Dense(4, 3, rng=np.random.default_rng(0), dtype=np.float64)
    layer.bias.value[...] = [1.0, -2.0, 0.5]
    x = np.random.default_rng(1).standard_normal((5, 4))
    w, b = layer.weight.value.copy(), layer.bias.value.copy()
    layer.noise = FixedKeep(weight_scale=scale)
    np.testing.assert_allclose(layer.forward(x, training=True), x @ (scale * w) + b, rtol=1e-12)
    layer.noise = FixedKeep(bias_scale=scale)
    np.testing.assert_allclose(layer.forward(x, training=True), x @ w + scale * b, rtol=1e-12)
