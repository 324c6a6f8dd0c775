"""Targeted dropout: the target sets and the keep-masks of the weight and unit variants.

Source: Gomez, Zhang, Kamalakara, Madaan, Swersky, Gal and Hinton, "Learning
Sparse Networks Using Targeted Dropout" (2019), section 3 ("Targeted
Dropout"). Symbols, as in the paper:

    W      a weight matrix of shape (N_row, N_col) = (fan_in, units); a
           convolution's kernel viewed as (kh kw in_channels, out_channels)
    gamma  the targeting proportion: the fraction of each column (weight
           variant) or of the columns (unit variant) that is targeted
    alpha  the drop rate: each target is dropped with probability alpha
    k      the number of targets, k = floor(gamma N) for N = N_row (weight
           variant, per column) or N = N_col (unit variant)

Weight variant: the targets of column o are the k entries of smallest
|W[i, o]| (the paper's argmin_k over the column). Unit variant: the targets
are the k columns of smallest L2 norm ||W[:, o]||_2, compared exactly
(:func:`unit_ranks`). Ties are broken by lower index first, so exactly k are
targeted, always. Each target is dropped independently with probability
alpha and nothing else is ever dropped, so the expected kept fraction is
1 - alpha k / N (about 1 - gamma alpha); kept weights are not rescaled, as in
the paper and its released code.

``k = floor(gamma N)`` is computed from the float64 product gamma * N, as
``math.floor(gamma * n)`` in Python or ``int(gamma * n)`` in most ports would:
0.3 * 10 gives 3, while 0.29 * 100 gives 28 because that product rounds to
28.999999999999996. The functions of :mod:`tdnumpy.masks.released`
reproduce the authors' released TensorFlow code instead, differences
included; each says where it departs from the definition above.

Every function validates its arguments and raises ``ValueError`` or
``TypeError`` naming the argument, its value and the accepted range.
"""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_generator, check_int, check_real
from ._norms import square_sums, unit_ranks_of
from ._draws import bernoulli_complement
from ._select import (
    WEIGHT_PARAMETERS,
    bottom_k,
    bottom_k_rows,
    check_mask,
    check_shape,
    check_weight,
    magnitude_keys,
    n_targets,
)


def _weight_target_rows(w: np.ndarray, gamma: float, owner: str) -> np.ndarray:
    """The weight targets transposed, one row per column of ``w``."""
    return bottom_k_rows(magnitude_keys(w, owner), n_targets(w.shape[0], gamma))


@shared_docstring(weight=WEIGHT_PARAMETERS)
def weight_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """The weight variant's target set, a boolean mask shaped like ``w``.

    For every column o, the k = floor(gamma N_row) entries of smallest |W[i, o]|
    (ties: lower row index first). Gomez et al. (2019), section 3: the weights
    of a column ranked by magnitude, the bottom gamma fraction targeted.

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; k = floor(gamma N_row) per column.

    Returns
    -------
    targets : ndarray of bool, shape (fan_in, units)
        True at the k targets of each column.
    """
    check_weight(w, "weight_targets", finite=False)  # checked while ranking
    gamma = check_real(gamma, "gamma", "weight_targets", low=0, high=1)
    return _weight_target_rows(w, gamma, "weight_targets").T


def unit_ranks(w: np.ndarray) -> np.ndarray:
    """Dense ranks of the units (columns of ``w``) by their exact L2 norm.

    rank[a] < rank[b] exactly when ||W[:, a]||_2 < ||W[:, b]||_2, and rank[a] =
    rank[b] exactly when the two norms are equal, in real arithmetic on the
    float values of W, whatever their size (subnormal or near the largest
    float); the ranks run from 0 to the number of distinct norms less one.
    Gomez et al. (2019), section 3, rank units by the L2 norm of their weight
    column; :func:`unit_targets` takes the k lowest ranks (ties: lower index first).

    Method: each column's sum of squares S is taken in float64 (float16 and
    float32 squares are exact there); a column whose sum leaves [2^-800, 2^1000]
    is summed again after an exact power-of-two scaling to its largest
    magnitude, S = s 4^E with s in [1/4, n]. Then, with n = fan_in and
    u = 2^-53, the computed S is within relative error
    delta = gamma_n + n 2^-270 of the exact one (gamma_n = n u / (1 - n u):
    one rounding per square and n additions in any order; n 2^-270: squares
    lost to underflow, against S >= 2^-802). The key G + 2f - 1, where
    S = f 2^G with f in [1/2, 1) (np.frexp), is continuous and increasing in S,
    its slope in ln S at most 2; so a computed key lies within 2 delta / (1 - delta)
    + 2^-41 (rounding a float64 of magnitude < 2^12) of the exact S's key, and
    sorted keys more than tol = 5 delta + 2^-39 apart (twice that bound, for
    any n below 2^50) are in the order of the exact norms. Only runs of closer
    keys, rare but for exact ties such as permuted columns, are ranked exactly:
    every float is M 2^x with an integer M < 2^53, so S = sum M_i^2 4^x_i,
    compared as Python integers at a common scale. Zero columns tie at rank 0.

    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W; finite.

    Returns
    -------
    ranks : ndarray of shape (units,), int64
        The dense rank of each column's norm, 0 for the smallest.
    """
    check_weight(w, "unit_ranks", finite=False)  # checked while ranking
    return unit_ranks_of(w, "unit_ranks")


def unit_norms(w: np.ndarray) -> np.ndarray:
    """||W[:, o]||_2 for every column o, in float64, for display and scores.

    sqrt(s) 2^e from the sums of squares s 4^e that :func:`unit_ranks` starts
    from, so no weight is too large or too small to square: the relative error
    is at most about n 2^-54 (n = fan_in), and only a norm above the largest
    float64 is inf. Rounding can make two equal norms differ in their last bits,
    or two close ones swap; ranking (:func:`unit_targets`,
    :func:`targeted_unit_keep`, :func:`~tdnumpy.masks.unit_prune_keep`) therefore
    uses :func:`unit_ranks`, which is exact.

    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W (infinite entries give an infinite norm).

    Returns
    -------
    norms : ndarray of shape (units,), float64
        The column norms.

    Raises
    ------
    TypeError, ValueError
        If ``w`` is not a non-empty 2-D float16, float32 or float64 array.
    """
    check_weight(w, "unit_norms", finite=False)
    s, e = square_sums(w)
    with np.errstate(over="ignore"):
        return np.ldexp(np.sqrt(s), e)


@shared_docstring(weight=WEIGHT_PARAMETERS)
def unit_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """The unit variant's target set, one boolean per column (unit).

    The k = floor(gamma N_col) columns of smallest L2 norm ||W[:, o]||_2, the k
    lowest :func:`unit_ranks` (exact; ties: lower column index first). Gomez et
    al. (2019), section 3: units ranked by the norm of their weight column, the
    bottom gamma fraction targeted.

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; k = floor(gamma N_col) of the columns.

    Returns
    -------
    targets : ndarray of bool, shape (units,)
        True at the k targeted units.
    """
    check_weight(w, "unit_targets", finite=False)  # checked while ranking
    gamma = check_real(gamma, "gamma", "unit_targets", low=0, high=1)
    return bottom_k(unit_ranks_of(w, "unit_targets"), n_targets(w.shape[1], gamma))


def random_weight_targets(shape, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-pattern targets: u < gamma for one stored uniform draw u per weight.

    The authors' ``targeted_weight_random`` baseline: targets chosen once at
    random instead of by magnitude (each weight targeted with probability
    gamma, so about gamma N_row per column, not exactly k). Draw once and keep
    the result; pass it as ``targets`` to :func:`targeted_weight_keep`.

    Parameters
    ----------
    shape : int or tuple of int
        The weight matrix's shape, (fan_in, units).
    gamma : float
        The probability that a weight is targeted, in [0, 1].
    rng : numpy.random.Generator
        The source of u, float64.

    Returns
    -------
    targets : ndarray of bool, shape ``shape``
        True at the targets.
    """
    gamma = check_real(gamma, "gamma", "random_weight_targets", low=0, high=1)
    shape = check_shape(shape, "random_weight_targets")
    return check_generator(rng, "rng", "random_weight_targets").random(shape) < gamma


def random_unit_targets(units: int, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-pattern unit targets: u < gamma for one stored uniform draw per unit.

    The authors' ``targeted_unit_random`` baseline; pass the result as
    ``targets`` to :func:`targeted_unit_keep`.

    Parameters
    ----------
    units : int
        The number of units N_col.
    gamma : float
        The probability that a unit is targeted, in [0, 1].
    rng : numpy.random.Generator
        The source of u, float64.

    Returns
    -------
    targets : ndarray of bool, shape (units,)
        True at the targeted units.
    """
    gamma = check_real(gamma, "gamma", "random_unit_targets", low=0, high=1)
    shape = check_shape(units, "random_unit_targets", "units")
    return check_generator(rng, "rng", "random_unit_targets").random(shape) < gamma


def drop_targets(targets: np.ndarray, alpha: float, rng: np.random.Generator, shape=None) -> np.ndarray:
    """Keep-mask that drops each target independently with probability alpha.

    keep = not (target and d), with d ~ Bernoulli(alpha) drawn per position of
    the mask in C order (:func:`bernoulli`), so P(dropped) = alpha for a
    target and 0 for anything else. ``shape`` broadcasts ``targets`` first
    (for per-example unit masks, (batch, units)). Drawing for every position,
    not only the targets, measured faster: boolean-indexed assignment costs
    more than the extra draws.

    Parameters
    ----------
    targets : ndarray of bool
        The target set T.
    alpha : float
        The drop rate, in [0, 1].
    rng : numpy.random.Generator
        The source of d.
    shape : tuple of int, optional
        The shape of the mask, to which ``targets`` broadcasts; None for
        ``targets.shape``.

    Returns
    -------
    keep : ndarray of bool, shape ``shape`` (or ``targets.shape``)
        False exactly where a target is dropped.
    """
    alpha = check_real(alpha, "alpha", "drop_targets", low=0, high=1)
    if not isinstance(targets, np.ndarray) or targets.dtype != np.bool_:
        got = f"dtype {targets.dtype}" if isinstance(targets, np.ndarray) else type(targets).__name__
        raise TypeError(f"The 'targets' parameter of drop_targets must be a boolean NumPy array. Got {got} instead.")
    shape = targets.shape if shape is None else check_shape(shape, "drop_targets")
    no_drop = bernoulli_complement(check_generator(rng, "rng", "drop_targets"), alpha, shape)
    return np.less_equal(targets, no_drop, out=no_drop)  # not (target and d) = (target <= not d)


@shared_docstring(weight=WEIGHT_PARAMETERS)
def targeted_weight_keep(
    w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator, *, targets: np.ndarray | None = None
) -> np.ndarray:
    """Targeted weight dropout: a boolean keep-mask shaped like ``w``.

    Gomez et al. (2019), section 3: with T the targets of
    :func:`weight_targets` (the k = floor(gamma N_row) smallest |W[i, o]| of
    each column o),

        keep[i, o] = not (T[i, o] and d[i, o]),   d[i, o] ~ Bernoulli(alpha),

    so E[kept fraction of a column] = 1 - alpha k / N_row. Kept weights are
    not rescaled. The draws d run column by column (C order of the transposed
    mask), the order the selection works in.

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; k = floor(gamma N_row) per column.
        Unused when ``targets`` is given.
    alpha : float
        The drop rate, in [0, 1].
    rng : numpy.random.Generator
        The source of d.
    targets : ndarray of bool, shape (fan_in, units), optional
        T, when the caller already has it (fixed-pattern targeting, or
        targets computed once per step); by default :func:`weight_targets`.

    Returns
    -------
    keep : ndarray of bool, shape (fan_in, units)
        True where the weight is kept.
    """
    check_weight(w, "targeted_weight_keep", finite=targets is not None)  # else checked while ranking
    gamma = check_real(gamma, "gamma", "targeted_weight_keep", low=0, high=1)
    alpha = check_real(alpha, "alpha", "targeted_weight_keep", low=0, high=1)
    check_generator(rng, "rng", "targeted_weight_keep")
    if targets is None:
        rows = _weight_target_rows(w, gamma, "targeted_weight_keep")
    else:
        rows = check_mask(targets, "targets", w.shape, "targeted_weight_keep").T
    return drop_targets(rows, alpha, rng).T


@shared_docstring(weight=WEIGHT_PARAMETERS)
def targeted_unit_keep(
    w: np.ndarray,
    gamma: float,
    alpha: float,
    rng: np.random.Generator,
    *,
    batch: int | None = None,
    targets: np.ndarray | None = None,
) -> np.ndarray:
    """Targeted unit dropout: one boolean per unit (column of ``w``).

    Gomez et al. (2019), section 3: with T the k = floor(gamma N_col) columns
    of smallest L2 norm (:func:`unit_targets`),

        keep[o] = not (T[o] and d[o]),   d[o] ~ Bernoulli(alpha),

    so E[kept fraction of the units] = 1 - alpha k / N_col. A dropped unit
    contributes nothing: the layer zeroes its weight column and its bias.
    With ``batch`` = B the mask has shape (B, N_col), one independent draw per
    example (the same as masking that layer's outputs example by example).

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; k = floor(gamma N_col) of the columns.
        Unused when ``targets`` is given.
    alpha : float
        The drop rate, in [0, 1].
    rng : numpy.random.Generator
        The source of d.
    batch : int, optional
        B >= 1, for one mask per example; None for a single mask.
    targets : ndarray of bool, shape (units,), optional
        T, when the caller already has it; by default :func:`unit_targets`.

    Returns
    -------
    keep : ndarray of bool, shape (units,) or (batch, units)
        True where the unit is kept.
    """
    check_weight(w, "targeted_unit_keep", finite=targets is not None)  # else checked while ranking
    gamma = check_real(gamma, "gamma", "targeted_unit_keep", low=0, high=1)
    alpha = check_real(alpha, "alpha", "targeted_unit_keep", low=0, high=1)
    check_generator(rng, "rng", "targeted_unit_keep")
    if targets is None:
        targets = bottom_k(unit_ranks_of(w, "targeted_unit_keep"), n_targets(w.shape[1], gamma))
    else:
        check_mask(targets, "targets", (w.shape[1],), "targeted_unit_keep")
    if batch is None:
        return drop_targets(targets, alpha, rng)
    batch = check_int(batch, "batch", "targeted_unit_keep", low=1)
    return drop_targets(targets, alpha, rng, shape=(batch, w.shape[1]))
