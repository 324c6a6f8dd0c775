"""The sparsifying baselines on units: modules that multiply each unit's
output by a learnt gate.

Each is inserted after a weighted layer's activation (or after the layer
when no activation follows) and gates its ``units`` outputs: the columns
of a dense layer's output (batch, units) or the channels of a convolution's
(batch, units, height, width). They share the face described in
:mod:`tdnumpy.nn.sparsifying`.

- :class:`L0UnitGates`: one hard-concrete gate per unit (Louizos et al. 2018,
  the group version of their section 3; here on the outputs of the layer,
  that is on the inputs of the next).
- :class:`VariationalUnits`: sparse variational dropout on one multiplicative
  weight per unit (Molchanov et al. 2017's posterior N(theta, alpha theta^2)
  for that weight, drawn per example).
- :class:`Switches`: Smallify's switch layer (Leclerc et al. 2018) with the
  sign-variance rule that removes units for good.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_float_dtype, check_generator, check_int
from ..masks import l0, smallify, variational
from .module import Module, Parameter
from .sparsifying import L0Penalised, VDPenalised


def _per_unit(gate: np.ndarray, ndim: int) -> np.ndarray:
    """A (units,) gate shaped to broadcast over axis 1 of an ndim-D output."""
    return gate.reshape((1, -1) + (1,) * (ndim - 2))


def _sum_per_unit(a: np.ndarray) -> np.ndarray:
    """Sum over every axis but the units' (axis 1)."""
    return a.sum(axis=(0,) + tuple(range(2, a.ndim)))


class _UnitGate(Module):
    """Base: y = x * gate over axis 1; subclasses make ``gate`` and its gradients.

    Parameters
    ----------
    units : int
        Number of units gated.
    rng : numpy.random.Generator
        The module's own generator.
    dtype : {numpy.float32, numpy.float64}
        dtype of the parameters and of the input.
    name : str or None
        The module's name.
    """

    kind = "gate"
    frozen = None
    _learn = None

    def __init__(self, units: int, rng: np.random.Generator, dtype, name: str | None = None):
        super().__init__(name)
        owner = type(self).__name__
        self.units = check_int(units, "units", owner, low=1)
        self.rng = check_generator(rng, "rng", owner)
        self.dtype = check_float_dtype(dtype, "dtype", owner)
        self._x = None
        self._gate = None

    def freeze(self, draws) -> None:
        """Use ``draws`` in every training pass instead of fresh ones (None: draw again).

        Parameters
        ----------
        draws : ndarray or None
            What the subclass draws per pass (see its docstring).
        """
        self.frozen = draws

    def _check_input(self, x) -> None:
        if not isinstance(x, np.ndarray) or x.ndim < 2 or x.shape[1] != self.units or x.dtype != self.dtype:
            raise ValueError(
                f"{self!r} expects a {self.dtype} array with {self.units} units on axis 1. Got "
                f"{getattr(x, 'dtype', type(x).__name__)} of shape {getattr(x, 'shape', None)}."
            )

    def forward(self, x, training=False):
        self._check_input(x)
        self._x = x
        self._gate = self._training_gate(x) if training else self._evaluation_pass(x)
        return x * self._gate

    def _evaluation_pass(self, x) -> np.ndarray:
        self._learn = None
        return _per_unit(self.evaluation_gate(), x.ndim)

    def backward(self, grad_out, input_grad=True):
        self._check_grad(grad_out, None if self._x is None else self._x.shape, self.dtype)
        self._parameter_gradients(grad_out)
        return grad_out * self._gate if input_grad else None

    def _training_gate(self, x) -> np.ndarray:
        raise NotImplementedError

    def _parameter_gradients(self, grad_out) -> None:
        raise NotImplementedError

    def evaluation_gate(self) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.name!r} ({self.units} units)"


class L0UnitGates(L0Penalised, _UnitGate):
    """A hard-concrete gate per unit, drawn once per mini-batch (Louizos et al. 2018).

    Training: y = x z, z = min(1, max(0, s (zeta - gamma) + gamma)),
    s = sigmoid((log u - log(1 - u) + log_alpha) / beta), u ~ U(0, 1) per
    unit; evaluation: the deterministic gate min(1, max(0, sigmoid(log_alpha)
    (zeta - gamma) + gamma)). Penalty: sum sigmoid(log_alpha - beta log(-gamma / zeta)).
    Backward: dL/dx = G z, dL/dlog_alpha_u = sum(G x over unit u) dz_u/dlog_alpha_u.
    Frozen draws: u, shape (units,).

    Parameters
    ----------
    units : int
        Number of units.
    rng : numpy.random.Generator
        Draws the initial log_alpha and the gates.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of log_alpha and of the input.
    beta, gamma, zeta : float, default=(2/3, -0.1, 1.1)
        Temperature (> 0) and stretch (gamma < 0 < 1 < zeta).
    init_drop : float, default=0.5
        log_alpha starts at N(log((1 - p) / p), 0.01^2), p in (0, 1).
    name : str or None, default=None
        The module's name.

    Attributes
    ----------
    log_alpha : Parameter
        The gates' locations, (units,).
    """

    kind = "l0gate"

    def __init__(
        self,
        units: int,
        rng: np.random.Generator,
        dtype=np.float32,
        beta: float = l0.BETA,
        gamma: float = l0.GAMMA,
        zeta: float = l0.ZETA,
        init_drop: float = 0.5,
        name=None,
    ):
        super().__init__(units, rng, dtype, name)
        self.beta, self.gamma, self.zeta = l0.check_stretch(beta, gamma, zeta, type(self).__name__)
        p = l0.check_init_drop(init_drop, type(self).__name__)
        start = self.rng.normal(np.log(1 - p) - np.log(p), 0.01, self.units).astype(self.dtype)
        self.log_alpha = Parameter(start, "log_alpha")

    def parameters(self) -> list[Parameter]:
        return [self.log_alpha]

    def _training_gate(self, x):
        a = self.log_alpha.value
        if self.frozen is None:
            z, self._dz = l0.hard_concrete_sample(a, self.rng, self.beta, self.gamma, self.zeta)
        else:
            z, self._dz = l0.hard_concrete_gate(a, self.frozen, self.beta, self.gamma, self.zeta)
        return _per_unit(z, x.ndim)

    def _evaluation_pass(self, x):
        self._dz = l0.hard_concrete_mean_grad(self.log_alpha.value, self.beta, self.gamma, self.zeta)
        return _per_unit(self.evaluation_gate(), x.ndim)

    def _parameter_gradients(self, grad_out) -> None:
        np.multiply(_sum_per_unit(grad_out * self._x), self._dz, out=self.log_alpha.grad)


class VariationalUnits(VDPenalised, _UnitGate):
    """Sparse variational dropout on one multiplicative weight per unit.

    Each unit's output is multiplied by w_u ~ N(theta_u, alpha_u theta_u^2),
    drawn per example (for a convolution, per example and channel):
    y = x (theta + e^(log alpha / 2) |theta| eps), log alpha =
    clip(log sigma^2 - log theta^2, -8, 8) (Molchanov et al. 2017, with theta
    and log sigma^2 learnt per unit). Evaluation: y = x theta, 0 for the units
    whose log alpha exceeds ``threshold``. Penalty: the approximate KL
    divergence from the log-uniform prior, summed over the units.

    Backward, with m the multiplier, c = sum over each example's positions of G x,
    sd = e^(log alpha / 2) |theta|: dL/dx = G m; dL/dtheta = sum_n c (1 + eps
    dsd/dtheta), dL/dlog sigma^2 = sum_n c eps dsd/dlog sigma^2, where inside
    the clip sd = sigma (dsd/dtheta = 0, dsd/dlog sigma^2 = sd / 2) and outside
    it sd = e^(+-4) |theta|. Frozen draws: eps, shape (batch, units).

    Parameters
    ----------
    units : int
        Number of units.
    rng : numpy.random.Generator
        Draws the noise.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the parameters and of the input.
    threshold : float, default=3.0
        log alpha above which a unit is removed at evaluation, in [-8, 8].
    init_log_sigma2 : float, default=-6.0
        The starting log sigma^2; theta starts at 1, so log alpha starts
        there too, inside the clip (at the weights' -10, below -8, its
        gradient would be 0 and the variance could never grow).
    name : str or None, default=None
        The module's name.

    Attributes
    ----------
    theta, log_sigma2 : Parameter
        The multipliers' means and log variances, (units,).
    """

    kind = "vdgate"

    def __init__(
        self,
        units: int,
        rng: np.random.Generator,
        dtype=np.float32,
        threshold: float = variational.THRESHOLD,
        init_log_sigma2: float = -6.0,
        name=None,
    ):
        super().__init__(units, rng, dtype, name)
        self.threshold = variational.check_threshold(threshold, type(self).__name__)
        self.theta = Parameter(np.ones(self.units, self.dtype), "theta")
        self.log_sigma2 = Parameter(np.full(self.units, init_log_sigma2, self.dtype), "log_sigma2")

    def parameters(self) -> list[Parameter]:
        return [self.theta, self.log_sigma2]

    def _training_gate(self, x):
        theta = self.theta.value
        log_alpha, _, inside = variational.vd_log_alpha(theta, self.log_sigma2.value)
        sd = np.exp(log_alpha / 2) * np.abs(theta)
        eps = self.rng.standard_normal((len(x), self.units), dtype=self.dtype) if self.frozen is None else self.frozen
        d_theta = np.where(inside == 0, np.exp(log_alpha / 2) * np.sign(theta), 0)
        self._learn = (eps, d_theta, np.where(inside == 0, 0, sd / 2))
        return (theta + sd * eps).reshape(eps.shape + (1,) * (x.ndim - 2))

    def _parameter_gradients(self, grad_out) -> None:
        if self._learn is None:  # evaluation: y = x theta keep, flat in log sigma^2 (but at the threshold)
            keep = variational.vd_keep(self.theta.value, self.log_sigma2.value, self.threshold)
            np.multiply(_sum_per_unit(grad_out * self._x), keep, out=self.theta.grad)
            self.log_sigma2.grad.fill(0)
            return
        eps, d_theta, d_sigma = self._learn
        c = (grad_out * self._x).reshape(len(eps), self.units, -1).sum(axis=2)  # (batch, units)
        ce = (c * eps).sum(axis=0)
        np.add(c.sum(axis=0), ce * d_theta, out=self.theta.grad)
        np.multiply(ce, d_sigma, out=self.log_sigma2.grad)

    def evaluation_gate(self) -> np.ndarray:
        """theta, 0 where log alpha > threshold; (units,)."""
        keep = variational.vd_keep(self.theta.value, self.log_sigma2.value, self.threshold)
        return self.theta.value * keep


class Switches(_UnitGate):
    """Smallify's switch layer (Leclerc et al. 2018): y = x beta, one learnt switch per unit.

    The penalty is sum |beta| (its strength is the run's ``smallify_strength``).
    At every training pass, before the switches are used, the sign-variance
    rule (:func:`tdnumpy.masks.smallify.sign_variance_step`) updates the moving
    averages of sign(beta) and of its variance; a unit whose variance exceeds
    ``threshold`` is removed for good: its switch is masked to 0 like a pruned
    weight (kept at 0 by the optimisers and saved with the checkpoint).
    Backward: dL/dx = G beta, dL/dbeta_u = sum(G x over unit u).

    Parameters
    ----------
    units : int
        Number of units.
    rng : numpy.random.Generator
        The module's generator (the switches draw nothing; every gate module takes one).
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the switches and of the input.
    momentum : float, default=0.9
        mu of the moving averages, in [0, 1).
    threshold : float, default=0.5
        The sign variance above which a unit is removed, in (0, 4).
    name : str or None, default=None
        The module's name.

    Attributes
    ----------
    switch : Parameter
        beta, (units,); starts at 1.
    mean, variance : ndarray of float64
        The moving averages (the mean starts at sign(beta) = 1, as in the
        authors' code, the variance at 0).
    """

    kind = "switch"
    method = "smallify"
    resume_attributes = ("mean", "variance")  # saved with an interrupted run (tdnumpy.training.state)

    def __init__(
        self,
        units: int,
        rng: np.random.Generator,
        dtype=np.float32,
        momentum: float = 0.9,
        threshold: float = 0.5,
        name=None,
    ):
        super().__init__(units, rng, dtype, name)
        self.momentum, self.threshold = smallify.check_rule(momentum, threshold, type(self).__name__)
        self.switch = Parameter(np.ones(self.units, self.dtype), "switch")
        self.mean = np.ones(self.units)
        self.variance = np.zeros(self.units)

    def parameters(self) -> list[Parameter]:
        return [self.switch]

    def _training_gate(self, x):
        self.mean, self.variance, remove = smallify.sign_variance_step(
            self.switch.value, self.mean, self.variance, self.momentum, self.threshold
        )
        kept = self.switch.mask if self.switch.mask is not None else np.ones(self.units, bool)
        if (remove & kept).any():
            self.switch.set_mask(kept & ~remove)
        return _per_unit(self.switch.value, x.ndim)

    def _parameter_gradients(self, grad_out) -> None:
        np.copyto(self.switch.grad, _sum_per_unit(grad_out * self._x))

    def penalty_value(self) -> float:
        """sum |beta|.

        Returns
        -------
        float
            The L1 norm of the switches.
        """
        return smallify.switch_penalty(self.switch.value, 1.0)[0]

    def add_penalty_gradient(self, scale: float) -> None:
        """switch.grad += scale * sign(beta).

        Parameters
        ----------
        scale : float
            The penalty's strength.
        """
        self.switch.grad += smallify.switch_penalty(self.switch.value, scale)[1]

    def importance(self) -> np.ndarray:
        """|beta| per unit (0 for a removed unit).

        Returns
        -------
        ndarray of float64, (units,)
            Larger is more important.
        """
        return np.abs(self.switch.value.astype(np.float64))

    def evaluation_gate(self) -> np.ndarray:
        """beta, (units,)."""
        return self.switch.value
