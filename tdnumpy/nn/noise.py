"""Weight-noise rules: what a Dense or Conv2D layer applies to its weight in training.

A layer carries at most one rule (``layer.noise``). Before each training
forward pass the layer asks its rule for a :class:`Keep`: a keep-mask on the
weight matrix (fan_in, units) and/or a keep-mask on the units, the latter of
shape (units,) for one mask per mini-batch or (batch, units) for one per
example. The layer then computes with W * keep.weight and multiplies its
outputs (bias included) by keep.units, and masks the gradients the same way
in backward. At evaluation nothing is applied.

The rules only decide *which* mask; the masks themselves come from
:mod:`tdnumpy.masks`. Each rule draws from the generator of the layer it is
attached to, so one model seed fixes every mask. Attach a separate rule
instance to each layer: a rule holds per-layer state (its step count and, for
fixed-pattern targeting, the stored targets).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import masks
from .._validation import check_real
from ..schedules import as_schedule
from ..target_tracking import WeightTargetTracker
from .module import Module


class Keep(NamedTuple):
    """Keep-masks for one training step (None: nothing masked there)."""

    weight: np.ndarray | None = None
    units: np.ndarray | None = None


class WeightNoise:
    """Base class of the rules; ``sample`` returns this step's :class:`Keep`."""

    def __init__(self):
        self.step = 0

    def sample(self, layer, batch: int) -> Keep:
        keep = self._sample(layer, batch, self.step)
        self.step += 1
        return keep

    def _sample(self, layer, batch: int, step: int) -> Keep:
        raise NotImplementedError


class TargetedWeightDropout(WeightNoise):
    """Targeted weight dropout (Gomez et al. 2019): per column, the floor(gamma N_row)
    weights of smallest magnitude are each dropped with probability alpha.

    ``gamma`` and ``alpha`` are numbers or schedules of the training step
    (see :mod:`tdnumpy.schedules`: ``LinearRamp``, ``TwoPhaseRamp``)."""

    def __init__(self, gamma, alpha):
        super().__init__()
        self.gamma, self.alpha = as_schedule(gamma, "gamma"), as_schedule(alpha, "alpha")
        self.tracker = WeightTargetTracker()

    def _sample(self, layer, batch, step):
        # masks.targeted_weight_keep, step after step: the same targets and the same draws
        targets = self.tracker.rows(layer.weight.value, self.gamma(step))
        return Keep(weight=masks.drop_targets(targets, self.alpha(step), layer.rng).T)


class TargetedUnitDropout(WeightNoise):
    """Targeted unit dropout (Gomez et al. 2019): the floor(gamma N_col) units whose
    weight columns have the smallest L2 norm are each dropped with probability
    alpha, weight column and bias. ``per_example`` draws one mask per example."""

    def __init__(self, gamma, alpha, per_example: bool = False):
        super().__init__()
        self.gamma, self.alpha = as_schedule(gamma, "gamma"), as_schedule(alpha, "alpha")
        self.per_example = bool(per_example)

    def _sample(self, layer, batch, step):
        return Keep(units=masks.targeted_unit_keep(layer.weight.value, self.gamma(step), self.alpha(step),
                                                   layer.rng, batch=batch if self.per_example else None))


class RandomTargetedWeightDropout(WeightNoise):
    """The authors' ``targeted_weight_random`` baseline: targets fixed once, at the
    first training step, by a stored uniform draw below gamma; each target is
    then dropped with probability alpha at every step."""

    def __init__(self, gamma: float, alpha):
        super().__init__()
        self.gamma = check_real(gamma, "gamma", type(self).__name__, low=0.0, high=1.0)
        self.alpha = as_schedule(alpha, "alpha")
        self.targets = None

    def _sample(self, layer, batch, step):
        if self.targets is None:
            self.targets = masks.random_weight_targets(layer.weight.shape, self.gamma, layer.rng)
        w = layer.weight.value
        return Keep(weight=masks.targeted_weight_keep(w, self.gamma, self.alpha(step), layer.rng,
                                                      targets=self.targets))


class RandomTargetedUnitDropout(WeightNoise):
    """The authors' ``targeted_unit_random`` baseline: unit targets fixed once by a
    stored uniform draw below gamma, each dropped with probability alpha."""

    def __init__(self, gamma: float, alpha, per_example: bool = False):
        super().__init__()
        self.gamma = check_real(gamma, "gamma", type(self).__name__, low=0.0, high=1.0)
        self.alpha = as_schedule(alpha, "alpha")
        self.per_example = bool(per_example)
        self.targets = None

    def _sample(self, layer, batch, step):
        if self.targets is None:
            self.targets = masks.random_unit_targets(layer.weight.shape[1], self.gamma, layer.rng)
        return Keep(units=masks.targeted_unit_keep(layer.weight.value, self.gamma, self.alpha(step), layer.rng,
                                                   batch=batch if self.per_example else None,
                                                   targets=self.targets))


class FixedKeep(WeightNoise):
    """Always the given masks: for gradient checks and tests, where the noise
    must stay frozen between forward passes."""

    def __init__(self, weight=None, units=None):
        super().__init__()
        self.keep = Keep(weight, units)

    def _sample(self, layer, batch, step):
        return self.keep


def apply_units(y: np.ndarray, units: np.ndarray | None, batch: int) -> np.ndarray:
    """y * keep.units for a (batch * positions, units) output matrix: a (units,)
    mask applies to every row, a (batch, units) mask to the rows of its example."""
    if units is None:
        return y
    if units.ndim == 1:
        return y * units
    return (y.reshape(batch, -1, y.shape[-1]) * units[:, None, :]).reshape(y.shape)


NO_KEEP = Keep()


class WeightedLayer(Module):
    """A layer with a (fan_in, units) weight that can carry one weight-noise rule."""

    _keep = NO_KEEP
    _noise = None
    _masked_weight = None

    @property
    def noise(self) -> WeightNoise | None:
        """The layer's weight-noise rule (None: none)."""
        return self._noise

    @noise.setter
    def noise(self, rule) -> None:
        if rule is not None and not isinstance(rule, WeightNoise):
            raise TypeError(f"{self!r}: noise must be a tdnumpy.nn.noise.WeightNoise or None. "
                            f"Got {type(rule).__name__} instead.")
        self._noise = rule

    def _step_weight(self, training: bool, batch: int) -> np.ndarray:
        """This step's effective weight W * keep.weight; draws the step's masks."""
        self._keep = self._noise.sample(self, batch) if training and self._noise is not None else NO_KEEP
        w = self.weight.value
        if self._keep.weight is None:
            return w
        out = self._masked_weight
        if out is None or out.shape != w.shape or out.dtype != w.dtype or out.strides != w.strides:
            out = self._masked_weight = np.empty_like(w)  # reused across steps, in w's memory order
        return np.multiply(w, self._keep.weight, out=out)

    def _mask_weight_grad(self) -> None:
        """Mask the weight gradient exactly as the forward weight was masked."""
        if self._keep.weight is not None:
            self.weight.grad *= self._keep.weight


RULES = ("none", "td-weight", "td-unit", "td-ramp", "td-random-weight", "td-random-unit")


def make_rule(name: str, gamma, alpha, *, per_example: bool = False) -> WeightNoise | None:
    """A fresh rule by its command-line name (``td-ramp`` is targeted weight
    dropout whose caller passes a gamma schedule)."""
    if name not in RULES:
        raise ValueError(f"The 'reg' parameter must be one of {', '.join(map(repr, RULES))}. Got {name!r} instead.")
    if name == "none":
        return None
    if name in ("td-weight", "td-ramp"):
        return TargetedWeightDropout(gamma, alpha)
    if name == "td-unit":
        return TargetedUnitDropout(gamma, alpha, per_example)
    if name == "td-random-weight":
        return RandomTargetedWeightDropout(gamma, alpha)
    return RandomTargetedUnitDropout(gamma, alpha, per_example)


def choose_layers(model, layers=None) -> list[str]:
    """Names of the weighted layers of ``model`` that ``layers`` (a list of names,
    default: all weighted layers) picks; an unknown name is an error."""
    names = [layer.name for layer in model.layers if isinstance(layer, WeightedLayer)]
    chosen = names if layers is None else list(layers)
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise ValueError(f"No weighted layer named {', '.join(map(repr, unknown))}; "
                         f"the weighted layers are {', '.join(map(repr, names))}.")
    return chosen


def attach(model, make, layers=None) -> list[str]:
    """Give each chosen weighted layer of ``model`` (see :func:`choose_layers`)
    its own rule ``make()``. Returns the names of the layers that got one."""
    chosen = choose_layers(model, layers)
    for layer in model.layers:
        if layer.name in chosen:
            layer.noise = make()
    return chosen
