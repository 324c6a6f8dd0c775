"""Binomial tests for masks drawn again and again: the statistical properties of the kit.

A mask element dropped with probability p, drawn D times independently, is
dropped X ~ Binomial(D, p) times. The exact equal-tailed interval
[lo, hi] = :func:`scipy.stats.binom.interval` at level 1 - r holds X with
probability at least 1 - r, so a correct implementation fails a test at rate
r at most. Tests over m elements share r by Bonferroni: each element at
r / m, so all m together fail with probability at most r. A check that makes
T such tests at r = R / T each has false-alarm rate at most R.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from .report import PropertyFailure


def check_total(dropped: int, trials: int, p: float, rate: float, what: str):
    """The total number of drops over ``trials`` Bernoulli(p) draws, within its interval.

    Parameters
    ----------
    dropped : int
        The observed number of drops.
    trials : int
        The number of draws (elements times calls).
    p : float
        The drop probability of each.
    rate : float
        The false-alarm rate of this test.
    what : str
        The configuration, for the message.

    Raises
    ------
    PropertyFailure
        If ``dropped`` lies outside the interval.
    """
    lo, hi = binom.interval(1 - rate, trials, p)
    if not lo <= dropped <= hi:
        raise PropertyFailure(
            f"dropped {dropped / trials:.5f} of {trials} draws, expected {p:.5f} "
            f"(interval {lo / trials:.5f}..{hi / trials:.5f} at false-alarm rate {rate:.1e}); "
            f"{what}"
        )


def check_each(counts: np.ndarray, draws: int, p: float, rate: float, what: str):
    """Every element's drop count over ``draws`` calls, within its Bonferroni interval.

    Parameters
    ----------
    counts : ndarray of int
        The drops of each element that should be dropped with probability p
        (only those: elements never to be dropped are checked elsewhere).
    draws : int
        The number of calls.
    p : float
        The drop probability of each element.
    rate : float
        The false-alarm rate of the whole family (r / m per element).
    what : str
        The configuration, for the message.

    Raises
    ------
    PropertyFailure
        If some element's count lies outside its interval.
    """
    m = counts.size
    if m == 0:
        return
    lo, hi = binom.interval(1 - rate / m, draws, p)
    bad = np.flatnonzero((counts < lo) | (counts > hi))
    if len(bad):
        shown = ", ".join(f"{counts.flat[i] / draws:.3f}" for i in bad[:5])
        raise PropertyFailure(
            f"{len(bad)} of {m} elements are dropped at the wrong rate: frequencies {shown}"
            f"{', ...' if len(bad) > 5 else ''} where each should be {p:.3f} "
            f"(interval {lo / draws:.3f}..{hi / draws:.3f} over {draws} calls); {what}"
        )


def check_spread(per_call: np.ndarray, m: int, p: float, rate: float, what: str):
    """The number of drops in each call, spread as independent drops spread it.

    With m elements dropped independently with probability p, a call drops
    X ~ Binomial(m, p) of them. Let [a, b] be the quartiles of that law and
    q = P(a <= X <= b). Calls are independent, so the number of calls whose
    count falls in [a, b] is Binomial(D, q): too many shows drops tied to one
    another negatively (the same number dropped every call), too few
    positively (elements dropped together). Per-element frequencies cannot
    see either.

    Parameters
    ----------
    per_call : ndarray of int, shape (D,)
        The number of the m elements dropped in each call.
    m : int
        The number of elements.
    p : float
        Their drop probability, in (0, 1).
    rate : float
        The false-alarm rate of this test.
    what : str
        The configuration, for the message.

    Raises
    ------
    PropertyFailure
        If the number of calls in [a, b] lies outside its interval.
    """
    a, b = binom.ppf(0.25, m, p), binom.ppf(0.75, m, p)
    q = binom.cdf(b, m, p) - binom.cdf(a - 1, m, p)
    inside = int(np.count_nonzero((per_call >= a) & (per_call <= b)))
    lo, hi = binom.interval(1 - rate, len(per_call), q)
    if not lo <= inside <= hi:
        raise PropertyFailure(
            f"{inside} of {len(per_call)} calls dropped between {a:.0f} and {b:.0f} of the {m} "
            f"elements; independent drops put {q * len(per_call):.0f} there (interval {lo:.0f}.."
            f"{hi:.0f} at false-alarm rate {rate:.1e}): the drops are not independent "
            f"(per-call counts ranged {per_call.min()}..{per_call.max()}, variance "
            f"{per_call.var():.1f} against {m * p * (1 - p):.1f}); {what}"
        )


def random_pairs(elements: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random pairs of ``elements`` (one left out if their number is odd).

    Parameters
    ----------
    elements : ndarray of int
        The flat indices to pair.
    rng : numpy.random.Generator
        The source of the pairing.

    Returns
    -------
    first, second : ndarray of int
        The pairs' two members, index by index.
    """
    shuffled = rng.permutation(elements)[: len(elements) // 2 * 2]
    return shuffled[0::2], shuffled[1::2]


def check_pairs(discordant: int, trials: int, p: float, rate: float, what: str):
    """Pairs of elements dropped one without the other, as often as independent drops are.

    Split the elements into disjoint random pairs. Independent drops leave
    exactly one of a pair dropped with probability 2 p (1 - p), in every pair
    and call alike, so over P pairs and D calls the count is Binomial(P D,
    2 p (1 - p)). Elements dropped together (one mask per feature map or per
    row) make it too small; elements dropped in turn, too large.

    Parameters
    ----------
    discordant : int
        The number of (pair, call) where exactly one of the pair was dropped.
    trials : int
        P D.
    p : float
        The elements' drop probability.
    rate : float
        The false-alarm rate of this test.
    what : str
        The configuration, for the message.

    Raises
    ------
    PropertyFailure
        If the count lies outside its interval.
    """
    q = 2 * p * (1 - p)
    lo, hi = binom.interval(1 - rate, trials, q)
    if not lo <= discordant <= hi:
        raise PropertyFailure(
            f"in {discordant / trials:.4f} of {trials} (pair, call) exactly one element of a random "
            f"pair was dropped, where independent drops give {q:.4f} (interval {lo / trials:.4f}.."
            f"{hi / trials:.4f} at false-alarm rate {rate:.1e}): the drops are not independent; "
            f"{what}"
        )


def detectable_shift(draws: int, p: float, rate: float, power: float = 0.99) -> float:
    """The smallest change of an element's drop probability found with probability ``power``.

    The power the checks' docstrings state (a test pins them to it): an element dropped with
    probability p + d (or p - d), d at least this, falls outside its
    interval with probability at least ``power``.

    Parameters
    ----------
    draws : int
        The number of calls.
    p : float
        The correct probability.
    rate : float
        The false-alarm rate of the test of this element.
    power : float, default=0.99
        The detection probability wanted.

    Returns
    -------
    float
        d, to 0.001.
    """
    lo, hi = binom.interval(1 - rate, draws, p)
    for d in np.arange(0.001, 1.0, 0.001):
        up = binom.sf(hi, draws, min(p + d, 1.0))
        down = binom.cdf(lo - 1, draws, max(p - d, 0.0))
        if min(up if p + d <= 1 else 1.0, down if p - d >= 0 else 1.0) >= power:
            return float(d)
    return 1.0
