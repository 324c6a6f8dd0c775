"""Argument checks shared by the whole package.

Every public function validates its arguments at the boundary and raises an
error in the style of scikit-learn:

    The 'batch_size' parameter of fit must be an int in the range [1, inf).
    Got 0 instead.

so that a mistake is reported where it was made, never as a traceback from
deep inside NumPy.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class ParameterError(ValueError):
    """A bad value, or a bad combination of values, of named parameters.

    The message is written with each parameter name in backquotes, as in
    ``"`gradual_start` 10 must be below `epochs` 10."``. ``str(error)`` shows
    them as a Python caller names them ('gradual_start'); the command line
    shows :meth:`spelled` with its flags (--gradual-start), so one check
    serves both.

    Parameters
    ----------
    template : str
        The message, parameter names in backquotes.
    """

    def __init__(self, template: str):
        self.template = template
        super().__init__(self.spelled(repr))

    def spelled(self, name_of) -> str:
        """The message with every backquoted name replaced by ``name_of(name)``.

        Parameters
        ----------
        name_of : callable
            Maps a parameter name (str) to the text shown for it.

        Returns
        -------
        str
            The message.
        """
        return re.sub(r"`(\w+)`", lambda m: name_of(m.group(1)), self.template)


@dataclass(frozen=True)
class Interval:
    """A range of ints or floats: the one range check of the package.

    Parameters
    ----------
    type : {int, float}
        What the values are. Floats must also be finite (NaN and infinities
        are refused even where the range is unbounded).
    low, high : float or None
        The ends; None for no end.
    closed : {"both", "left", "right", "neither"}
        Which ends belong to the range.
    """

    type: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else repr(self.low)
        high = "inf" if self.high is None else repr(self.high)
        return f"{left}{low}, {high}{right}"

    def __contains__(self, value) -> bool:
        if self.type is float and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.closed not in ("both", "left"))):
            return False
        high_open = self.closed not in ("both", "right")
        if self.high is not None and (value > self.high or (value == self.high and high_open)):
            return False
        return True

    def describe(self) -> str:
        """``"an int in the range [1, inf)"`` or ``"a float in the range [0, 1]"``."""
        return f"{'an int' if self.type is int else 'a float'} in the range {self}"

    def check(self, value, name: str, owner: str):
        """Return ``value`` as an ``int`` or ``float`` if it is one inside the range.

        Parameters
        ----------
        value : object
            What the caller passed.
        name, owner : str
            The parameter and the function or class it belongs to, for the
            message.

        Returns
        -------
        int or float
            ``value`` converted to the interval's type.

        Raises
        ------
        TypeError
            If ``value`` is not a number of the right kind (bools never are).
        ValueError
            If it lies outside the range, or is not finite.
        """
        kind = numbers.Integral if self.type is int else numbers.Real
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
            raise TypeError(
                f"The {name!r} parameter of {owner} must be {self.describe()}. "
                f"Got {value!r} of type {type(value).__name__} instead."
            )
        value = self.type(value)
        if value not in self:
            raise ValueError(f"The {name!r} parameter of {owner} must be {self.describe()}. Got {value!r} instead.")
        return value


def check_int(value, name: str, owner: str, *, low=None, high=None, closed="both") -> int:
    """Return ``value`` as an ``int`` if it is an integer inside the range.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"`` and
    says which ends of ``[low, high]`` belong to the range.
    """
    return Interval(int, low, high, closed).check(value, name, owner)


def check_real(value, name: str, owner: str, *, low=None, high=None, closed="both") -> float:
    """Return ``value`` as a finite ``float`` if it lies inside the range (NaN and
    infinities are always rejected, even where the range is unbounded)."""
    return Interval(float, low, high, closed).check(value, name, owner)


def check_choice(value, name: str, owner: str, choices) -> str:
    """Return ``value`` if it is one of ``choices`` (strings: an array or
    another unhashable value is refused, never compared)."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"The {name!r} parameter of {owner} must be one of {options}. Got {value!r} instead.")
    return value


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(dtype, name: str, owner: str) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"The {name!r} parameter of {owner} must be float32 or float64. Got {dtype!r} instead.")
    return dt


def check_generator(rng, name: str, owner: str) -> np.random.Generator:
    """Insist on an explicit ``numpy.random.Generator`` (there is no global RNG)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a numpy.random.Generator "
            f"(for example numpy.random.default_rng(0)). Got {type(rng).__name__} instead."
        )
    return rng


def check_labels(labels, n_classes: int, name: str, owner: str, *, n_examples: int | None = None, examples: str = "x"):
    """Check that ``labels`` is a 1-D integer array with values in [0, n_classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a 1-D array of integer class labels. "
            f"Got an array of shape {labels.shape} and dtype {labels.dtype} instead."
        )
    if n_examples is not None and labels.shape[0] != n_examples:
        raise ValueError(
            f"The {name!r} parameter of {owner} has {labels.shape[0]} labels "
            f"but there are {n_examples} examples in {examples!r}."
        )
    if labels.size:
        lo, hi = labels.min(), labels.max()
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"The {name!r} parameter of {owner} must hold class labels in the range "
                f"[0, {n_classes - 1}]. Got a label {int(bad)} instead."
            )
    return labels


def check_bool(value, name: str, owner: str) -> bool:
    """Return ``value`` if it is a bool (NumPy's included), for flags."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The {name!r} parameter of {owner} must be True or False. Got {type(value).__name__} instead.")
    return bool(value)


def check_path(path, name: str, owner: str) -> Path:
    """Return ``path`` as a Path if it is a str or os.PathLike naming a file or
    folder: not empty (which Path reads as ".") and without NUL bytes."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a path (str or os.PathLike). Got {type(path).__name__} instead."
        )
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a non-empty path without NUL bytes. Got {text!r} instead."
        )
    return Path(text)


def check_array(x, name: str, owner: str, *, ndim: int | None = None, floats: bool = True) -> np.ndarray:
    """Return ``x`` if it is a non-empty NumPy array (of floats, with ``floats``; of ``ndim`` dimensions, if given)."""
    if not isinstance(x, np.ndarray) or (floats and x.dtype.kind != "f"):
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        kind = "a float NumPy array" if floats else "a NumPy array"
        raise TypeError(f"The {name!r} parameter of {owner} must be {kind}. Got {got} instead.")
    if x.size == 0 or (ndim is not None and x.ndim != ndim):
        want = f"{ndim}-D" if ndim is not None else "non-empty"
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a {want} array with entries. Got shape {x.shape} instead."
        )
    return x
