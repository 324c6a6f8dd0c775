"""The sparsifying baselines as weight rules: L0 gates and sparse variational
dropout on every weight of a layer.

Both learn, so unlike the rules of :mod:`tdnumpy.nn.noise` they own
parameters (made when the rule is attached to its layer, in the weight's
shape, dtype and memory order) and fill their gradients in the layer's
backward pass (see :class:`~tdnumpy.nn.weighted.WeightNoise`). Their math,
with its derivatives, is in :mod:`tdnumpy.masks.l0` and
:mod:`tdnumpy.masks.variational`; the per-unit versions and Smallify's
switches are modules, in :mod:`tdnumpy.nn.gates`.

Every learnt sparsifier here and in :mod:`tdnumpy.nn.gates` has the same
face, which the penalties, pruning and folding use:

    method                       "l0", "vd" or "smallify": the penalty that trains it
    penalty_value()              its own penalty (L0: expected number of
                                 non-zero gates; VD: KL; Smallify: sum |beta|)
    add_penalty_gradient(scale)  grads += scale * d penalty
    importance()                 per weight or unit, larger = more important
    evaluation_gate()            the factor it applies at evaluation
    freeze(draws)                fixed draws in place of fresh ones (gradient checks)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..masks import l0, variational
from .module import Parameter
from .weighted import NO_KEEP, Keep, WeightNoise

METHODS = ("l0", "vd", "smallify")


def learnt_sparsifiers(model) -> list:
    """Every learnt sparsifier of ``model``: weight rules and gate modules, in network order.

    Parameters
    ----------
    model : Sequential
        The network.

    Returns
    -------
    list
        The objects with a ``method`` attribute (see the module docstring).
    """
    found = []
    for layer in model.layers:
        rule = getattr(layer, "noise", None)
        for item in (rule, layer):
            if getattr(item, "method", None) in METHODS:
                found.append(item)
    return found


def _like(w: np.ndarray, values) -> np.ndarray:
    """A new array in w's shape, dtype and memory order, holding ``values``."""
    out = np.empty_like(w)
    out[...] = values
    return out


class L0Penalised:
    """What the L0 gates per weight and per unit share: their penalty, importance
    and evaluation gate, from ``self.log_alpha`` and the stretch."""

    method = "l0"
    log_alpha: Any  # the Parameter that attach() makes
    beta: float
    gamma: float
    zeta: float

    def penalty_value(self) -> float:
        """The expected number of non-zero gates, sum sigmoid(log_alpha - beta log(-gamma / zeta)).

        Returns
        -------
        float
            The penalty before its strength.
        """
        return l0.l0_penalty(self.log_alpha.value, self.beta, self.gamma, self.zeta)[0]

    def add_penalty_gradient(self, scale: float) -> None:
        """log_alpha.grad += scale * d(expected L0)/dlog_alpha.

        Parameters
        ----------
        scale : float
            The penalty's strength.
        """
        grad = l0.l0_penalty(self.log_alpha.value, self.beta, self.gamma, self.zeta)[1]
        self.log_alpha.grad += self.log_alpha.dtype.type(scale) * grad

    def importance(self) -> np.ndarray:
        """P(z != 0) per gate (monotone in log_alpha).

        Returns
        -------
        ndarray of float64, log_alpha's shape
            sigmoid(log_alpha - beta log(-gamma / zeta)); larger is more important.
        """
        return l0.nonzero_probability(self.log_alpha.value, self.beta, self.gamma, self.zeta)

    def evaluation_gate(self) -> np.ndarray:
        """The deterministic gates, exactly 0 where sigmoid(log_alpha) <= -gamma / (zeta - gamma).

        Returns
        -------
        ndarray, log_alpha's shape, dtype and memory order
            min(1, max(0, sigmoid(log_alpha) (zeta - gamma) + gamma)).
        """
        return _like(
            self.log_alpha.value, l0.hard_concrete_mean(self.log_alpha.value, self.beta, self.gamma, self.zeta)
        )


class L0WeightGates(L0Penalised, WeightNoise):
    """L0 regularisation with a hard-concrete gate on every weight.

    Louizos, Welling and Kingma (2018), eq. 10-13: in training each weight is
    multiplied by a gate z = min(1, max(0, s (zeta - gamma) + gamma)),
    s = sigmoid((log u - log(1 - u) + log_alpha) / beta), u ~ U(0, 1), one
    draw per weight per mini-batch; at evaluation by the deterministic gate
    min(1, max(0, sigmoid(log_alpha) (zeta - gamma) + gamma)). The penalty is
    the expected number of non-zero gates, sum sigmoid(log_alpha - beta log(-gamma / zeta)).

    Backward: dL/dlog_alpha = dL/dW_eff * W * dz/dlog_alpha and dL/dW = dL/dW_eff * z.

    Parameters
    ----------
    beta : float, default=2/3
        Temperature, > 0.
    gamma, zeta : float, default=(-0.1, 1.1)
        The stretch, gamma < 0 < 1 < zeta.
    init_drop : float, default=0.5
        log_alpha starts at N(log((1 - p) / p), 0.01^2) with this p, in (0, 1)
        (Louizos et al.'s initialisation; the authors' targeted-dropout code does the same).

    Attributes
    ----------
    log_alpha : Parameter or None
        The gates' locations, made by :meth:`attach`.
    """

    def __init__(self, beta: float = l0.BETA, gamma: float = l0.GAMMA, zeta: float = l0.ZETA, init_drop: float = 0.5):
        super().__init__()
        self.beta, self.gamma, self.zeta = l0.check_stretch(beta, gamma, zeta, type(self).__name__)
        self.init_drop = l0.check_init_drop(init_drop, type(self).__name__)
        self.log_alpha = None
        self.frozen = None
        self._dz = None

    def attach(self, layer) -> None:
        w = layer.weight.value
        self.rng = layer.rng.spawn(1)[0]
        mean = np.log(1 - self.init_drop) - np.log(self.init_drop)
        self.log_alpha = Parameter(_like(w, self.rng.normal(mean, 0.01, w.shape)), "log_alpha")

    def parameters(self) -> list:
        return [self.log_alpha]

    def freeze(self, u) -> None:
        """Use the uniform draws ``u`` (the weight's shape, in (0, 1)) in every
        training pass; None draws afresh.

        Parameters
        ----------
        u : ndarray or None
            The draws.
        """
        self.frozen = u

    def _sample(self, layer, batch, step) -> Keep:
        a = self.log_alpha.value
        if self.frozen is None:
            z, self._dz = l0.hard_concrete_sample(a, self.rng, self.beta, self.gamma, self.zeta)
        else:
            z, self._dz = l0.hard_concrete_gate(a, self.frozen, self.beta, self.gamma, self.zeta)
        return Keep(weight=z)

    def inference(self, layer) -> Keep:
        self._dz = l0.hard_concrete_mean_grad(self.log_alpha.value, self.beta, self.gamma, self.zeta)
        return Keep(weight=self.evaluation_gate())

    def backward(self, layer, grad, input_grad=True):
        g = self.log_alpha.grad
        np.multiply(layer.weight.grad, layer.weight.value, out=g)
        g *= self._dz
        return None


class VDPenalised:
    """What variational dropout per weight and per unit share: the KL penalty and
    the importance, from the means ``self.theta`` (a Parameter: the layer's
    weight, or the units' multipliers) and ``self.log_sigma2``."""

    method = "vd"
    theta: Any  # the Parameters that attach() makes (or the gate module's own)
    log_sigma2: Any

    def penalty_value(self) -> float:
        """KL(q || p) summed over the weights (or units), by Molchanov et al.'s approximation.

        Returns
        -------
        float
            The penalty before its strength.
        """
        return variational.vd_penalty(self.theta.value, self.log_sigma2.value)[0]

    def add_penalty_gradient(self, scale: float) -> None:
        """theta.grad and log_sigma2.grad += scale * dKL.

        Parameters
        ----------
        scale : float
            The penalty's strength (over the number of training images).
        """
        _, d_theta, d_sigma = variational.vd_penalty(self.theta.value, self.log_sigma2.value)
        self.theta.grad += self.theta.dtype.type(scale) * d_theta
        self.log_sigma2.grad += self.log_sigma2.dtype.type(scale) * d_sigma

    def importance(self) -> np.ndarray:
        """1 / (1 + alpha) = sigmoid(-log alpha): the keep probability of the
        Bernoulli dropout whose Gaussian approximation has variance alpha. log
        alpha is taken before its clip to [-8, 8], so that ranking does not meet
        ties at the clip (a zero theta has importance 0).

        Returns
        -------
        ndarray of float64, theta's shape
            Larger is more important.
        """
        return variational.keep_probability(self.theta.value, self.log_sigma2.value)


class VariationalWeights(VDPenalised, WeightNoise):
    """Sparse variational dropout on every weight, by the local reparameterisation trick.

    Molchanov, Ashukha and Vetrov (2017): the weights are the means theta
    (the layer's W) of a posterior N(theta, alpha theta^2) with a learnt
    log sigma^2 per weight, log alpha = clip(log sigma^2 - log theta^2, -8, 8).
    A training pass computes the pre-activations as

        b = rows W + bias + sqrt(rows^2 S + 1e-8) * eps,   S = alpha W^2,  eps ~ N(0, 1)

    with one draw per output (rows: the input, or a convolution's patch
    matrix; 1e-8 as in Molchanov et al.'s code keeps the square root
    differentiable at 0). At evaluation a weight with log alpha > threshold is
    set to zero. The penalty is the KL divergence from the log-uniform prior,
    approximated as in their eq. 14 (:func:`tdnumpy.masks.variational.neg_kl`).

    Backward, with G = dL/db and H = G eps / (2 sqrt(rows^2 S + 1e-8)):
    dL/dS = (rows^2)^T H; dL/drows gets 2 rows (H S^T); inside the clip
    S = sigma^2, so dL/dlog sigma^2 = dL/dS * S and W is reached through the
    mean only; outside it S = e^(+-8) W^2 and dL/dW gets dL/dS * 2 e^(+-8) W.

    Parameters
    ----------
    threshold : float, default=3.0
        log alpha above which a weight is zero at evaluation, in [-8, 8].
    init_log_sigma2 : float, default=-10.0
        The starting log sigma^2 of every weight (Molchanov et al.'s code).

    Attributes
    ----------
    log_sigma2 : Parameter or None
        The log variances, made by :meth:`attach`.
    theta : Parameter or None
        The layer's weight (the posterior's means), set by :meth:`attach`.
    """

    perturbs_output = True

    def __init__(self, threshold: float = variational.THRESHOLD, init_log_sigma2: float = -10.0):
        super().__init__()
        self.threshold = variational.check_threshold(threshold, type(self).__name__)
        self.init_log_sigma2 = float(init_log_sigma2)
        self.log_sigma2 = None
        self.theta = None
        self.frozen = None
        self._saved = None

    def attach(self, layer) -> None:
        w = layer.weight.value
        self.rng = layer.rng.spawn(1)[0]
        self.theta = layer.weight  # the posterior's means are the weights
        self.log_sigma2 = Parameter(_like(w, self.init_log_sigma2), "log_sigma2")

    def parameters(self) -> list:
        return [self.log_sigma2]

    def freeze(self, eps) -> None:
        """Use the standard-normal draws ``eps`` (rows, units) in every training pass; None draws afresh.

        Parameters
        ----------
        eps : ndarray or None
            The draws, in the layer's dtype.
        """
        self.frozen = eps

    def _sample(self, layer, batch, step) -> Keep:
        return NO_KEEP

    def inference(self, layer) -> Keep:
        self._saved = None
        return Keep(weight=variational.vd_keep(layer.weight.value, self.log_sigma2.value, self.threshold))

    def perturb(self, layer, rows, y):
        w = layer.weight.value
        log_alpha, _, inside = variational.vd_log_alpha(w, self.log_sigma2.value)
        alpha = np.exp(log_alpha)
        s = alpha * np.square(w)
        rows2 = np.square(rows)
        sd = rows2 @ s
        sd += y.dtype.type(1e-8)
        np.sqrt(sd, out=sd)
        eps = self.rng.standard_normal(y.shape, dtype=y.dtype) if self.frozen is None else self.frozen
        y += sd * eps
        self._saved = (rows2, rows, s, alpha, inside.astype(bool), sd, eps)
        return y

    def backward(self, layer, grad, input_grad=True):
        if self._saved is None:  # an evaluation pass: the output is flat in log sigma^2 (but at the threshold)
            self.log_sigma2.grad.fill(0)
            return None
        rows2, rows, s, alpha, inside, sd, eps = self._saved
        h = grad * eps
        h /= 2 * sd
        ds = rows2.T @ h
        np.multiply(ds, s * inside, out=self.log_sigma2.grad)
        w = layer.weight.value
        layer.weight.grad += np.where(inside, 0, 2 * alpha * w) * ds
        if not input_grad:
            return None
        extra = h @ s.T
        extra *= 2 * rows
        return extra

    def evaluation_gate(self) -> np.ndarray:
        """1 where log alpha <= threshold, 0 where the weight is dropped at evaluation.

        Returns
        -------
        ndarray, the weight's shape and dtype
            The 0/1 gate.
        """
        keep = variational.vd_keep(self.theta.value, self.log_sigma2.value, self.threshold)
        return _like(self.theta.value, keep)
