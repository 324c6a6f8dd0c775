"""Hypothesis strategies for weight matrices: the inputs of the conformance kit
and of this library's own mask tests.

They reach the corners where implementations of a mask rule differ: ties
(values from a small set), exact zeros of both signs, 1 x n and n x 1
matrices, convolution kernels viewed as (kh kw in_channels, filters),
float16, float32 and float64, fractions where gamma N is not an integer, and
matrices with distinct magnitudes and distinct column norms for the
properties that only hold without ties.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

DTYPES = (np.float16, np.float32, np.float64)

SHAPES = st.one_of(
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.just(1), st.integers(1, 30)),  # 1 x n
    st.tuples(st.integers(1, 30), st.just(1)),  # n x 1
    st.sampled_from([(25, 6), (18, 4), (50, 3)]),  # conv kernels viewed as (kh kw C, F): 5x5x1, 3x3x2, 5x5x2
)
"""Weight shapes (fan_in, units)."""

FRACTIONS = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1 / 3, 0.29, 0.7, 1 - 2**-30, 0.5 - 2**-40]), st.floats(0.0, 1.0))
"""Fractions in [0, 1]: the ends, 0.29 (0.29 * 100 = 28.999999999999996), values whose
float32 rounding changes k (float32(1 - 2^-30) = 1: a float32 index targets one more
than floor(gamma N)) and any float."""


def _dtypes(dtypes):
    return st.sampled_from(DTYPES if dtypes is None else tuple(dtypes))


@st.composite
def weights(draw, shape=None, ties=None, dtype=None, dtypes=None):
    """A weight matrix; with ties, values come from a small set (zeros of both signs included).

    Parameters
    ----------
    shape : tuple of int, optional
        The shape; drawn from :data:`SHAPES` if None.
    ties : bool, optional
        Values from {0, +-0.5, +-1} (ties and zeros everywhere) or standard
        normal; drawn if None.
    dtype : numpy dtype, optional
        The dtype; drawn from ``dtypes`` if None.
    dtypes : sequence of numpy dtypes, optional
        The dtypes to draw from; float16, float32 and float64 if None.

    Returns
    -------
    ndarray of shape ``shape``
        The matrix.
    """
    shape = draw(SHAPES) if shape is None else shape
    ties = draw(st.booleans()) if ties is None else ties
    dtype = draw(_dtypes(dtypes)) if dtype is None else dtype
    if ties:  # drawn entry by entry, so that hypothesis shrinks a failing matrix towards zeros
        n = int(np.prod(shape))
        return np.array(draw(st.lists(st.sampled_from(TIE_VALUES), min_size=n, max_size=n)), dtype).reshape(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(shape).astype(dtype)


TIE_VALUES = (0.0, -0.0, 0.5, -0.5, 1.0, -1.0)
"""The values of a matrix with ties: zeros of both signs and two magnitudes."""


@st.composite
def activations(draw, dtypes=None):
    """Activations of any rank from 1 to 4, from :func:`weights`.

    Parameters
    ----------
    dtypes : sequence of numpy dtypes, optional
        The dtypes to draw from.

    Returns
    -------
    ndarray
        A 2-D matrix, its ravel, or the matrix reshaped to (1, h, w) or (1, 1, h, w).
    """
    x = draw(weights(dtypes=dtypes))
    rank = draw(st.sampled_from([2, 1, 4, 3]))
    return x.ravel() if rank == 1 else x.reshape((1,) * (rank - 2) + x.shape)


NORM_TIE_VALUES = (0.0, -0.0, 0.05, -0.05, 0.1, 0.3, -0.3, 0.68, -0.68, 0.7, 1.0, 1.1, 2.2, -2.2, 3.3)
"""Values whose squares' float sums depend on the order of summation."""


@st.composite
def permuted_columns(draw, dtypes=None, every=False):
    """Small matrices whose columns tie in L2 norm exactly while their float sums need not.

    Each column is either a signed permutation of one base column (the same
    norm, which a float sum in another order can miss) or a fresh draw from
    :data:`NORM_TIE_VALUES` (zeros of both signs included); C or Fortran order.
    Ranking units by float norms fails here (Gomez et al. 2019 rank units by
    the exact norm; ties go by the convention).

    Parameters
    ----------
    dtypes : sequence of numpy dtypes, optional
        The dtypes to draw from; float16, float32 and float64 if None.
    every : bool, default=False
        Make every column a signed permutation of the base: all norms tie.

    Returns
    -------
    ndarray of shape (fan_in, units)
        The matrix, fan_in 1 to 8, units 1 to 10.
    """
    dtype, n, units = draw(_dtypes(dtypes)), draw(st.integers(1, 8)), draw(st.integers(1, 10))
    column = st.lists(st.sampled_from(NORM_TIE_VALUES), min_size=n, max_size=n)
    signs = st.lists(st.sampled_from([1.0, -1.0]), min_size=n, max_size=n)
    base = draw(column)
    columns = [
        [v * s for v, s in zip(draw(st.permutations(base)), draw(signs))]
        if every or draw(st.booleans())
        else draw(column)
        for _ in range(units)
    ]
    w = np.array(columns, dtype).T
    return np.ascontiguousarray(w) if draw(st.booleans()) else w


def distinct_matrix(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """A matrix whose magnitudes are 1, 2, ..., n in random places, with random signs.

    Exact in every float dtype for n <= 2048; no two entries tie in magnitude
    and none is zero. Column norms can still tie (1^2 + 8^2 = 4^2 + 7^2).

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of the permutation and the signs.
    shape : tuple of int
        (fan_in, units), with at most 2048 entries.
    dtype : numpy dtype
        float16, float32 or float64.

    Returns
    -------
    ndarray of shape ``shape``, ``dtype``
        The matrix.
    """
    n = int(np.prod(shape))
    magnitudes = rng.permutation(n) + 1.0
    return (magnitudes * rng.choice([-1.0, 1.0], n)).reshape(shape).astype(dtype)


@st.composite
def distinct_weights(draw, dtypes=None, distinct_norms=False):
    """A matrix from :func:`distinct_matrix`, optionally with distinct column norms too.

    Parameters
    ----------
    dtypes : sequence of numpy dtypes, optional
        The dtypes to draw from; float16, float32 and float64 if None.
    distinct_norms : bool, default=False
        Also require the columns' sums of squares (exact integers) to differ.

    Returns
    -------
    ndarray of shape (fan_in, units)
        The matrix.
    """
    shape = draw(SHAPES)
    dtype = draw(_dtypes(dtypes))
    seed = draw(st.integers(0, 2**32 - 1))
    w = distinct_matrix(np.random.default_rng(seed), shape, dtype)
    if distinct_norms:
        squares = (w.astype(np.float64) ** 2).sum(axis=0)  # integers below 2^53: exact
        assume(len(np.unique(squares)) == len(squares))
    return w


def weight_lists(dtypes=None, max_size=3):
    """Lists of 1 to ``max_size`` weight matrices, for global pruning.

    Parameters
    ----------
    dtypes : sequence of numpy dtypes, optional
        The dtypes to draw from; float16, float32 and float64 if None.
    max_size : int, default=3
        The longest list.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Lists of ndarrays, each from :func:`weights`.
    """
    return st.lists(weights(dtypes=dtypes), min_size=1, max_size=max_size)


def exact_exponents(w: np.ndarray) -> tuple[int, int]:
    """The range of e, within [-60, 60], for which 2^e w is exact.

    No entry overflows and every non-zero entry stays a normal number, so
    scaling by 2^e (``np.ldexp(w, e)``; 2^e itself need not fit w's dtype)
    changes exponents only.

    Parameters
    ----------
    w : ndarray, float16, float32 or float64
        The array to scale.

    Returns
    -------
    (int, int)
        The lowest and highest e; (0, 0) when no other e is exact.
    """
    info = np.finfo(w.dtype)
    nonzero = np.abs(w[w != 0]).astype(np.float64)
    if nonzero.size == 0:
        return -8, 8
    high = min(int(np.floor(np.log2(float(info.max)) - np.log2(nonzero.max()))) - 1, 60)
    low = max(int(np.ceil(np.log2(float(info.tiny)) - np.log2(nonzero.min()))) + 1, -60)
    return (low, high) if low <= high else (0, 0)


def fixed_dtype(dtypes) -> type:
    """The dtype of a check's fixed inputs: float32 unless ``dtypes`` leaves it out.

    Parameters
    ----------
    dtypes : sequence of numpy dtypes or None
        The dtypes a check may pass; None for all three.

    Returns
    -------
    type
        float32, or the first of ``dtypes``.
    """
    if dtypes is None or any(np.dtype(d) == np.float32 for d in dtypes):
        return np.float32
    return np.dtype(dtypes[0]).type
