"""How much a network depends on its low-magnitude weights: the change in
loss when they are removed, measured and estimated by a Taylor expansion.

Gomez et al. (2019), section 3, explain targeted dropout by this dependence.
Removing the weights of a set M changes theta by delta = -theta * 1_M, and

    Delta L = L(theta + delta) - L(theta)
            ~ g^T delta + 1/2 delta^T H delta          (second order)

with g the gradient and H the Hessian of the training loss. A network trained
with targeted dropout has learned to do without its targets, so both its
true change and its estimate should be small where a plain network's are
large. The Hessian-vector product H delta comes from central differences of
the hand-written gradient,

    H delta ~ (g(theta + eps delta) - g(theta - eps delta)) / (2 eps),

in float64; its error is O(eps^2) (the third derivative) plus rounding of
order 1e-16 / eps, and :func:`dependence` reports the difference between
eps and eps / 2 as a measure of it. A ReLU network's loss is smooth only
between the kinks where a unit's input crosses 0, so the step must be small
enough that almost no unit crosses one: at eps = 1e-4 the two steps differ
by 10% to 400% on LeNet-300-100, at the default 1e-7 by 1e-8 or less.
"""

from __future__ import annotations

import numpy as np

from .._validation import Interval
from ..masks import weight_targets
from ..nn.loss import softmax_cross_entropy
from ..nn.models import build_model
from ..nn.weighted import choose_layers

FRACTIONS = Interval(float, 0.0, 1.0)
EPS = Interval(float, 0.0, None, "neither")


def float64_copy(model):
    """A float64 network with ``model``'s parameters and no regularisers (evaluation as it is without noise).

    Parameters
    ----------
    model : Sequential
        A network built by :func:`tdnumpy.nn.models.build_model`.

    Returns
    -------
    Sequential
        The copy; pruning masks are applied to the values (pruned weights are 0).
    """
    copy = build_model(model.spec, dtype=np.float64)
    for p, q in zip(copy.parameters(), model.parameters()):
        p.value[...] = q.value if q.mask is None else q.value * q.mask
    return copy


def loss_and_gradient(model, x: np.ndarray, y: np.ndarray, weights: list) -> tuple[float, list]:
    """Mean cross-entropy over all of ``x`` and its gradient with respect to ``weights``.

    Parameters
    ----------
    model : Sequential
        A float64 network without noise.
    x : ndarray, shape (n, ...)
        float64 inputs.
    y : ndarray of int, shape (n,)
        Labels.
    weights : list of Parameter
        The parameters whose gradient is returned.

    Returns
    -------
    loss : float
        L(theta).
    gradient : list of ndarray
        dL/dw for each of ``weights`` (copies).
    """
    logits = model.forward(x, training=False)
    loss, grad = softmax_cross_entropy(logits, y)
    model.backward(grad, input_grad=False)
    return float(loss), [w.grad.copy() for w in weights]


def _shift(weights: list, base: list, direction: list, step: float) -> None:
    for w, b, d in zip(weights, base, direction):
        np.multiply(d, step, out=w.value)
        w.value += b


def hessian_vector_product(model, x, y, weights: list, direction: list, eps: float) -> list:
    """H delta by central differences of the gradient, theta left as it was.

    Parameters
    ----------
    model : Sequential
        A float64 network without noise.
    x, y : ndarray
        Inputs and labels the loss is taken over.
    weights : list of Parameter
        theta.
    direction : list of ndarray
        delta, one array per parameter of ``weights``.
    eps : float
        The step, > 0.

    Returns
    -------
    list of ndarray
        (g(theta + eps delta) - g(theta - eps delta)) / (2 eps).
    """
    eps = EPS.check(eps, "eps", "hessian_vector_product")
    base = [w.value.copy() for w in weights]
    try:
        _shift(weights, base, direction, eps)
        _, plus = loss_and_gradient(model, x, y, weights)
        _shift(weights, base, direction, -eps)
        _, minus = loss_and_gradient(model, x, y, weights)
    finally:
        for w, b in zip(weights, base):
            w.value[...] = b
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def dependence(model, x: np.ndarray, y: np.ndarray, fractions, *, eps: float = 1e-7) -> list[dict]:
    """The change in loss when the bottom fraction of each weight column is
    removed, and its first- and second-order Taylor estimates.

    Parameters
    ----------
    model : Sequential
        The trained network (any dtype; it is copied to float64, not changed).
    x : ndarray, shape (n, ...)
        Inputs the loss is taken over (cast to float64).
    y : ndarray of int, shape (n,)
        Their labels.
    fractions : sequence of float
        The fractions gamma in [0, 1] removed from every column of every
        weight matrix (:func:`tdnumpy.masks.weight_targets`).
    eps : float
        The finite-difference step of the Hessian-vector product.

    Returns
    -------
    list of dict
        One per fraction: ``fraction``, ``loss`` L(theta), ``true_change``,
        ``first_order`` g^T delta, ``second_order`` g^T delta + 1/2 delta^T H delta,
        ``curvature`` 1/2 delta^T H delta, and ``hvp_error``, the relative
        difference of the curvature term between steps eps and eps / 2.
    """
    fractions = [FRACTIONS.check(f, "fractions", "dependence") for f in fractions]
    net = float64_copy(model)
    x = np.ascontiguousarray(x, dtype=np.float64)
    weights = [net.layer(name).weight for name in choose_layers(net)]
    loss, gradient = loss_and_gradient(net, x, y, weights)
    rows = []
    for fraction in fractions:
        delta = [np.where(weight_targets(w.value, fraction), -w.value, 0.0) for w in weights]
        first = sum(float(np.vdot(g, d)) for g, d in zip(gradient, delta))
        curvature = [
            0.5
            * sum(float(np.vdot(d, h)) for d, h in zip(delta, hessian_vector_product(net, x, y, weights, delta, step)))
            for step in (eps, eps / 2)
        ]
        base = [w.value.copy() for w in weights]
        _shift(weights, base, delta, 1.0)
        removed = float(softmax_cross_entropy(net.forward(x, training=False), y)[0])
        for w, b in zip(weights, base):
            w.value[...] = b
        rows.append(
            {
                "fraction": fraction,
                "loss": loss,
                "true_change": removed - loss,
                "first_order": first,
                "second_order": first + curvature[0],
                "curvature": curvature[0],
                "hvp_error": abs(curvature[0] - curvature[1]) / max(abs(curvature[1]), 1e-300),
            }
        )
    return rows
