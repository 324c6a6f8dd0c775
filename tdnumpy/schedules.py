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
