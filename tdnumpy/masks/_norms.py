"""Exact ranking of units by the L2 norm of their weight column.

Gomez et al. (2019) target the units of smallest ||W[:, o]||_2. Float norms
can split an exact tie (two columns holding the same magnitudes in another
order sum to different floats) or lose an order to overflow and underflow;
:func:`~tdnumpy.masks.targeted.unit_ranks` explains how this module ranks
exactly instead: float64 sums of squares with a rigorous error bound, and
exact integer sums only for the columns whose keys fall within it.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._select import raise_not_finite


# Float64 sums of squares inside this range lost nothing to overflow or underflow that matters
# (see unit_ranks in targeted.py); a column whose sum falls outside it is summed again after exact scaling.
_SAFE_SUMS = (2.0**-800, 2.0**1000)
# The rank key of a zero column: below every other key, all of which exceed -2^12 (see unit_ranks).
_ZERO_KEY = -(2.0**13)


def square_sums(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every column's sum of squares as s[o] 4^e[o], in float64, within relative
    error delta of :func:`_ranking_tolerance` (non-finite where the column is).

    Float16 and float32 squares are exact in float64 and at least 2^-298, so only
    zero columns (s = 0, e = 0) and float64 ones leave :data:`_SAFE_SUMS`; those are
    summed again from W[:, o] 2^-e[o], scaled exactly by np.ldexp, with 2^e[o] the
    power of two just above the column's largest magnitude, so s[o] is in [1/4, n].

    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W.

    Returns
    -------
    s : ndarray of shape (units,), float64
        The scaled sums.
    e : ndarray of shape (units,), int64
        Their exponents: the sum of squares of column o is s[o] 4^e[o].
    """
    s = np.einsum("io,io->o", w, w, dtype=np.float64)
    e = np.zeros(len(s), np.int64)
    outside = ~((s >= _SAFE_SUMS[0]) & (s <= _SAFE_SUMS[1]))
    redo = np.flatnonzero(outside & ((s != 0) | (w.dtype == np.float64)))
    if len(redo):
        columns = w[:, redo].astype(np.float64)
        with np.errstate(invalid="ignore", under="ignore"):
            e[redo] = np.frexp(np.abs(columns).max(axis=0))[1]
            scaled = np.ldexp(columns, -e[redo])
        s[redo] = np.einsum("io,io->o", scaled, scaled)
    return s, e


def _ranking_tolerance(n: int) -> float:
    """The gap between two rank keys beyond which their order is certain (see
    :func:`~tdnumpy.masks.targeted.unit_ranks`); rounding is monotone, so a float64
    difference of keys above it is a real one."""
    gamma = n * 2.0**-53 / (1 - n * 2.0**-53)
    delta = gamma + n * 2.0**-270
    return 5 * delta + 2.0**-39


def _rank_keys(s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """G + 2f - 1 for S = s 4^e = f 2^G, f in [1/2, 1): continuous, increasing in S."""
    f, g = np.frexp(s)
    keys = (g + 2 * e) + (2 * f - 1)
    keys[s == 0] = _ZERO_KEY
    return keys


def _exact_square_sums(columns: np.ndarray) -> list[int]:
    """The columns' sums of squares, exactly, as Python ints sharing one power-of-two scale.

    Columns holding the same magnitudes (permutations, sign flips, copies) are
    recognised by their sorted magnitudes and summed once.
    """
    magnitudes = np.sort(np.abs(columns.astype(np.float64)), axis=0).T.copy()
    groups: dict[bytes, tuple[int, int]] = {}
    inverse = [groups.setdefault(row.tobytes(), (len(groups), i))[0] for i, row in enumerate(magnitudes)]
    sums = _integer_square_sums(magnitudes[[i for _, i in groups.values()]])
    return [sums[g] for g in inverse]


def _integer_square_sums(magnitudes: np.ndarray) -> list[int]:
    """sum_i m_i^2 along each row of a float64 array of magnitudes, times one power of two.

    Every float is m = M 2^(x - 53) with an integer M < 2^53 (np.frexp), so the sum
    is sum M_i^2 4^(x_i - 53): Python ints once divided by 4^(min x - 53). When all
    the m divided by the largest power of two 2^q dividing them are integers small
    enough for their sums of squares to stay below 2^53 (integer or low-precision
    weights, copies of one column), float64 sums them exactly instead.
    """
    fractions, exponents = np.frexp(magnitudes)
    mantissas = np.ldexp(fractions, 53).astype(np.int64)
    lowest_bits = np.frexp((mantissas & -mantissas).astype(np.float64))[1] + exponents - 54
    with np.errstate(over="ignore"):
        units = np.ldexp(magnitudes, -lowest_bits[magnitudes > 0].min())  # integers (exact below 2^53)
        if units.max() ** 2 * magnitudes.shape[1] < 2.0**53:
            return (units * units).sum(axis=1).astype(np.int64).tolist()
    shifts = (2 * (exponents - exponents.min())).tolist()
    return [sum(m * m << k for m, k in zip(row_m, row_k)) for row_m, row_k in zip(mantissas.tolist(), shifts)]


def _resolve_near_ties(w: np.ndarray, order: np.ndarray, near: np.ndarray, steps: np.ndarray):
    """Rank exactly each run of columns whose adjacent keys are near (``near[p]``:
    positions p and p + 1 of ``order``), reordering ``order`` in the run and setting
    ``steps`` there (1 where the next exact norm is larger, else 0)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], near, [False])).astype(np.int8)))
    for start, stop in edges.reshape(-1, 2):  # pairs start..stop-1, so positions start..stop
        run = order[start : stop + 1]
        ranked = sorted(zip(_exact_square_sums(w[:, run]), run.tolist()))
        order[start : stop + 1] = [column for _, column in ranked]
        steps[start:stop] = [int(b[0] > a[0]) for a, b in itertools.pairwise(ranked)]


def unit_ranks_of(w: np.ndarray, owner: str) -> np.ndarray:
    """:func:`~tdnumpy.masks.targeted.unit_ranks` of a checked ``w``.

    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W, already checked but for finiteness.
    owner : str
        The calling function, named if ``w`` is not finite.

    Returns
    -------
    ndarray of shape (units,), int64
        The dense ranks.
    """
    s, e = square_sums(w)
    if not np.isfinite(s).all():
        raise_not_finite(owner)
    keys = _rank_keys(s, e)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    steps = (np.diff(sorted_keys) > _ranking_tolerance(w.shape[0])).astype(np.int64)
    near = (steps == 0) & (sorted_keys[1:] != _ZERO_KEY)  # zero columns tie exactly
    if near.any():
        _resolve_near_ties(w, order, near, steps)
    ranks = np.empty(len(keys), np.int64)
    ranks[order] = np.concatenate(([0], np.cumsum(steps)))
    return ranks
