"""The conventions on which implementations of a selection rule legitimately differ.

A rule "select the bottom gamma fraction of N scores" (the targets of
targeted dropout, the weights magnitude pruning removes) leaves two choices
open, and published code makes them differently:

rounding, how many: k from the float64 product gamma N, as Python computes it
    ``"floor"``  k = floor(gamma N): the paper and its released code;
    ``"round"``  k = round(gamma N), half to even, as Python's ``round``
                 (``torch.nn.utils.prune`` uses it);
    ``"ceil"``   k = ceil(gamma N).

ties, which ones when scores tie at the k-th smallest value t
    ``"lower-index"``  exactly k, ties to the lower index (this library);
    ``"any"``          exactly k, any choice among the entries tied at t (a
                       ``topk`` or an unstable sort);
    ``"strict"``       score < s_(k+1), the (k+1)-th smallest (all for k = N):
                       entries tied at the boundary are not selected, so
                       fewer than k may be (the released TensorFlow code);
    ``"inclusive"``    score <= t (none for k = 0): all ties at t are
                       selected, so more than k may be.

On scores without ties all four select the same k entries. What a
convention allows is an :class:`Expected` selection; :func:`expected`
computes it for one group of scores (a column, a layer, a union of layers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import masks

ROUNDINGS = ("floor", "round", "ceil")
TIES = ("lower-index", "any", "strict", "inclusive")


def count(n: int, fraction: float, rounding: str) -> int:
    """k, the number of the n candidates a fraction selects under ``rounding``.

    Parameters
    ----------
    n : int
        The number of candidates N.
    fraction : float
        gamma (or the pruning fraction f), in [0, 1].
    rounding : {"floor", "round", "ceil"}
        How the float64 product fraction * n becomes an int.

    Returns
    -------
    int
        k, between 0 and n.
    """
    product = float(fraction) * n
    rules: dict[str, Callable[[float], int]] = {"floor": math.floor, "round": round, "ceil": math.ceil}
    k = rules[rounding](product)
    return min(max(int(k), 0), n)


@dataclass(frozen=True)
class Expected:
    """The selections a convention allows in one group of scores.

    A selection S is allowed when must <= S <= may (entry-wise) and, if
    ``size`` is not None, S has exactly ``size`` entries.

    Parameters
    ----------
    must : ndarray of bool, shape (n,)
        Entries every allowed selection holds.
    may : ndarray of bool, shape (n,)
        Entries an allowed selection may hold.
    size : int or None
        The exact size of an allowed selection, where must and may leave a choice.
    """

    must: np.ndarray
    may: np.ndarray
    size: int | None = None

    @property
    def exact(self) -> bool:
        """Whether exactly one selection is allowed.

        Returns
        -------
        bool
            True when must and may agree.
        """
        return bool(np.array_equal(self.must, self.may))

    def violations(self, selected: np.ndarray, known: np.ndarray | None = None) -> list[str]:
        """What is wrong with ``selected``, one phrase per kind of error.

        Parameters
        ----------
        selected : ndarray of bool, shape (n,)
            The selection to judge.
        known : ndarray of bool, shape (n,), optional
            Where ``selected`` was observed; elsewhere it is ignored (and the
            size is then not checked). All entries if None.

        Returns
        -------
        list of str
            Empty when the selection is allowed.
        """
        known = np.ones(selected.shape, bool) if known is None else known
        found = []
        missing = np.flatnonzero(self.must & ~selected & known)
        extra = np.flatnonzero(selected & ~self.may & known)
        if len(missing):
            found.append(f"did not select {_few(missing)}, which every allowed selection holds")
        if len(extra):
            found.append(f"selected {_few(extra)}, which no allowed selection holds")
        if self.size is not None and known.all() and selected.sum() != self.size:
            found.append(f"selected {int(selected.sum())} entries, not exactly {self.size}")
        return found


def _few(indices: np.ndarray) -> str:
    shown = ", ".join(str(i) for i in indices[:6])
    return f"entry {shown}" if len(indices) == 1 else f"entries {shown}{', ...' if len(indices) > 6 else ''}"


def expected(scores: np.ndarray, k: int, ties: str) -> Expected:
    """The selections of the k smallest ``scores`` that ``ties`` allows.

    Parameters
    ----------
    scores : ndarray of shape (n,), real
        Exact scores (|w| as float64, or exact unit ranks); equal values tie.
    k : int
        How many to select, 0 <= k <= n.
    ties : {"lower-index", "any", "strict", "inclusive"}
        The tie convention (see the module docstring).

    Returns
    -------
    Expected
        The allowed selections.
    """
    n = len(scores)
    if ties == "lower-index" or k in (0, n) and ties != "strict":
        chosen = masks.bottom_k(scores, k)  # the reference's own selection: ties to the lower index
        return Expected(chosen, chosen)
    ranked = np.sort(scores)
    if ties == "strict":
        chosen = np.ones(n, bool) if k == n else scores < ranked[k]
        return Expected(chosen, chosen)
    threshold = ranked[k - 1]
    if ties == "inclusive":
        chosen = scores <= threshold
        return Expected(chosen, chosen)
    return Expected(scores < threshold, scores <= threshold, k)
