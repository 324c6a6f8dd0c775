"""Learning-rate schedules: functions of the training step t = 0, 1, 2, ...

A schedule is a small callable object, ``schedule(t) -> value``; the training
loop asks it for the learning rate before every update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._validation import check_int, check_real


@dataclass(frozen=True)
class Constant:
    """lr(t) = lr."""

    lr: float

    def __post_init__(self):
        check_real(self.lr, "lr", "Constant", low=0.0, closed="neither")

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay:
    """lr(t) = lr * factor ** floor(t / step_size)."""

    lr: float
    step_size: int
    factor: float = 0.1

    def __post_init__(self):
        check_real(self.lr, "lr", "StepDecay", low=0.0, closed="neither")
        check_int(self.step_size, "step_size", "StepDecay", low=1)
        check_real(self.factor, "factor", "StepDecay", low=0.0, high=1.0, closed="right")

    def __call__(self, t: int) -> float:
        return self.lr * self.factor ** (t // self.step_size)


@dataclass(frozen=True)
class Cosine:
    """lr(t) = min_lr + (lr - min_lr) (1 + cos(pi min(t, T) / T)) / 2 over T = total_steps
    (Loshchilov and Hutter 2017, without restarts)."""

    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self):
        check_real(self.lr, "lr", "Cosine", low=0.0, closed="neither")
        check_int(self.total_steps, "total_steps", "Cosine", low=1)
        check_real(self.min_lr, "min_lr", "Cosine", low=0.0, high=self.lr)

    def __call__(self, t: int) -> float:
        progress = min(t, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


# Schedules of the targeting proportion gamma and the drop rate alpha (values in [0, 1]).


@dataclass(frozen=True)
class Fixed:
    """value(t) = value, for a gamma or alpha that does not change."""

    value: float

    def __post_init__(self):
        check_real(self.value, "value", "Fixed", low=0.0, high=1.0)

    def __call__(self, t: int) -> float:
        return self.value


@dataclass(frozen=True)
class LinearRamp:
    """value(t) = final * min(1, t / steps): from 0 to ``final`` over ``steps`` steps."""

    final: float
    steps: int

    def __post_init__(self):
        check_real(self.final, "final", "LinearRamp", low=0.0, high=1.0)
        check_int(self.steps, "steps", "LinearRamp", low=1)

    def __call__(self, t: int) -> float:
        return self.final * min(1.0, t / self.steps)


@dataclass(frozen=True)
class TwoPhaseRamp:
    """The ramp of the targeted-dropout authors' released code, with S = ``steps``:

        value(t) = 0.95 final min(1, t / S) + 0.05 final max(0, min(1, (t - S) / S)),

    95% of ``final`` reached linearly over the first S steps, the last 5% over
    the next S."""

    final: float
    steps: int

    def __post_init__(self):
        check_real(self.final, "final", "TwoPhaseRamp", low=0.0, high=1.0)
        check_int(self.steps, "steps", "TwoPhaseRamp", low=1)

    def __call__(self, t: int) -> float:
        s = self.steps
        return min(self.final, 0.95 * self.final * min(1.0, t / s) + 0.05 * self.final * max(0.0, min(1.0, (t - s) / s)))


# Schedules of the sparsity of gradual pruning (tdnumpy.prune.GradualPruning).


@dataclass(frozen=True)
class PolynomialSparsity:
    """Zhu and Gupta, "To prune, or not to prune" (2017), equation 1: pruning at
    the steps t = t0, t0 + dt, ..., t0 + n dt to the sparsity

        s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3,

    from ``initial`` s_i at ``start`` t0 to ``final`` s_f after ``steps`` n
    intervals of ``interval`` dt steps: fast at first, while many weights are
    redundant, slower as fewer are left. value(t) is the sparsity of the
    latest pruning step at or before t (0 before t0, s_f after t0 + n dt);
    :meth:`is_pruning_step` says whether t is one of them.
    """

    final: float
    start: int
    steps: int
    interval: int
    initial: float = 0.0

    def __post_init__(self):
        check_real(self.final, "final", "PolynomialSparsity", low=0.0, high=1.0)
        check_real(self.initial, "initial", "PolynomialSparsity", low=0.0, high=self.final)
        check_int(self.start, "start", "PolynomialSparsity", low=0)
        check_int(self.steps, "steps", "PolynomialSparsity", low=1)
        check_int(self.interval, "interval", "PolynomialSparsity", low=1)

    def is_pruning_step(self, t: int) -> bool:
        return self.start <= t <= self.start + self.steps * self.interval and (t - self.start) % self.interval == 0

    def __call__(self, t: int) -> float:
        if t < self.start:
            return 0.0
        done = min(self.steps, (t - self.start) // self.interval)  # pruning steps taken after t0
        return self.final + (self.initial - self.final) * (1.0 - done / self.steps) ** 3


def as_schedule(value, name: str):
    """A schedule from a number (a :class:`Fixed` value) or a callable step -> value."""
    if callable(value):
        return value
    if isinstance(value, (bool,)) or not isinstance(value, (int, float)):
        raise TypeError(f"The {name!r} parameter must be a float in [0, 1] or a schedule (a callable of the "
                        f"step). Got {value!r} instead.")
    check_real(value, name, "as_schedule", low=0.0, high=1.0)
    return Fixed(float(value))
