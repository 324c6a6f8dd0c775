"""Weight initialisers. Each takes an explicit ``numpy.random.Generator``.

Values are drawn in float64 and then cast, so a float64 copy of a model (for
gradient checks) starts from the same weights as its float32 twin, up to
rounding.

- He (Kaiming) initialisation, He et al. 2015, "Delving Deep into
  Rectifiers": Var[w] = 2 / fan_in, which keeps the variance of ReLU
  activations constant from layer to layer.
- LeCun initialisation, LeCun et al. 1998, "Efficient BackProp" (Caffe's
  "xavier" filler): Var[w] = 1 / fan_in, which keeps the variance constant
  through linear layers.
- Glorot (Xavier) initialisation, Glorot and Bengio 2010: Var[w] =
  2 / (fan_in + fan_out), for tanh and sigmoid networks.
"""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_choice, check_float_dtype, check_generator, check_int
from ..masks._select import check_shape

# The parameters and result every initialiser shares; each docstring keeps its own distribution.
_INITIALISER = """
    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draws.
    shape : int or tuple of int
        Shape of the array, e.g. (fan_in, units).
    fan_in : int >= 1
        Inputs of one unit (kh kw in_channels for a convolution).
    fan_out : int >= 1
        Number of units (out_channels for a convolution).
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the result; the values are drawn in float64.

    Returns
    -------
    ndarray
        The weights, of ``shape`` and ``dtype``.
    """


def _check(rng, shape, fan_in, fan_out, dtype, owner):
    """The checked ``(shape, dtype)`` (a shape of at most 2^31 entries)."""
    check_generator(rng, "rng", owner)
    check_int(fan_in, "fan_in", owner, low=1)
    check_int(fan_out, "fan_out", owner, low=1)
    return check_shape(shape, owner, "shape"), check_float_dtype(dtype, "dtype", owner)


@shared_docstring(initialiser=_INITIALISER)
def he_normal(rng, shape, fan_in, fan_out, dtype=np.float32) -> np.ndarray:
    """He normal: w ~ N(0, 2 / fan_in).

    {{initialiser}}
    """
    shape, dtype = _check(rng, shape, fan_in, fan_out, dtype, "he_normal")
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


@shared_docstring(initialiser=_INITIALISER)
def he_uniform(rng, shape, fan_in, fan_out, dtype=np.float32) -> np.ndarray:
    """He uniform: w ~ U(-l, l) with l = sqrt(6 / fan_in), so Var[w] = 2 / fan_in.

    {{initialiser}}
    """
    shape, dtype = _check(rng, shape, fan_in, fan_out, dtype, "he_uniform")
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


@shared_docstring(initialiser=_INITIALISER)
def lecun_uniform(rng, shape, fan_in, fan_out, dtype=np.float32) -> np.ndarray:
    """LeCun uniform: w ~ U(-l, l) with l = sqrt(3 / fan_in), so Var[w] = 1 / fan_in.

    {{initialiser}}
    """
    shape, dtype = _check(rng, shape, fan_in, fan_out, dtype, "lecun_uniform")
    limit = np.sqrt(3.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


@shared_docstring(initialiser=_INITIALISER)
def glorot_normal(rng, shape, fan_in, fan_out, dtype=np.float32) -> np.ndarray:
    """Glorot normal: w ~ N(0, 2 / (fan_in + fan_out)).

    {{initialiser}}
    """
    shape, dtype = _check(rng, shape, fan_in, fan_out, dtype, "glorot_normal")
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


@shared_docstring(initialiser=_INITIALISER)
def glorot_uniform(rng, shape, fan_in, fan_out, dtype=np.float32) -> np.ndarray:
    """Glorot uniform: w ~ U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), so Var[w] = 2 / (fan_in + fan_out).

    {{initialiser}}
    """
    shape, dtype = _check(rng, shape, fan_in, fan_out, dtype, "glorot_uniform")
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


INITIALIZERS = {
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun_uniform": lecun_uniform,
    "glorot": glorot_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
}


def get_initializer(name: str):
    """The initialiser called ``name``.

    Parameters
    ----------
    name : str
        A key of ``INITIALIZERS``: "he" (= "he_normal"), "he_uniform",
        "lecun_uniform", "glorot" (= "glorot_uniform"), "glorot_normal".

    Returns
    -------
    callable
        ``f(rng, shape, fan_in, fan_out, dtype)``, e.g. :func:`he_normal`.

    Raises
    ------
    ValueError
        If ``name`` is not a key of ``INITIALIZERS``.
    """
    return INITIALIZERS[check_choice(name, "init", "get_initializer", tuple(INITIALIZERS))]
