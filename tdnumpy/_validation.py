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

import numpy as np


def _range_text(low, high, closed: str) -> str:
    left = "[" if closed in ("both", "left") and low is not None else "("
    right = "]" if closed in ("both", "right") and high is not None else ")"
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    return f"{left}{lo}, {hi}{right}"


def _in_range(value, low, high, closed: str) -> bool:
    if low is not None:
        if value < low or (value == low and closed not in ("both", "left")):
            return False
    if high is not None:
        if value > high or (value == high and closed not in ("both", "right")):
            return False
    return True


def check_int(value, name: str, owner: str, *, low=None, high=None, closed="both") -> int:
    """Return ``value`` as an ``int`` if it is an integer inside the range.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"`` and
    says which ends of ``[low, high]`` belong to the range.
    """
    text = _range_text(low, high, closed)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be an int in the range {text}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    if not _in_range(value, low, high, closed):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int in the range {text}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_real(value, name: str, owner: str, *, low=None, high=None, closed="both") -> float:
    """Return ``value`` as a finite ``float`` if it lies inside the range (NaN and
    infinities are always rejected, even where the range is unbounded)."""
    text = _range_text(low, high, closed)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a float in the range {text}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    value = float(value)
    if not math.isfinite(value) or not _in_range(value, low, high, closed):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a float in the range {text}. "
            f"Got {value!r} instead."
        )
    return value


def check_choice(value, name: str, owner: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"The {name!r} parameter of {owner} must be one of {options}. Got {value!r} instead."
        )
    return value


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(dtype, name: str, owner: str) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise TypeError(
            f"The {name!r} parameter of {owner} must be float32 or float64. Got {dtype!r} instead."
        )
    return dt


def check_generator(rng, name: str, owner: str) -> np.random.Generator:
    """Insist on an explicit ``numpy.random.Generator`` (there is no global RNG)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a numpy.random.Generator "
            f"(for example numpy.random.default_rng(0)). Got {type(rng).__name__} instead."
        )
    return rng


def check_labels(labels, n_classes: int, name: str, owner: str, *, n_examples: int | None = None):
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
            f"but there are {n_examples} examples."
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
