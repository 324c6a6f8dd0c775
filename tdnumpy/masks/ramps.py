"""Schedules of the targeting proportion gamma and the drop rate alpha: functions
of the training step t = 0, 1, 2, ... with values in [0, 1].

A rule of :mod:`tdnumpy.nn.noise` asks its schedule for gamma and alpha at
every step. The authors' released code ramps gamma up over training
(:class:`TwoPhaseRamp`); :class:`LinearRamp` is the plain linear ramp and
:class:`Fixed` a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import check_int, check_real


@dataclass(frozen=True)
class Fixed:
    """value(t) = value, for a gamma or alpha that does not change.

    Parameters
    ----------
    value : float
        The value, in [0, 1].
    """

    value: float

    def __post_init__(self):
        check_real(self.value, "value", "Fixed", low=0.0, high=1.0)

    def __call__(self, t: int) -> float:
        return self.value


@dataclass(frozen=True)
class _Ramp:
    """The fields the ramps share, and their checks: a ramp to ``final`` in [0, 1] over ``steps`` >= 1 steps."""

    final: float
    steps: int

    def __post_init__(self):
        check_real(self.final, "final", type(self).__name__, low=0.0, high=1.0)
        check_int(self.steps, "steps", type(self).__name__, low=1)


@dataclass(frozen=True)
class LinearRamp(_Ramp):
    """value(t) = final * min(1, t / steps): from 0 to ``final`` over ``steps`` steps.

    Parameters
    ----------
    final : float
        The value from step ``steps`` on, in [0, 1].
    steps : int
        The length of the ramp, >= 1.
    """

    def __call__(self, t: int) -> float:
        return self.final * min(1.0, t / self.steps)


@dataclass(frozen=True)
class TwoPhaseRamp(_Ramp):
    """The ramp of the targeted-dropout authors' released code.

    With S = ``steps`` (20000 in the released code),

        value(t) = 0.95 final min(1, t / S) + 0.05 final max(0, min(1, (t - S) / S)),

    capped at ``final``: 95% of ``final`` reached linearly over the first S
    steps, the last 5% over the next S.

    Parameters
    ----------
    final : float
        The value from step 2S on, in [0, 1].
    steps : int
        S, >= 1.
    """

    def __call__(self, t: int) -> float:
        s = self.steps
        first, second = min(1.0, t / s), max(0.0, min(1.0, (t - s) / s))
        return min(self.final, 0.95 * self.final * first + 0.05 * self.final * second)


def as_schedule(value, name: str):
    """A schedule from a number (a :class:`Fixed` value) or a callable step -> value.

    Parameters
    ----------
    value : float or callable
        A Python int or float in [0, 1] (bools refused), or a schedule: any
        callable of the step t, returned as it is.
    name : str
        The parameter's name (``"gamma"``, ``"alpha"``), for the message.

    Returns
    -------
    schedule : callable
        ``value`` if callable, else ``Fixed(float(value))``.
    """
    if callable(value):
        return value
    if isinstance(value, (bool,)) or not isinstance(value, (int, float)):
        raise TypeError(
            f"The {name!r} parameter must be a float in [0, 1] or a schedule (a callable of the "
            f"step). Got {value!r} instead."
        )
    check_real(value, name, "as_schedule", low=0.0, high=1.0)
    return Fixed(float(value))
