"""The model builders (tdnumpy.nn.models): specs, parameter counts and shapes,
LeNet-300-100 and LeNet-5 as published, seeding, float32 throughout, and
whole-network gradients."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tdnumpy.nn import he_normal, softmax_cross_entropy
from tdnumpy.nn.models import build_model, lenet5, parse_lenet5_spec, parse_mlp_spec
from tdnumpy.testing import check_gradients

TOL = 1e-6


def test_lenet300_has_han_et_al_parameter_count():
    model = build_model("lenet300")
    assert model.n_parameters() == 266_610
    assert [p.name for p in model.parameters()] == [
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    assert model.named_parameters()["fc1.weight"].shape == (784, 300)  # (fan_in, units)


def test_mlp_spec_builds_the_named_sizes():
    model = build_model("mlp:784-1024-1024-10")
    assert [p.shape for p in model.parameters()] == [(784, 1024), (1024,), (1024, 1024), (1024,), (1024, 10), (10,)]
    assert model.n_parameters() == 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
    assert parse_mlp_spec("mlp:5-3:tanh") == ([5, 3], "tanh")


@pytest.mark.parametrize("spec", ["", "lenet", "mlp:", "mlp:784", "mlp:784-0-10", "mlp:7a-3",
                                  "mlp:784-10:softplus", "mlp:1-2:relu:extra"])
def test_bad_model_spec_is_rejected(spec):
    with pytest.raises(ValueError, match="model spec"):
        build_model(spec)


def test_lenet5_widths_spec_builds_the_same_network_bit_for_bit():
    default, spelled = build_model("lenet5", seed=6), build_model("lenet5:20-50-500", seed=6)
    assert (default.spec, spelled.spec) == ("lenet5", "lenet5:20-50-500")
    assert parse_lenet5_spec("lenet5") == parse_lenet5_spec("lenet5:20-50-500") == (20, 50, 500)
    assert [p.name for p in default.parameters()] == [p.name for p in spelled.parameters()]
    for p, q in zip(default.parameters(), spelled.parameters()):
        assert p.dtype == q.dtype and p.value.strides == q.value.strides
        assert p.value.tobytes() == q.value.tobytes()


def test_lenet5_widths_spec_sets_the_three_widths():
    model = build_model("lenet5:18-47-480", seed=1)
    assert [p.shape for p in model.parameters()] == [(25, 18), (18,), (18 * 25, 47), (47,), (47 * 16, 480), (480,),
                                                     (480, 10), (10,)]
    assert model.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    assert model.spec == "lenet5:18-47-480" and model.input_shape == (1, 28, 28)


@pytest.mark.parametrize("spec", ["lenet5:0-1-2", "lenet5:a-b-c", "lenet5:1-2", "lenet5:", "lenet5:1-2-3-4",
                                  "lenet5:1-2-3:relu", "lenet5:-1-2-3", "lenet5: 1-2-3"])
def test_bad_lenet5_spec_is_rejected_naming_it(spec):
    with pytest.raises(ValueError, match="model spec must be .*" + re.escape(repr(spec))):
        build_model(spec)


@pytest.mark.parametrize("widths, error", [((20, 50), TypeError), ((20, 0, 500), ValueError),
                                           ((20, 50.0, 500), TypeError)])
def test_lenet5_rejects_bad_widths(widths, error):
    with pytest.raises(error, match="'widths' parameter of lenet5"):
        lenet5(widths)


def test_lenet5_is_the_caffe_network():
    """Layer by layer as in Caffe's LeNet-5 (no nonlinearity after the convolutions),
    initialised with U(-sqrt(3 / fan_in), sqrt(3 / fan_in))."""
    model = build_model("lenet5")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense"]
    conv1, pool1, conv2 = model.layers[:3]
    assert (conv1.in_channels, conv1.out_channels, conv1.kh, conv1.kw, conv1.stride, conv1.padding) == \
        (1, 20, 5, 5, 1, (0, 0))
    assert (conv2.in_channels, conv2.out_channels, conv2.kh, conv2.kw) == (20, 50, 5, 5)
    assert (pool1.kh, pool1.kw, pool1.stride) == (2, 2, 2)
    for layer in (conv1, conv2, model.layers[5], model.layers[7]):
        limit = math.sqrt(3 / layer.fan_in)
        w = layer.weight.value
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert model.n_parameters() == 431_080


def test_lenet5_shape_and_parameter_count():
    model = build_model("lenet5")
    assert model.n_parameters() == 431_080
    assert [p.shape for p in model.parameters()] == [(25, 20), (20,), (500, 50), (50,), (800, 500), (500,),
                                                     (500, 10), (10,)]
    assert model.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_float64_model_starts_from_the_float32_weights():
    w32 = build_model("lenet300", seed=4).named_parameters()["fc2.weight"].value
    w64 = build_model("lenet300", seed=4, dtype=np.float64).named_parameters()["fc2.weight"].value
    assert w64.dtype == np.float64
    np.testing.assert_array_equal(w64.astype(np.float32), w32)


def test_each_layer_gets_its_own_generator():
    """SeedSequence.spawn: layers draw from independent streams, one seed fixes all."""
    a = build_model("lenet300", seed=7)
    b = build_model("lenet300", seed=7)
    c = build_model("lenet300", seed=8)
    for (name, pa), pb, pc in zip(a.named_parameters().items(), b.parameters(), c.parameters()):
        assert np.array_equal(pa.value, pb.value), name
        if name.endswith("weight"):
            assert not np.array_equal(pa.value, pc.value), name
    w1 = a.named_parameters()["fc1.weight"].value.ravel()[:100]
    w2 = a.named_parameters()["fc2.weight"].value.ravel()[:100]
    assert abs(np.corrcoef(w1, w2)[0, 1]) < 0.5


def test_layers_draw_from_spawned_child_generators():
    """Layer k is initialised from default_rng(SeedSequence(seed).spawn(n)[k])."""
    model = build_model("lenet300", seed=11)
    child = np.random.SeedSequence(11).spawn(3)[1]
    expected = he_normal(np.random.default_rng(child), (300, 100), 300, 100)
    np.testing.assert_array_equal(model.named_parameters()["fc2.weight"].value, expected)


@pytest.mark.parametrize("spec", ["lenet300", "mlp:784-30-10:tanh", "mlp:784-30-10:sigmoid", "lenet5"])
def test_every_layer_computes_in_float32(spec, rng):
    """Each layer's output and returned input gradient is float32: no float64
    sneaks in between layers (parameters and their grads are preallocated, so
    checking those alone could not catch an upcast)."""
    model = build_model(spec)
    x = rng.random((4, *model.input_shape), dtype=np.float32)
    outputs = [x]
    for layer in model.layers:
        outputs.append(layer.forward(outputs[-1], training=True))
        assert outputs[-1].dtype == np.float32, layer.name
    _, grad = softmax_cross_entropy(outputs[-1], rng.integers(0, 10, 4))
    for layer in reversed(model.layers):
        grad = layer.backward(grad)
        assert grad.dtype == np.float32, layer.name


@pytest.mark.parametrize("spec", ["lenet300", "mlp:20-16-12-5:tanh", "mlp:20-16-5:sigmoid", "mlp:20-3"])
def test_whole_network_gradients(spec, rng):
    model = build_model(spec, seed=3, dtype=np.float64)
    for p in model.parameters():  # non-zero biases, so their gradients are exercised
        if p.name.endswith("bias"):
            p.value[:] = 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((8, model.input_shape[0]))
    # lenet300 has 266,610 weights: check 300 random entries of each array.
    result = check_gradients(model, x, rng, max_entries=300)
    assert set(result.errors) == set(model.named_parameters()) | {"input"}
    assert result.max_error < TOL, result.errors


def test_lenet5_gradients(rng):
    model = build_model("lenet5", seed=1, dtype=np.float64)
    for p in model.parameters():
        if p.name.endswith("bias"):
            p.value[:] = 0.1 * rng.standard_normal(p.shape)
    result = check_gradients(model, rng.standard_normal((3, 1, 28, 28)), rng, max_entries=150)
    assert set(result.errors) == set(model.named_parameters()) | {"input"}
    assert result.max_error < TOL, result.errors
