"""The loss (tdnumpy.nn.loss): softmax cross-entropy against SciPy, float32 kept,
huge logits, bad labels, and its gradient alone and behind a whole network."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax as scipy_log_softmax

from tdnumpy.nn import Module, Sequential, softmax_cross_entropy
from tdnumpy.nn.models import build_model
from tdnumpy.testing import check_gradients

TOL = 1e-6


def test_loss_keeps_float32(rng):
    logits = rng.standard_normal((16, 10)).astype(np.float32)
    loss, grad = softmax_cross_entropy(logits, rng.integers(0, 10, 16))
    assert grad.dtype == np.float32 and loss.dtype == np.float32


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
    (np.array([0, 1, 2]), "3 labels but there are 2 examples in .logits."),
])
def test_loss_rejects_bad_labels(labels, match):
    with pytest.raises((ValueError, TypeError), match=match):
        softmax_cross_entropy(np.zeros((2, 10)), labels)


def test_loss_rejects_non_2d_logits():
    with pytest.raises(ValueError, match="2-D float array"):
        softmax_cross_entropy(np.zeros(10), np.array([1]))


def test_loss_of_an_empty_batch_is_an_error():
    with pytest.raises(ValueError, match="has no rows"):
        softmax_cross_entropy(np.zeros((0, 10)), np.zeros(0, int))


class _LossModule(Module):
    """softmax_cross_entropy seen as a module: logits -> loss (shape (1,))."""

    def __init__(self, labels):
        super().__init__("loss")
        self.labels = labels

    def forward(self, x, training=False):
        loss, self._grad = softmax_cross_entropy(x, self.labels)
        return np.array([loss])

    def backward(self, grad_out, input_grad=True):
        return self._grad * grad_out[0]


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_softmax_cross_entropy_gradient(scale, rng):
    logits = scale * rng.standard_normal((6, 10))
    labels = rng.integers(0, 10, 6)
    # The loss is smooth (no kinks), so a larger step h = 1e-4 keeps the
    # truncation error negligible while cutting the rounding error ~eps |L| / h.
    result = check_gradients(_LossModule(labels), logits, rng, h=1e-4)
    assert result.max_error < TOL, result.errors


def test_network_with_loss_gradients(rng):
    """The full training objective: loss(model(x)) with respect to every parameter."""
    model = build_model("mlp:12-10-8-4", seed=1, dtype=np.float64)
    labels = rng.integers(0, 4, 7)
    net = Sequential(*model.layers, _LossModule(labels))
    result = check_gradients(net, rng.standard_normal((7, 12)), rng)
    assert result.max_error < TOL, result.errors
