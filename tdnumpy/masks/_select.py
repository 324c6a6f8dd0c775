"""The machinery the specification's functions share.

Argument checks for weight matrices, masks and shapes; k = floor(gamma N);
exact bottom-k selection along columns (the Bernoulli events the masks draw
are in :mod:`tdnumpy.masks._draws`). None of it is a paper's definition on
its own: the public functions of :mod:`tdnumpy.masks` are, and each says
which of these it uses. :mod:`tdnumpy.masks.tracking` reuses the selection
step by step during training.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._blas import transpose
from .._validation import check_int, check_real


def check_weight(w, owner: str, finite: bool = True, name: str = "w") -> np.ndarray:
    """Return ``w`` if it is a non-empty 2-D float16, float32 or float64 array.

    Parameters
    ----------
    w : object
        The weight matrix W, expected of shape (fan_in, units).
    owner : str
        The calling function or class, named in the message.
    finite : bool, default=True
        Also refuse NaN and infinite entries. Callers that rank |W| pass False
        and check them on the keys (:func:`magnitude_keys`).
    name : str, default="w"
        The argument's name, for the message.

    Returns
    -------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        ``w`` itself, not a copy.

    Raises
    ------
    TypeError
        If ``w`` is not an ndarray of one of these dtypes.
    ValueError
        If ``w`` is not 2-D, is empty, or (with ``finite``) is not finite.
    """
    if not isinstance(w, np.ndarray):
        raise TypeError(f"The {name!r} parameter of {owner} must be a NumPy array. Got {type(w).__name__} instead.")
    if w.dtype not in (np.float16, np.float32, np.float64):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a float16, float32 or float64 array. "
            f"Got dtype {w.dtype} instead."
        )
    if w.ndim != 2 or w.size == 0:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a non-empty 2-D array (fan_in, units). "
            f"Got shape {w.shape} instead."
        )
    if finite and not np.isfinite(w).all():
        raise_not_finite(owner, name)
    return w


def check_floats(x, name: str, owner: str) -> np.ndarray:
    """Return ``x`` as an array if it holds finite float16, float32 or float64 values, any shape.

    Parameters
    ----------
    x : array_like
        The values (gate locations, log variances, switches).
    name : str
        Its parameter name, for the message.
    owner : str
        The calling function, for the message.

    Returns
    -------
    ndarray
        ``np.asarray(x)``.
    """
    a = np.asarray(x)
    if a.dtype not in (np.float16, np.float32, np.float64) or not np.isfinite(a).all():
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an array of finite float16, float32 or "
            f"float64 values. Got dtype {a.dtype}"
            f"{' with NaN or infinities' if a.dtype.kind == 'f' else ''} instead."
        )
    return a


# The weight parameter, as check_weight accepts it, of the functions that take one W (the
# targets, the targeted and released keep-masks, pruning), in their docstrings' {{weight}}.
WEIGHT_PARAMETERS = """
    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W, (N_row, N_col); finite.
    """


def raise_not_finite(owner: str, name: str = "w"):
    """Raise the error for a weight matrix with NaN or infinite entries.

    Parameters
    ----------
    owner : str
        The calling function or class, named in the message.
    name : str, default="w"
        The argument's name.

    Raises
    ------
    ValueError
        Always.
    """
    raise ValueError(f"The {name!r} parameter of {owner} must be finite. Got NaN or infinite entries.")


def check_mask(mask, name: str, shape, owner: str) -> np.ndarray:
    """Return ``mask`` if it is a boolean array of shape ``shape``.

    Parameters
    ----------
    mask : object
        The mask to check.
    name : str
        Its parameter name, for the message.
    shape : tuple of int
        The shape it must have.
    owner : str
        The calling function or class, for the message.

    Returns
    -------
    mask : ndarray of bool, shape ``shape``
        ``mask`` itself, not a copy.

    Raises
    ------
    ValueError
        If ``mask`` is not an ndarray of dtype bool and shape ``shape``.
    """
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != shape:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a boolean array of shape {shape}. "
            f"Got {getattr(mask, 'dtype', type(mask).__name__)} "
            f"{getattr(mask, 'shape', '')} instead."
        )
    return mask


MAX_ELEMENTS = 2**31  # far beyond any layer's mask; larger requests are mistakes, not masks


def check_shape(shape, owner: str, name: str = "shape") -> tuple[int, ...]:
    """Return ``shape`` as a tuple of non-negative Python ints.

    Parameters
    ----------
    shape : int or tuple of int
        An int n stands for (n,). Bools, lists and negative sizes are refused,
        and so is a shape of more than ``MAX_ELEMENTS`` (2**31) elements.
    owner : str
        The calling function or class, for the message.
    name : str, default="shape"
        The argument's name, for the message.

    Returns
    -------
    tuple of int
        The shape.

    Raises
    ------
    TypeError
        If ``shape`` is not a non-negative int or a tuple of them.
    ValueError
        If it has more than ``MAX_ELEMENTS`` elements.
    """
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_)) and int(n) >= 0 for n in shape
    ):
        what = "a non-negative int" if name != "shape" else "a tuple of non-negative ints"
        raise TypeError(f"The {name!r} parameter of {owner} must be {what}. Got {shape!r} instead.")
    shape = tuple(int(n) for n in shape)
    if math.prod(shape) > MAX_ELEMENTS:
        raise ValueError(
            f"The {name!r} parameter of {owner} asks for {math.prod(shape):,} elements; at most "
            f"{MAX_ELEMENTS:,} (2**31) are drawn. Got {shape!r} instead."
        )
    return shape


def n_targets(n: int, gamma: float) -> int:
    """Number of targets k = floor(gamma n), the product taken in float64.

    As ``math.floor(gamma * n)`` in Python: 0.29 * 100 gives 28 (see
    :mod:`tdnumpy.masks.targeted`).

    Parameters
    ----------
    n : int
        The number of candidates N: N_row, N_col or the size of a union.
    gamma : float
        The targeting proportion (or pruning fraction f), in [0, 1]; not
        checked here.

    Returns
    -------
    int
        k, between 0 and n.

    Raises
    ------
    TypeError, ValueError
        If ``n`` is not an int >= 0 or ``gamma`` not a real in [0, 1].
    """
    n = check_int(n, "n", "n_targets", low=0)
    return math.floor(check_real(gamma, "gamma", "n_targets", low=0, high=1) * n)


def bottom_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k smallest entries of each column of ``scores``.

    A 1-D array is one column; ties are broken by lower index first, so each
    column has exactly k entries selected (none for k = 0, all for k = n).

    O(n) per column: ``np.partition`` finds the k-th smallest value t of each
    column; the entries <= t are selected, and only in the rare columns where
    more than k entries are <= t (ties at t) are the surplus ones at t dropped,
    last index first. The work runs on the transposed copy, where each column
    is a contiguous row.

    Parameters
    ----------
    scores : array_like of shape (n,) or (n, m), integer or float, no NaN
        The scores, ranked along axis 0.
    k : int
        How many entries to select in each column, 0 <= k <= n.

    Returns
    -------
    ndarray of bool, shaped like ``scores``
        True at the selected entries.

    Raises
    ------
    TypeError
        If ``scores`` is not of an integer or float dtype, or ``k`` not an int.
    ValueError
        If ``scores`` is not 1-D or 2-D, is empty or holds NaN, or ``k`` lies
        outside [0, n].
    """
    scores = np.asarray(scores)
    if scores.dtype.kind not in "iuf":
        raise TypeError(
            f"The 'scores' parameter of bottom_k must be an array of integers or floats. "
            f"Got dtype {scores.dtype} instead."
        )
    if scores.ndim not in (1, 2) or scores.size == 0:
        raise ValueError(
            f"The 'scores' parameter of bottom_k must be a non-empty 1-D or 2-D array. "
            f"Got shape {scores.shape} instead."
        )
    if scores.dtype.kind == "f" and np.isnan(scores).any():
        raise ValueError("The 'scores' parameter of bottom_k must not hold NaN (it has no rank).")
    n = scores.shape[0]
    k = check_int(k, "k", "bottom_k", low=0, high=n)
    rows = np.ascontiguousarray(scores.reshape(n, -1).T)  # one row per column of scores
    return bottom_k_rows(rows, k).T.reshape(scores.shape)


def bottom_k_rows(rows: np.ndarray, k: int) -> np.ndarray:
    """:func:`bottom_k` along the rows of a C-contiguous array (its columns' view).

    Parameters
    ----------
    rows : ndarray of shape (m, n), real, C-contiguous
        One row per column of the matrix being ranked; not modified.
    k : int
        How many entries to select in each row.

    Returns
    -------
    ndarray of bool, shape (m, n)
        True at the k smallest entries of each row (ties: lower index first).
    """
    n = rows.shape[1]
    if k <= 0:
        return np.zeros(rows.shape, bool)
    if k >= n:
        return np.ones(rows.shape, bool)
    kth = np.partition(rows, k - 1, axis=1)[:, k - 1 : k]
    selected = rows <= kth
    if np.count_nonzero(selected) == k * len(rows):  # every row holds at least k; no ties at t
        return selected
    for r in np.flatnonzero(row_counts(selected) > k):
        at = np.flatnonzero(rows[r] == kth[r, 0])
        surplus = np.count_nonzero(selected[r]) - k
        selected[r, at[len(at) - surplus :]] = False
    return selected


def row_counts(mask: np.ndarray) -> np.ndarray:
    """The number of True entries in each row of a C-contiguous 2-D boolean array.

    Summed as bytes, 3x faster than ``count_nonzero(axis=1)``.

    Parameters
    ----------
    mask : ndarray of bool, shape (m, n), C-contiguous
        The rows to count.

    Returns
    -------
    ndarray of shape (m,), uint16 (n < 2**16) or int64
        The counts.
    """
    dtype = np.uint16 if mask.shape[1] < 2**16 else np.int64
    return np.add.reduce(mask.view(np.uint8), axis=1, dtype=dtype)


TRANSPOSE_STRIP = 32


def abs_transposed(w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """|W|^T written into ``out``: in one pass where that reads W in its memory
    order, else transposed by OpenBLAS or in strips.

    W^T of a column-major W (a Dense layer's weight) is C-contiguous, so |W^T|
    is one pass in memory order. Otherwise a transposing pass reads one matrix
    against its memory order; on a large one, and worst when the row length is
    a power of two (the rows then fall on the same cache sets), it waits on
    memory at every element. A C-contiguous float32 or float64 W of 2^20
    entries or more is therefore transposed by OpenBLAS
    (:func:`tdnumpy._blas.transpose`), and the magnitudes taken in place: a
    4096 x 4096 float32 matrix in 14 ms, against 74 ms in strips (below) and
    131 ms in one pass, measured one after the other on one day. Without it
    (another BLAS, float16, other strides), strips of ``TRANSPOSE_STRIP``
    rows of W are copied, each into a band of columns of ``out``, which keeps
    the lines being read in cache (43 against 128 ms for that matrix on an
    earlier day). Smaller matrices (LeNet-300-100's layers) are transposed in
    one pass, which measured as fast or faster.

    Parameters
    ----------
    w : ndarray of shape (n, m)
        The matrix W.
    out : ndarray of shape (m, n), C-contiguous
        Destination.

    Returns
    -------
    ndarray of shape (m, n)
        ``out``.
    """
    if w.size < 2**20 or w.T.flags.c_contiguous:
        return np.abs(w.T, out=out)
    if transpose(w, out):
        return np.abs(out, out=out)
    for i in range(0, w.shape[0], TRANSPOSE_STRIP):
        np.abs(w[i : i + TRANSPOSE_STRIP].T, out=out[:, i : i + TRANSPOSE_STRIP])
    return out


def magnitude_keys(w: np.ndarray, owner: str, out: np.ndarray | None = None) -> np.ndarray:
    """|W| transposed, one contiguous row per column of ``w``, as integer keys.

    |W| is written transposed in the pass that takes the magnitude (into
    ``out`` if given, a C-contiguous float array shaped like w.T) and ranked
    through its integer view: for non-negative IEEE floats the bit patterns
    order like the values (equal exactly when the values are), and integer
    comparisons are faster than float ones. The same view checks that ``w``
    is finite: |w| is finite exactly when its bit pattern is at most that of
    the largest finite float (NaN and inf lie above).

    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W.
    owner : str
        The calling function or class, named in the message.
    out : ndarray of shape (units, fan_in), w's dtype, C-contiguous, optional
        Where to write |W| transposed; a new array if None.

    Returns
    -------
    keys : ndarray of shape (units, fan_in), int16, int32 or int64
        The signed integer view (of w's itemsize) of |W| transposed.

    Raises
    ------
    ValueError
        If ``w`` has NaN or infinite entries.
    """
    rows = np.empty((w.shape[1], w.shape[0]), w.dtype) if out is None else out
    abs_transposed(w, rows)
    keys = rows.view(f"i{rows.itemsize}")
    if keys.max() > np.array(np.finfo(w.dtype).max, w.dtype).view(keys.dtype):
        raise_not_finite(owner)
    return keys
