"""The Taylor analysis of dependence: its gradient term, its Hessian-vector
product and its true change agree with finite differences of the loss itself,
on a smooth network (softmax regression) where those are well defined."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.experiments.dependence import dependence, float64_copy, hessian_vector_product, loss_and_gradient
from tdnumpy.masks import weight_targets
from tdnumpy.nn.loss import softmax_cross_entropy
from tdnumpy.nn.models import build_model


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    model = build_model("mlp:784-10", seed=3)  # float32, as trained networks are
    x = rng.random((64, 784))
    y = rng.integers(0, 10, 64)
    return model, x, y


def loss_at(model, x, y, weight):
    net = float64_copy(model)
    net.layer("fc1").weight.value[...] = weight
    return float(softmax_cross_entropy(net.forward(x), y)[0])


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_the_taylor_terms_match_finite_differences_of_the_loss(problem, fraction):
    model, x, y = problem
    before = model.layer("fc1").weight.value.copy()
    row, = dependence(model, x, y, [fraction])
    w = model.layer("fc1").weight.value.astype(np.float64)
    delta = np.where(weight_targets(w, fraction), -w, 0.0)
    h = 1e-3
    plus, zero, minus = (loss_at(model, x, y, w + s * h * delta) for s in (1, 0, -1))
    slope = (plus - minus) / (2 * h)
    bend = (plus - 2 * zero + minus) / h ** 2  # delta^T H delta, to O(h^2) and rounding of about 4 u L / h^2
    rounding = 8 * np.finfo(np.float64).eps * zero / h ** 2
    assert row["loss"] == pytest.approx(zero, rel=1e-12)
    assert row["first_order"] == pytest.approx(slope, rel=1e-6)
    assert 2 * row["curvature"] == pytest.approx(bend, rel=1e-5, abs=rounding)
    assert row["true_change"] == pytest.approx(loss_at(model, x, y, w + delta) - zero, rel=1e-12)
    assert row["hvp_error"] < 1e-5
    assert (model.layer("fc1").weight.value == before).all()  # the model is left alone


def test_a_deeper_smooth_network_matches_too():
    model = build_model("mlp:784-16-12-10:tanh", seed=5)
    rng = np.random.default_rng(2)
    x, y = rng.random((32, 784)), rng.integers(0, 10, 32)
    row, = dependence(model, x, y, [0.5])
    net = float64_copy(model)
    weights = [net.layer(name).weight for name in ("fc1", "fc2", "fc3")]
    base = [w.value.copy() for w in weights]
    delta = [np.where(weight_targets(b, 0.5), -b, 0.0) for b in base]

    def loss(t):
        for w, b, d in zip(weights, base, delta):
            w.value[...] = b + t * d
        return float(softmax_cross_entropy(net.forward(x), y)[0])

    h = 1e-3
    plus, zero, minus, removed = loss(h), loss(0.0), loss(-h), loss(1.0)
    assert row["first_order"] == pytest.approx((plus - minus) / (2 * h), rel=1e-6)
    assert 2 * row["curvature"] == pytest.approx((plus - 2 * zero + minus) / h ** 2, rel=1e-5,
                                                 abs=8 * np.finfo(np.float64).eps * zero / h ** 2)
    assert row["true_change"] == pytest.approx(removed - zero, rel=1e-12)


def test_the_second_order_estimate_beats_the_first_for_a_small_change(problem):
    model, x, y = problem
    row, = dependence(model, x, y, [0.1])
    assert abs(row["true_change"] - row["second_order"]) < 0.1 * abs(row["true_change"] - row["first_order"])


def test_the_hessian_vector_product_is_symmetric(problem):
    model, x, y = problem
    net = float64_copy(model)
    weights = [net.layer("fc1").weight]
    rng = np.random.default_rng(1)
    u, v = ([rng.standard_normal(weights[0].shape)] for _ in range(2))
    hu = hessian_vector_product(net, x, y, weights, u, 1e-6)[0]
    hv = hessian_vector_product(net, x, y, weights, v, 1e-6)[0]
    assert np.vdot(v[0], hu) == pytest.approx(np.vdot(u[0], hv), rel=1e-6)
    loss, _ = loss_and_gradient(net, x, y, weights)
    assert loss == pytest.approx(loss_at(model, x, y, model.layer("fc1").weight.value.astype(np.float64)))


def test_bad_arguments_are_named(problem):
    model, x, y = problem
    with pytest.raises(ValueError, match="'fractions'.*1.5"):
        dependence(model, x, y, [1.5])
    with pytest.raises(ValueError, match="'eps'"):
        dependence(model, x, y, [0.5], eps=0.0)
