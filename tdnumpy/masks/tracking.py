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
whatever the tie rule. The tracker keeps one such t per column, in the gap
between the k-th and (k+1)-th smallest key. A step then costs one comparison
pass and one count per column; only the columns whose count c is not k (some
weight crossed t) need a new threshold.

Where c - k is small, the new k-th and (k+1)-th keys are among the few
nearest to t on one side, and a few passes of minima over those columns find
them without ranking (see :meth:`WeightTargetTracker._repair`); the others
are ranked again, by a partition of just those columns that also gives each a
new gap. A new threshold is kept only where exactly k keys lie at or below
it, so each shortcut is checked by the very argument above. A column whose
k-th and (k+1)-th smallest magnitudes are equal has no gap; it is ranked
exactly by :func:`tdnumpy.masks.bottom_k` (ties to the lower index) until the
tie is gone.

In LeNet-300-100 training at batch 128 and learning rate 0.05, about 42% of
the columns of the first layer need a new threshold at each step: 36% with
|c - k| = 1, 6% with |c - k| = 2 and 1% with more; all of them whenever gamma
changes (a ramp). Repairing them instead of ranking them took the tracker's
step on that layer from 0.64 to 0.47 ms (median of 15 alternating runs over
recorded training weights); a whole training epoch gains less (0.95, in the
noise of this machine), its passes waiting on memory more than on work. The
tracker keeps its work arrays from step to step: fresh megabyte-sized
temporaries cost page faults at every step. Thresholds are kept as a (units,
1) column: a same-shape array of thresholds (each repeated along its row)
compared twice as fast with the data in cache, but measured no faster, in
the tracker or in training, once the repair had removed most ranking, and
cost one more weight-sized array to read at every step. Matrices of at most
``direct_size`` entries (16384 by default, which covers LeNet-300-100's 100 x
10 output layer) are simply ranked afresh: there one partition costs less
than the bookkeeping.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_real
from ._select import abs_transposed, bottom_k_rows, check_weight, n_targets, raise_not_finite, row_counts


# The largest |c - k| for which a column's threshold is repaired instead of ranked.
MAX_SHIFT = 2


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
    direct_size : int, default=16384
        Matrices of at most this many entries are ranked afresh at every step
        instead of tracked (0: always track).
    repair_size : int, default=32768
        The columns whose count moved (by at most ``MAX_SHIFT``) are repaired
        only when all the columns whose count moved hold at least this many
        entries together; else they are ranked, which then costs less than
        the repair's dozen NumPy calls (0: always repair).

    Attributes
    ----------
    reranked : int
        How many columns the last call ranked afresh: all of them on the first
        call, whenever the shape, dtype or k changes and for matrices of at
        most ``direct_size`` entries; none when k = 0 or k >= fan_in (nothing
        to rank).
    repaired : int
        How many columns the last call gave a new threshold without ranking.
    """

    def __init__(self, direct_size: int = 16384, repair_size: int = 2**15):
        self.direct_size = check_int(direct_size, "direct_size", type(self).__name__, low=0)
        self.repair_size = check_int(repair_size, "repair_size", type(self).__name__, low=0)
        self._layout: tuple | None = None
        self._tracking = False
        self.reranked = self.repaired = 0

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
        self.reranked = self.repaired = 0
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
            counts = row_counts(selected)
            stale = (counts != k).nonzero()[0]
            if len(stale) * fan_in >= self.repair_size:
                stale = self._repair(keys, stale, counts[stale].astype(np.intp) - k, k)
            if len(stale) == 0:
                return selected
        self.reranked = len(stale)
        tied = self._rethreshold(keys, stale, k)
        self._tracking = True  # only now does every row hold its threshold
        if len(stale) * 8 >= units:  # one full pass: no slower than gather, compare, scatter
            np.less_equal(keys, self._thresholds, out=selected)
        else:
            selected[stale] = keys[stale] <= self._thresholds[stale]
        if len(tied):
            selected[tied] = bottom_k_rows(keys[tied], k)
        return selected

    def _allocate(self, w: np.ndarray, k: int) -> None:
        fan_in, units = w.shape
        self._layout = None  # set last, so that a failed allocation leaves no half-made state
        self._tracking = False
        self._magnitudes = np.empty((units, fan_in), w.dtype)
        self._selected = np.empty((units, fan_in), bool)
        self._thresholds = np.empty((units, 1), f"u{w.itemsize}")
        self._scratch = np.empty((units, fan_in), f"u{w.itemsize}")
        self._candidates = np.empty((units, fan_in), f"u{w.itemsize}")
        self._flags = np.empty((units, fan_in), bool)
        self._largest_finite = np.array(np.finfo(w.dtype).max, w.dtype).view(self._thresholds.dtype)
        self._layout = (w.shape, w.dtype, k)

    def _repair(self, keys: np.ndarray, stale: np.ndarray, shift: np.ndarray, k: int) -> np.ndarray:
        """New thresholds, found without ranking, for the ``stale`` rows whose
        count c moved by at most ``MAX_SHIFT`` (``shift`` = c - k); returns the
        rows left for :meth:`_rethreshold`.

        Let t be a row's old threshold and d = c - k. With d > 0 the new k-th
        and (k+1)-th smallest keys are the (d+1)-th and d-th largest at or
        below t; with d < 0, the |d|-th and (|d|+1)-th smallest above t. As
        b-bit unsigned differences, g = t - key for d > 0 and g = key - t - 1
        for d < 0, the |d| + 1 keys nearest t on that side have the smallest
        g of their row, and every key on the other side of t wraps round to
        g >= 2^(b-1) (keys have no sign bit). :func:`smallest_distinct` finds
        the |d| + 1 smallest distinct g. The midpoint of the new k-th and
        (k+1)-th keys is kept where exactly k keys lie at or below it; where
        that fails (two of those |d| + 1 keys are equal, so the distinct
        values skip one) the row is ranked.
        """
        up, down = (shift > 0) & (shift <= MAX_SHIFT), (shift < 0) & (shift >= -MAX_SHIFT)
        rows, d = np.concatenate([stale[up], stale[down]]), np.concatenate([shift[up], -shift[down]])
        n, n_up, one = len(rows), np.count_nonzero(up), keys.dtype.type(1)
        if n == 0:
            return stale
        part, gaps = self._scratch[:n], self._candidates[:n]
        np.take(keys, rows, axis=0, out=part, mode="clip")
        t = self._thresholds[rows, 0]
        np.subtract(t[:, None], part, out=gaps)  # t - key
        np.invert(gaps[n_up:], out=gaps[n_up:])  # key - t - 1
        smallest = smallest_distinct(gaps, d + 1)
        at = np.arange(n)
        nearer, farther = smallest[d - 1, at], smallest[d, at]  # the |d|-th and (|d|+1)-th smallest g
        kth, next_up = t - farther, t - nearer
        kth[n_up:], next_up[n_up:] = (t + nearer + one)[n_up:], (t + farther + one)[n_up:]
        threshold = kth + (next_up - kth) // 2
        flags = self._flags[:n]
        np.less_equal(part, threshold[:, None], out=flags)
        exact = row_counts(flags) == k
        repaired = rows[exact]
        self._thresholds[repaired] = threshold[exact, None]
        self._selected[repaired] = flags[exact]
        self.repaired = len(repaired)
        left = np.ones(len(keys), bool)
        left[repaired] = False
        return stale[left[stale]]

    def _rethreshold(self, keys: np.ndarray, stale: np.ndarray, k: int) -> np.ndarray:
        """Rank the ``stale`` rows again; set each one's threshold to the midpoint
        of its gap and return the rows that have no gap (k-th = (k+1)-th key)."""
        part = self._scratch[: len(stale)]
        np.take(keys, stale, axis=0, out=part, mode="clip")  # "raise" would buffer
        part.partition(k - 1, axis=1)  # partitioning at (k-1, k) at once measured 7x slower
        kth, next_up = part[:, k - 1], part[:, k:].min(axis=1)
        self._thresholds[stale] = (kth + (next_up - kth) // 2)[:, None]
        return stale[kth == next_up]


def smallest_distinct(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The ``counts[i]`` smallest distinct values of each row i of an unsigned array.

    Row by row: take the minimum, subtract it plus one from every value
    (modulo 2^b) and repeat; each value found is a minimum plus everything
    subtracted before it. After the value f is found, f + 1 has been
    subtracted in all: the values up to f have wrapped round to 2^b - 1 - f
    or above, and the others have kept their order. So while the values
    sought are below 2^(b-1), every value not yet found stays below every
    value found and every value that started at 2^(b-1) or above, and each
    minimum is the next value sought.

    Parameters
    ----------
    values : ndarray of shape (n, m), unsigned
        The rows; overwritten.
    counts : ndarray of int, shape (n,)
        How many values each row needs, from 1 to ``MAX_SHIFT`` + 1.

    Returns
    -------
    ndarray of shape (MAX_SHIFT + 1, n), values' dtype
        Entry [j, i], for j < counts[i]: the (j+1)-th smallest distinct value
        of row i if that is below 2^(b-1), else meaningless (the caller
        checks); 0 for j >= counts[i].
    """
    one = values.dtype.type(1)
    found = np.zeros((MAX_SHIFT + 1, len(values)), values.dtype)
    live, offset = np.arange(len(values)), values.dtype.type(0)
    for j in range(MAX_SHIFT + 1):
        least = values.min(axis=1)
        found[j, live] = least + offset
        going_on = counts[live] > j + 1
        if not going_on.any():
            break
        if not going_on.all():
            live, values, least = live[going_on], values[going_on], least[going_on]
        offset = found[j, live] + one
        np.subtract(values, (least + one)[:, None], out=values)
    return found
