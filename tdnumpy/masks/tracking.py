"""Exact weight targets, step after step, without ranking every column afresh.

Training needs the targets of :func:`tdnumpy.masks.weight_targets` at every
step, and an SGD step moves each weight very little, so most columns keep
their target set from one step to the next. :class:`WeightTargetTracker`
exploits this and returns, bit for bit, what ``weight_targets`` returns.

Why a threshold is enough. Let x_1 .. x_n be the magnitudes of one column
(compared through their bit patterns as unsigned integers, which order like
the values: see :func:`tdnumpy.masks._select.magnitude_keys`) and t any number. If
exactly k of them satisfy x_i <= t, these are the k smallest, and none of the
others equals one of them (they all exceed t), so the set is the bottom-k set
whatever the tie rule. The tracker keeps one such t per column: the midpoint
of the gap between the k-th and (k+1)-th smallest key, taken when the column
was last ranked. A step then costs one comparison pass and one count per
column; only the columns whose count is not k (some weight crossed t) are
ranked again, by a partition of just those columns that also gives each a new
gap. A column whose k-th and (k+1)-th smallest magnitudes are equal has no
gap; it is ranked exactly by :func:`tdnumpy.masks.bottom_k` (ties to the lower
index) until the tie is gone.

In LeNet-300-100 training at batch 128 and learning rate 0.05, about 45% of
the columns of the first layer are ranked again at each step, and all of them
whenever gamma changes (a ramp). The tracker also keeps its work arrays from
step to step: fresh megabyte-sized temporaries cost page faults at every step.
Each column's threshold is stored repeated along its row: comparing two
arrays of the same shape measured twice as fast, with the data in cache, as
comparing against a (units, 1) column, whose rows NumPy visits one at a time
(on a loaded machine, where the passes wait on memory, the two measured the
same); it costs one more weight-sized array per tracked layer. Matrices of at
most ``direct_size`` entries (16384 by default, which covers LeNet-300-100's
100 x 10 output layer) are simply ranked afresh: there one partition costs
less than the bookkeeping.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_real
from ._select import abs_transposed, bottom_k_rows, check_weight, n_targets, raise_not_finite, row_counts


class WeightTargetTracker:
    """The weight variant's targets of one weight matrix as it trains.

    Call :meth:`rows` at each step with the current weights; it returns
    ``weight_targets(w, gamma).T``, exactly (see the module docstring). The
    result is the tracker's own buffer and is overwritten by the next call.
    One tracker follows one weight matrix: it is correct for any sequence of
    arguments, but fast only when consecutive weights are close. Like
    ``weight_targets`` it refuses weights that are not finite.

    Parameters
    ----------
    direct_size : int
        Matrices of at most this many entries are ranked afresh at every step
        instead of tracked (0: always track).

    Attributes
    ----------
    reranked : int
        How many columns the last call ranked afresh: all of them on the first
        call, whenever the shape, dtype or k changes and for matrices of at
        most ``direct_size`` entries; none when k = 0 or k >= fan_in (nothing
        to rank).
    """

    def __init__(self, direct_size: int = 16384):
        self.direct_size = check_int(direct_size, "direct_size", type(self).__name__, low=0)
        self._layout: tuple | None = None
        self._tracking = False
        self.reranked = 0

    def rows(self, w: np.ndarray, gamma: float) -> np.ndarray:
        """The targets transposed: a C-contiguous (units, fan_in) boolean array.

        Parameters
        ----------
        w : ndarray of shape (fan_in, units), float16, float32 or float64
            The current weights W; finite.
        gamma : float
            The targeting proportion, in [0, 1].

        Returns
        -------
        ndarray of bool, shape (units, fan_in), C-contiguous
            ``weight_targets(w, gamma).T``: the tracker's buffer, overwritten by
            the next call.

        Raises
        ------
        ValueError
            If ``w`` has NaN or infinite entries.
        """
        owner = type(self).__name__
        check_weight(w, owner, finite=False)  # checked on the keys below
        gamma = check_real(gamma, "gamma", owner, low=0, high=1)
        fan_in, units = w.shape
        k = n_targets(fan_in, gamma)
        if self._layout != (w.shape, w.dtype, k):
            self._allocate(w, k)
        abs_transposed(w, self._magnitudes)
        keys = self._magnitudes.view(self._thresholds.dtype)  # unsigned: partitions faster than signed
        if keys.max() > self._largest_finite:  # NaN and inf have larger bit patterns
            raise_not_finite(owner)
        selected = self._selected
        self.reranked = 0
        if k == 0 or k >= fan_in:
            selected.fill(k > 0)
            return selected
        if w.size <= self.direct_size:
            self.reranked = units
            selected[...] = bottom_k_rows(keys, k)
            return selected
        if not self._tracking:
            stale = np.arange(units)
        else:
            np.less_equal(keys, self._thresholds, out=selected)
            stale = (row_counts(selected) != k).nonzero()[0]
            if len(stale) == 0:
                return selected
        self.reranked = len(stale)
        tied = self._rethreshold(keys, stale, k)
        self._tracking = True  # only now does every row hold its threshold
        # one more full comparison: as fast as comparing just the stale rows
        # (gather, compare, scatter) at the usual 45%, and allocates nothing
        np.less_equal(keys, self._thresholds, out=selected)
        if len(tied):
            selected[tied] = bottom_k_rows(keys[tied], k)
        return selected

    def _allocate(self, w: np.ndarray, k: int) -> None:
        fan_in, units = w.shape
        self._layout = None  # set last, so that a failed allocation leaves no half-made state
        self._tracking = False
        self._magnitudes = np.empty((units, fan_in), w.dtype)
        self._selected = np.empty((units, fan_in), bool)
        self._thresholds = np.empty((units, fan_in), f"u{w.itemsize}")
        self._scratch = np.empty((units, fan_in), f"u{w.itemsize}")
        self._largest_finite = np.array(np.finfo(w.dtype).max, w.dtype).view(self._thresholds.dtype)
        self._layout = (w.shape, w.dtype, k)

    def _rethreshold(self, keys: np.ndarray, stale: np.ndarray, k: int) -> np.ndarray:
        """Rank the ``stale`` rows again; set each one's threshold to the midpoint
        of its gap and return the rows that have no gap (k-th = (k+1)-th key)."""
        part = self._scratch[: len(stale)]
        np.take(keys, stale, axis=0, out=part, mode="clip")  # "raise" would buffer
        part.partition(k - 1, axis=1)  # partitioning at (k-1, k) at once measured 7x slower
        kth, next_up = part[:, k - 1], part[:, k:].min(axis=1)
        self._thresholds[stale] = (kth + (next_up - kth) // 2)[:, None]
        return stale[kth == next_up]
