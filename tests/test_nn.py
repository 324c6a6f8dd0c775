"""Layers, models and the loss: shapes, dtypes, names, parameter counts, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.special import log_softmax as scipy_log_softmax

from tdnumpy.models import build_model, lenet5, parse_lenet5_spec, parse_mlp_spec
from tdnumpy.nn import (AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Parameter, ReLU, Sequential, Sigmoid, Tanh,
                        he_normal, softmax_cross_entropy)


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


def test_dense_computes_xw_plus_b(rng):
    layer = Dense(3, 2, rng=rng, dtype=np.float64)
    layer.bias.value[:] = [0.5, -1.0]
    x = rng.standard_normal((4, 3))
    w = layer.weight.value
    expected = np.array([[sum(x[n, i] * w[i, o] for i in range(3)) + layer.bias.value[o] for o in range(2)]
                         for n in range(4)])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_dense_rejects_wrong_shape_naming_layer_and_shapes(rng):
    model = build_model("lenet300")
    with pytest.raises(ValueError, match=r"Dense 'fc1' \(784 -> 300\) expects input of shape \(batch, 784\)\. "
                                         r"Got shape \(2, 785\)"):
        model.forward(np.zeros((2, 785), np.float32))
    with pytest.raises(ValueError, match=r"'fc1'.*Got shape \(784,\)"):
        model.forward(np.zeros(784, np.float32))


def test_dense_rejects_wrong_dtype_instead_of_upcasting(rng):
    model = build_model("lenet300")
    with pytest.raises(TypeError, match=r"'fc1'.*float32 weights.*Got float64"):
        model.forward(np.zeros((2, 784)))
    with pytest.raises(TypeError, match=r"Got uint8"):
        model.forward(np.zeros((2, 784), np.uint8))


@pytest.mark.parametrize("kwargs, match", [
    (dict(fan_in=0, units=3), "'fan_in' parameter of Dense must be an int in the range \\[1, inf\\). Got 0"),
    (dict(fan_in=3, units=-1), "'units'"),
    (dict(fan_in=2.5, units=3), "'fan_in'"),
    (dict(fan_in=3, units=3, dtype=np.int32), "'dtype'"),
    (dict(fan_in=3, units=3, init="zeros"), "'init'"),
])
def test_dense_rejects_bad_arguments(kwargs, match, rng):
    with pytest.raises((ValueError, TypeError), match=match):
        Dense(rng=rng, **kwargs)


def test_dense_needs_an_explicit_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        Dense(3, 3, rng=0)


def test_loss_keeps_float32(rng):
    logits = rng.standard_normal((16, 10)).astype(np.float32)
    loss, grad = softmax_cross_entropy(logits, rng.integers(0, 10, 16))
    assert grad.dtype == np.float32 and loss.dtype == np.float32


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


def test_he_initialisation_has_the_stated_variance():
    """Var[w] = 2 / fan_in. With n = 300,000 draws the sample variance has relative
    standard deviation sqrt(2 / n) = 0.0026; the bound 0.02 is 7.7 standard
    deviations (false failure rate below 1e-13)."""
    w = he_normal(np.random.default_rng(0), (1000, 300), 1000, 300, np.float64)
    assert abs(w.var() / (2 / 1000) - 1) < 0.02


def test_backward_overwrites_instead_of_accumulating(rng):
    layer = Dense(4, 3, rng=rng, dtype=np.float64)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, first)


def test_first_layer_skips_input_gradient(rng):
    model = build_model("mlp:6-4-2", dtype=np.float64)
    model.forward(rng.standard_normal((3, 6)))
    assert model.backward(rng.standard_normal((3, 2)), input_grad=False) is None


def test_sequential_names_and_duplicates(rng):
    seq = Sequential(Dense(2, 2, rng=rng), ReLU(), Dense(2, 2, rng=rng), ReLU())
    assert [layer.name for layer in seq.layers] == ["fc1", "relu1", "fc2", "relu2"]
    assert seq.layer("fc2") is seq.layers[2]
    with pytest.raises(KeyError, match="No layer named 'fc9'"):
        seq.layer("fc9")
    with pytest.raises(ValueError, match="named 'a'"):
        Sequential(ReLU(name="a"), ReLU(name="a"))
    with pytest.raises(TypeError, match="Module"):
        Sequential(np.zeros(3))


def test_parameter_mask_zeroes_and_validates(rng):
    p = Parameter(rng.standard_normal((3, 2)) + 5, "w")
    keep = np.array([[True, False], [True, True], [False, True]])
    p.set_mask(keep)
    assert (p.value[~keep] == 0).all() and (p.value[keep] != 0).all()
    with pytest.raises(ValueError, match="boolean array of shape \\(3, 2\\)"):
        p.set_mask(keep.astype(int))
    with pytest.raises(ValueError, match="shape"):
        p.set_mask(keep[:2])


def test_loss_matches_scipy_and_stays_finite_for_huge_logits(rng):
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    loss, grad = softmax_cross_entropy(logits, labels)
    logp = scipy_log_softmax(logits, axis=1)
    assert loss == pytest.approx(-logp[np.arange(5), labels].mean(), rel=1e-12)
    onehot = np.eye(10)[labels]
    np.testing.assert_allclose(grad, (np.exp(logp) - onehot) / 5, atol=1e-15)
    huge = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], np.float32)
    loss, grad = softmax_cross_entropy(huge, np.array([1, 1]))
    assert loss.dtype == np.float32 and loss == pytest.approx(1e4, rel=1e-6)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-7)


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 10]), r"range \[0, 9\]. Got a label 10"),
    (np.array([-1, 0]), "Got a label -1"),
    (np.array([0.0, 1.0]), "integer class labels"),
    (np.array([0, 1, 2]), "3 labels but there are 2 examples"),
])
def test_loss_rejects_bad_labels(labels, match):
    with pytest.raises((ValueError, TypeError), match=match):
        softmax_cross_entropy(np.zeros((2, 10)), labels)


def test_loss_rejects_non_2d_logits():
    with pytest.raises(ValueError, match="2-D float array"):
        softmax_cross_entropy(np.zeros(10), np.array([1]))


def test_layers_draw_from_spawned_child_generators():
    """Layer k is initialised from default_rng(SeedSequence(seed).spawn(n)[k])."""
    model = build_model("lenet300", seed=11)
    child = np.random.SeedSequence(11).spawn(3)[1]
    expected = he_normal(np.random.default_rng(child), (300, 100), 300, 100)
    np.testing.assert_array_equal(model.named_parameters()["fc2.weight"].value, expected)


@pytest.mark.parametrize("layer", [Dense(3, 2, rng=np.random.default_rng(0)), ReLU(), Tanh(), Sigmoid(),
                                   Conv2D(1, 2, 3, rng=np.random.default_rng(0)), MaxPool2D(2), AvgPool2D(2),
                                   Flatten()])
def test_backward_before_forward_is_a_clear_error(layer):
    with pytest.raises(RuntimeError, match="backward was called before forward"):
        type(layer).backward(layer, np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("layer, x, bad", [
    (Dense(3, 2, rng=np.random.default_rng(0)), np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)),
    (ReLU(), np.zeros((4, 3), np.float32), np.zeros((3, 4), np.float32)),
    (Conv2D(1, 2, 3, rng=np.random.default_rng(0)), np.zeros((2, 1, 5, 5), np.float32),
     np.zeros((2, 2, 5, 5), np.float32)),
    (MaxPool2D(2), np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 3, 4, 4), np.float32)),
    (Flatten(), np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 47), np.float32)),
])
def test_gradient_of_the_wrong_shape_is_a_clear_error(layer, x, bad):
    out = layer.forward(x)
    expected = f"grad_out must have the shape of the forward output, {tuple(out.shape)}. Got {bad.shape}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        layer.backward(bad)


@pytest.mark.parametrize("layer, shape", [(Dense(3, 2, rng=np.random.default_rng(0)), (4, 3)), (ReLU(), (4, 3)),
                                          (Conv2D(1, 2, 3, rng=np.random.default_rng(0)), (2, 1, 5, 5)),
                                          (MaxPool2D(2), (2, 1, 4, 4)), (Flatten(), (2, 1, 4, 4))])
def test_a_float64_gradient_into_a_float32_layer_is_refused(layer, shape):
    out = layer.forward(np.zeros(shape, np.float32))
    with pytest.raises(TypeError, match="grad_out must be float32 like the forward output. Got float64"):
        layer.backward(np.zeros(out.shape))


def test_loss_of_an_empty_batch_is_an_error():
    with pytest.raises(ValueError, match="has no rows"):
        softmax_cross_entropy(np.zeros((0, 10)), np.zeros(0, int))
