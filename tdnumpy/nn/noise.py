"""Weight-noise rules: what a Dense or Conv2D layer applies to its weight in training.

A layer carries at most one rule (``layer.noise``). The contract between a
layer and its rule, the :class:`~tdnumpy.nn.weighted.Keep` a rule returns for
each training step (and for evaluation) and what the layer does with it in
forward and backward, is in :mod:`tdnumpy.nn.weighted`.

The rules only decide *which* mask; the masks themselves come from
:mod:`tdnumpy.masks`. Each rule draws from the generator of the layer it is
attached to, so one model seed fixes every mask. Attach a separate rule
instance to each layer: a rule holds per-layer state (its step count and, for
fixed-pattern targeting, the stored targets).
"""

from __future__ import annotations

import numpy as np

from .. import masks
from .._docs import shared_docstring
from .._validation import check_choice, check_int, check_real
from ..masks.ramps import as_schedule
from ..masks.tracking import WeightTargetTracker
from .weighted import Keep, WeightNoise
from .weighted import NO_KEEP, WeightedLayer, apply_units, attach, choose_layers  # noqa: F401 (importable here)

# The drop rate alpha, the same in every targeted rule that lists it on its own.
_ALPHA = """
    alpha : float in [0, 1] or callable
        Drop rate of the targets, or a schedule of the training step.
    """


@shared_docstring(alpha=_ALPHA)
class TargetedWeightDropout(WeightNoise):
    """Targeted weight dropout (Gomez et al. 2019).

    Per column, the floor(gamma N_row) weights of smallest magnitude are each
    dropped with probability alpha, as :func:`tdnumpy.masks.targeted_weight_keep`
    (targets kept up to date by a :class:`~tdnumpy.masks.tracking.WeightTargetTracker`).

    Parameters
    ----------
    gamma : float in [0, 1] or callable
        Targeting proportion, or a schedule of the training step
        (:mod:`tdnumpy.masks.ramps`: ``LinearRamp``, ``TwoPhaseRamp``).
    {{alpha}}
    """

    splittable = True  # masks only: a split step draws them once per batch

    def __init__(self, gamma, alpha):
        super().__init__()
        self.gamma, self.alpha = as_schedule(gamma, "gamma"), as_schedule(alpha, "alpha")
        self.tracker = WeightTargetTracker()

    def _sample(self, layer, batch, step):
        # masks.targeted_weight_keep, step after step: the same targets and the same draws
        targets = self.tracker.rows(layer.weight.value, self.gamma(step))  # checks gamma
        return Keep(weight=masks.drop_targets(targets, self.alpha(step), layer.rng).T)  # checks alpha


class TargetedUnitDropout(WeightNoise):
    """Targeted unit dropout (Gomez et al. 2019).

    The floor(gamma N_col) units whose weight columns have the smallest L2
    norm are each dropped with probability alpha, weight column and bias.

    Parameters
    ----------
    gamma, alpha : float in [0, 1] or callable
        Targeting proportion and drop rate, as in :class:`TargetedWeightDropout`.
    per_example : bool, default=False
        One (batch, units) mask per example instead of one (units,) per mini-batch.
    """

    splittable = True  # masks only: a split step draws them once per batch

    def __init__(self, gamma, alpha, per_example: bool = False):
        super().__init__()
        self.gamma, self.alpha = as_schedule(gamma, "gamma"), as_schedule(alpha, "alpha")
        self.per_example = bool(per_example)

    def _sample(self, layer, batch, step):
        return Keep(
            units=masks.targeted_unit_keep(
                layer.weight.value,
                self.gamma(step),
                self.alpha(step),
                layer.rng,
                batch=batch if self.per_example else None,
            )
        )


@shared_docstring(alpha=_ALPHA)
class RandomTargetedWeightDropout(WeightNoise):
    """The authors' ``targeted_weight_random`` baseline.

    Targets fixed once, at the first training step, by a stored uniform draw
    below gamma; each target is then dropped with probability alpha at every step.

    Parameters
    ----------
    gamma : float in [0, 1]
        Probability that a weight is a target (a number, not a schedule).
    {{alpha}}

    Attributes
    ----------
    targets : ndarray of bool of shape (fan_in, units) or None
        The stored targets; None before the first training step.
    """

    splittable = True  # masks only: a split step draws them once per batch

    resume_attributes: tuple[str, ...] = ("step", "targets")

    def __init__(self, gamma: float, alpha):
        super().__init__()
        self.gamma = check_real(gamma, "gamma", type(self).__name__, low=0.0, high=1.0)
        self.alpha = as_schedule(alpha, "alpha")
        self.targets = None

    def _sample(self, layer, batch, step):
        if self.targets is None:
            self.targets = masks.random_weight_targets(layer.weight.shape, self.gamma, layer.rng)
        w = layer.weight.value
        return Keep(weight=masks.targeted_weight_keep(w, self.gamma, self.alpha(step), layer.rng, targets=self.targets))


@shared_docstring(alpha=_ALPHA)
class RandomTargetedUnitDropout(WeightNoise):
    """The authors' ``targeted_unit_random`` baseline.

    Unit targets fixed once, at the first training step, by a stored uniform
    draw below gamma; each is dropped with probability alpha at every step.

    Parameters
    ----------
    gamma : float in [0, 1]
        Probability that a unit is a target (a number, not a schedule).
    {{alpha}}
    per_example : bool, default=False
        One (batch, units) mask per example instead of one (units,) per mini-batch.

    Attributes
    ----------
    targets : ndarray of bool of shape (units,) or None
        The stored targets; None before the first training step.
    """

    splittable = True  # masks only: a split step draws them once per batch

    resume_attributes: tuple[str, ...] = ("step", "targets")

    def __init__(self, gamma: float, alpha, per_example: bool = False):
        super().__init__()
        self.gamma = check_real(gamma, "gamma", type(self).__name__, low=0.0, high=1.0)
        self.alpha = as_schedule(alpha, "alpha")
        self.per_example = bool(per_example)
        self.targets = None

    def _sample(self, layer, batch, step):
        if self.targets is None:
            self.targets = masks.random_unit_targets(layer.weight.shape[1], self.gamma, layer.rng)
        return Keep(
            units=masks.targeted_unit_keep(
                layer.weight.value,
                self.gamma,
                self.alpha(step),
                layer.rng,
                batch=batch if self.per_example else None,
                targets=self.targets,
            )
        )


class DropConnect(WeightNoise):
    """DropConnect (Wan et al. 2013).

    In training each weight and bias is kept with probability 1 - p, without
    scaling; one mask per mini-batch, or per example with ``per_example``.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability of each weight and bias.
    per_example : bool, default=False
        One mask per example: a (batch, fan_in, units) weight mask. Dense
        layers only; a Conv2D raises ValueError at its first training step.
    inference : {"mean", "gaussian"}, default="mean"
        Evaluation. ``"mean"``: W and b times 1 - p, the expectation of the
        pre-activation. ``"gaussian"``: Wan et al.'s moment matching, the
        average of the activation over ``samples`` draws of u ~ N(E[u], Var[u])
        (:func:`tdnumpy.masks.dropconnect_gaussian_inference`), by :meth:`infer`.
    samples : int >= 1, default=100
        Draws per evaluation call for ``"gaussian"``.
    seed : int, default=0
        Seed of the ``"gaussian"`` draws' generator, created afresh at every
        evaluation call, so evaluating twice gives the same answer and
        training draws are not disturbed.
    """

    splittable = True  # masks only: a split step draws them once per batch

    def __init__(
        self, p: float, *, per_example: bool = False, inference: str = "mean", samples: int = 100, seed: int = 0
    ):
        super().__init__()
        self.p = check_real(p, "p", "DropConnect", low=0, high=1, closed="left")
        self.mode = check_choice(inference, "inference", "DropConnect", ("mean", "gaussian"))
        self.samples = check_int(samples, "samples", "DropConnect", low=1)
        self.per_example, self.seed = bool(per_example), seed

    @property
    def integrates_activation(self) -> bool:
        """True for ``inference="gaussian"``: ``Sequential`` then evaluates through :meth:`infer`."""
        return self.mode == "gaussian"

    def _sample(self, layer, batch, step):
        w, b = layer.weight, layer.bias
        if self.per_example:
            if layer.kind != "fc":
                raise ValueError(f"{layer!r}: per-example DropConnect is implemented for Dense layers only.")
            weight = masks.dropconnect_keep((batch,) + w.shape, self.p, layer.rng)
        else:
            weight = _in_memory_order(w.value, lambda shape: masks.dropconnect_keep(shape, self.p, layer.rng))
        lead = (batch,) if self.per_example else ()
        bias = None if b is None else masks.dropconnect_keep(lead + b.shape, self.p, layer.rng)
        return Keep(weight=weight, bias=bias)

    def inference(self, layer):
        return Keep(weight_scale=1.0 - self.p, bias_scale=1.0 - self.p)

    def infer(self, layer, x, activation):
        """Evaluation output of ``layer`` followed by ``activation``, by moment matching.

        Parameters
        ----------
        layer : Dense or Conv2D
            The layer the rule is attached to.
        x : ndarray
            The layer's input, as for its ``forward``.
        activation : Module or None
            The element-wise activation after the layer (ReLU, Tanh, Sigmoid),
            whose ``f`` is averaged over the draws; None for a linear output
            (the mean, E[u], without sampling).

        Returns
        -------
        ndarray
            The estimated activation, of the layer's output shape and dtype.
        """
        rows, finish = layer.linear_rows(x)
        b = None if layer.bias is None else layer.bias.value
        mean, var = masks.dropconnect_moments(rows, layer.weight.value, b, self.p)
        out = masks.dropconnect_gaussian_inference(
            mean, var, None if activation is None else activation.f, np.random.default_rng(self.seed), self.samples
        )
        return finish(out)


class UnitDropout(WeightNoise):
    """The paper's untargeted unit dropout (the released code's ``untargeted_unit``).

    Whole columns of W dropped with probability p, W * keep / (1 - p), the
    bias untouched.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability of each unit (column of W).
    """

    splittable = True  # masks only: a split step draws them once per batch

    def __init__(self, p: float):
        super().__init__()
        self.p = check_real(p, "p", "UnitDropout", low=0, high=1, closed="left")

    def _sample(self, layer, batch, step):
        keep = masks.unit_dropout_keep(layer.weight.shape[1], self.p, layer.rng)
        return Keep(weight=np.broadcast_to(keep, layer.weight.shape), weight_scale=1.0 / (1.0 - self.p))


class WeightDropout(WeightNoise):
    """The paper's untargeted weight dropout (the released code's ``untargeted_weight``).

    Each weight dropped with probability p, W * keep / (1 - p), the bias untouched.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability of each weight.
    """

    splittable = True  # masks only: a split step draws them once per batch

    def __init__(self, p: float):
        super().__init__()
        self.p = check_real(p, "p", "WeightDropout", low=0, high=1, closed="left")

    def _sample(self, layer, batch, step):
        keep = _in_memory_order(layer.weight.value, lambda shape: masks.weight_dropout_keep(shape, self.p, layer.rng))
        return Keep(weight=keep, weight_scale=1.0 / (1.0 - self.p))


def _in_memory_order(w: np.ndarray, draw) -> np.ndarray:
    """A mask shaped like ``w`` drawn in w's memory order (column by column for a
    column-major dense weight), so that W * mask runs without a transposing pass."""
    if w.flags.f_contiguous and not w.flags.c_contiguous:
        return draw(w.shape[::-1]).T
    return draw(w.shape)


class FixedKeep(WeightNoise):
    """Always the given masks, for gradient checks and tests.

    The noise stays frozen between forward passes.

    Parameters
    ----------
    weight, units, bias : ndarray of bool or None, default=None
        Keep-masks, as in :class:`~tdnumpy.nn.weighted.Keep`.
    weight_scale, bias_scale : float, default=1.0
        Factors, as in :class:`~tdnumpy.nn.weighted.Keep`.
    """

    splittable = True  # masks only: a split step draws them once per batch

    def __init__(self, weight=None, units=None, bias=None, weight_scale=1.0, bias_scale=1.0):
        super().__init__()
        self.keep = Keep(weight, units, bias, weight_scale, bias_scale)

    def _sample(self, layer, batch, step):
        return self.keep
