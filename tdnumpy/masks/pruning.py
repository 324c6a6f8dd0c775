"""Magnitude pruning: keep-masks that remove, for good, what targeted dropout targets.

Pruning removes, for good, what targeted dropout targets: at fraction f it
keeps exactly what targeted dropout with gamma = f and alpha = 1 keeps (every
target dropped, nothing else). Han, Pool, Tran and Dally, "Learning both
Weights and Connections for Efficient Neural Networks" (2015), prune by
magnitude; Gomez et al. (2019) measure targeted dropout by pruning this way.
:mod:`tdnumpy.pruning.masking` applies these masks to a model and keeps them there.

Pruning again only adds to what was pruned. With ``previous``, an earlier
keep-mask, the entries it drops rank below every other entry (below kept
zeros too, which tie with them at |w| = 0) and stay dropped: the result is
previous AND the new keep. So pruning twice at f is pruning once, and
pruning at f1 then at f2 >= f1 is pruning at f2.
"""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_real
from ._select import WEIGHT_PARAMETERS, bottom_k, bottom_k_rows, check_mask, check_weight, magnitude_keys, n_targets
from .targeted import unit_ranks

# The last parameter and the result of the functions that prune single weights of one W.
_PREVIOUS_KEEP = """
    previous : ndarray of bool, shape (fan_in, units), optional
        An earlier keep-mask; what it drops stays dropped.

    Returns
    -------
    keep : ndarray of bool, shape (fan_in, units)
        True where the weight is kept.
    """


def _ranked_below(scores: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``scores`` (non-negative: magnitudes, their integer keys, or unit ranks) with the entries
    ``previous`` drops set to -1."""
    if previous is not None:
        scores[~previous] = -1
    return scores


def _keep_also(keep: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    return keep if previous is None else keep & previous


@shared_docstring(weight=WEIGHT_PARAMETERS, previous_keep=_PREVIOUS_KEEP)
def weight_prune_keep(w: np.ndarray, fraction: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Weight pruning per column, the paper's definition: a keep-mask shaped like ``w``.

        keep[i, o] = not T[i, o],   T = weight_targets(w, f),

    removing the k = floor(f N_row) smallest |W[i, o]| of every column o (ties:
    lower row index first), so each column keeps N_row - k weights (with
    ``previous``, see the module docstring: max(k, the number it dropped) go).

    {{weight}}
    fraction : float
        The pruning fraction f, in [0, 1]; k = floor(f N_row) per column.
    {{previous_keep}}
    """
    check_weight(w, "weight_prune_keep", finite=False)  # checked while ranking
    fraction = check_real(fraction, "fraction", "weight_prune_keep", low=0, high=1)
    if previous is not None:
        previous = check_mask(previous, "previous", w.shape, "weight_prune_keep")
    keys = _ranked_below(magnitude_keys(w, "weight_prune_keep"), None if previous is None else previous.T)
    return _keep_also(~bottom_k_rows(keys, n_targets(w.shape[0], fraction)).T, previous)


@shared_docstring(weight=WEIGHT_PARAMETERS)
def unit_prune_keep(w: np.ndarray, fraction: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Unit pruning: one boolean per unit (column of ``w``).

    False for the k = floor(f N_col) columns of smallest L2 norm
    ||W[:, o]||_2, compared exactly (:func:`~tdnumpy.masks.unit_ranks`; ties:
    lower column index first). A pruned unit loses its weight column and its
    bias. With ``previous``, the units it drops rank below every other unit
    (below kept zero columns too) and stay dropped, so max(k, the number it
    dropped) go.

    {{weight}}
    fraction : float
        The pruning fraction f, in [0, 1]; k = floor(f N_col) of the columns.
    previous : ndarray of bool, shape (units,), optional
        An earlier keep-mask; what it drops stays dropped.

    Returns
    -------
    keep : ndarray of bool, shape (units,)
        True where the unit is kept; False for the k pruned units and for any
        unit ``previous`` drops.
    """
    check_weight(w, "unit_prune_keep")
    fraction = check_real(fraction, "fraction", "unit_prune_keep", low=0, high=1)
    if previous is not None:
        previous = check_mask(previous, "previous", (w.shape[1],), "unit_prune_keep")
    ranks = _ranked_below(unit_ranks(w), previous)
    return _keep_also(~bottom_k(ranks, n_targets(w.shape[1], fraction)), previous)


@shared_docstring(weight=WEIGHT_PARAMETERS, previous_keep=_PREVIOUS_KEEP)
def magnitude_prune_keep(w: np.ndarray, fraction: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Layer-wise unstructured pruning: the k = floor(f N_row N_col) smallest |W| removed.

    They are taken over the whole matrix (ties: lower index first, in C order
    of ``w``), whatever column they are in.

    {{weight}}
    fraction : float
        The pruning fraction f, in [0, 1]; k = floor(f N_row N_col) over the whole matrix.
    {{previous_keep}}
    """
    return _union_prune_keep([w], fraction, [previous], "magnitude_prune_keep", names=["w"])[0]


def global_prune_keep(weights, fraction: float, previous=None) -> list[np.ndarray]:
    """Global magnitude pruning: one threshold for several matrices.

    The k = floor(f sum_l N_l) smallest magnitudes of the union of all entries
    are removed (ties: the earlier matrix first, then lower index in C order),
    so a layer loses more or less than f depending on how its magnitudes
    compare with the others'.

    Parameters
    ----------
    weights : list or tuple of ndarray
        The weight matrices, each 2-D, float16, float32 or float64, finite;
        N_l entries for the l-th.
    fraction : float
        The pruning fraction f, in [0, 1]; k = floor(f sum_l N_l) over all the matrices.
    previous : list of (ndarray of bool or None), optional
        One earlier keep-mask per matrix, shaped like it (None for a matrix
        not pruned yet); what they drop stays dropped.

    Returns
    -------
    list of ndarray of bool
        One keep-mask per matrix, shaped like it.
    """
    return _union_prune_keep(weights, fraction, previous, "global_prune_keep")


def _union_prune_keep(weights, fraction: float, previous, owner: str, names=None) -> list[np.ndarray]:
    """The k = floor(f N) smallest magnitudes of the union of ``weights`` removed."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError(
            f"The 'weights' parameter of {owner} must be a non-empty list of "
            f"weight matrices. Got {type(weights).__name__} instead."
        )
    for i, w in enumerate(weights):
        check_weight(w, owner, name=f"weights[{i}]" if names is None else names[i])
    fraction = check_real(fraction, "fraction", owner, low=0, high=1)
    previous = [None] * len(weights) if previous is None else list(previous)
    if len(previous) != len(weights):
        raise ValueError(
            f"The 'previous' parameter of {owner} must hold one mask (or None) per matrix, "
            f"{len(weights)}. Got {len(previous)} instead."
        )
    previous = [None if p is None else check_mask(p, "previous", w.shape, owner) for p, w in zip(previous, weights)]
    union = np.concatenate(
        [_ranked_below(np.abs(w).astype(np.float64), p).reshape(-1) for w, p in zip(weights, previous)]
    )
    removed = bottom_k(union, n_targets(len(union), fraction))
    ends = np.cumsum([w.size for w in weights])[:-1]
    return [_keep_also(~part.reshape(w.shape), p) for part, w, p in zip(np.split(removed, ends), weights, previous)]


@shared_docstring(previous_keep=_PREVIOUS_KEEP)
def std_prune_keep(w: np.ndarray, quality: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Threshold pruning of Han et al. (2015), section 4: keep |W| >= q std(W).

    The threshold is a quality parameter q times the standard deviation of
    the layer's weights (over all its entries, pruned zeros included;
    computed in float64).

    Parameters
    ----------
    w : ndarray of shape (fan_in, units), float16, float32 or float64
        The weight matrix W; finite.
    quality : float
        q >= 0.
    {{previous_keep}}
    """
    check_weight(w, "std_prune_keep")
    quality = check_real(quality, "quality", "std_prune_keep", low=0.0)
    if previous is not None:
        previous = check_mask(previous, "previous", w.shape, "std_prune_keep")
    magnitudes = np.abs(w).astype(np.float64)
    return _keep_also(magnitudes >= quality * np.std(w, dtype=np.float64), previous)
