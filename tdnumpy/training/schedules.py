"""Schedules: functions of the training step t = 0, 1, 2, ...

A schedule is a small callable object, ``schedule(t) -> value``; the training
loop asks it for the learning rate before every update, and gradual pruning
for the sparsity of each pruning step. The schedules of gamma and alpha
(``Fixed``, ``LinearRamp``, ``TwoPhaseRamp``) live with the specification in
:mod:`tdnumpy.masks.ramps`, and are importable from here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._validation import check_int, check_real
from ..masks.ramps import Fixed, LinearRamp, TwoPhaseRamp, as_schedule  # noqa: F401  (every schedule in one place)


@dataclass(frozen=True)
class _LearningRate:
    """The field the learning-rate schedules start with, and its check: lr > 0."""

    lr: float

    def __post_init__(self):
        check_real(self.lr, "lr", type(self).__name__, low=0.0, closed="neither")


@dataclass(frozen=True)
class Constant(_LearningRate):
    """lr(t) = lr.

    Parameters
    ----------
    lr : float
        The learning rate, > 0.
    """

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay(_LearningRate):
    """lr(t) = lr * factor ** floor(t / step_size).

    Parameters
    ----------
    lr : float
        The initial learning rate, > 0.
    step_size : int
        Steps between decays, >= 1.
    factor : float, default 0.1
        The decay factor, in (0, 1].
    """

    step_size: int
    factor: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        check_int(self.step_size, "step_size", "StepDecay", low=1)
        check_real(self.factor, "factor", "StepDecay", low=0.0, high=1.0, closed="right")

    def __call__(self, t: int) -> float:
        return self.lr * self.factor ** (t // self.step_size)


@dataclass(frozen=True)
class Cosine(_LearningRate):
    """Cosine annealing of the learning rate (Loshchilov and Hutter 2017, without restarts).

        lr(t) = min_lr + (lr - min_lr) (1 + cos(pi min(t, T) / T)) / 2,   T = total_steps.

    Parameters
    ----------
    lr : float
        The initial learning rate, > 0.
    total_steps : int
        T >= 1; from t = T on the rate stays ``min_lr``.
    min_lr : float, default 0.0
        The final learning rate, in [0, lr].
    """

    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        check_int(self.total_steps, "total_steps", "Cosine", low=1)
        check_real(self.min_lr, "min_lr", "Cosine", low=0.0, high=self.lr)

    def __call__(self, t: int) -> float:
        progress = min(t, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


# Schedules of the sparsity of gradual pruning (tdnumpy.pruning.masking.GradualPruning).


@dataclass(frozen=True)
class PolynomialSparsity:
    """The sparsity schedule of gradual pruning, polynomial in t.

    Zhu and Gupta, "To prune, or not to prune" (2017), equation 1: pruning at
    the steps t = t0, t0 + dt, ..., t0 + n dt to the sparsity

        s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3,

    from ``initial`` s_i at ``start`` t0 to ``final`` s_f after ``steps`` n
    intervals of ``interval`` dt steps: fast at first, while many weights are
    redundant, slower as fewer are left. value(t) is the sparsity of the
    latest pruning step at or before t (0 before t0, s_f after t0 + n dt);
    :meth:`is_pruning_step` says whether t is one of them.

    Parameters
    ----------
    final : float
        s_f, in [0, 1].
    start : int
        t0 >= 0, the first pruning step.
    steps : int
        n >= 1, the number of intervals (n + 1 pruning steps).
    interval : int
        dt >= 1, the steps between two pruning steps.
    initial : float, default 0.0
        s_i, in [0, final].
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
        """Whether t is one of the pruning steps t0, t0 + dt, ..., t0 + n dt.

        Parameters
        ----------
        t : int
            The training step.

        Returns
        -------
        bool
            True at a pruning step.
        """
        return self.start <= t <= self.start + self.steps * self.interval and (t - self.start) % self.interval == 0

    def __call__(self, t: int) -> float:
        if t < self.start:
            return 0.0
        done = min(self.steps, (t - self.start) // self.interval)  # pruning steps taken after t0
        return self.final + (self.initial - self.final) * (1.0 - done / self.steps) ** 3
