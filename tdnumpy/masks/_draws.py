"""Bernoulli events drawn a byte at a time, from the generator's raw bits.

The masks draw one event per weight or unit at every training step, so the
draws are most of a mask's cost; :func:`bernoulli` uses about a quarter of
the random bits that full 32-bit uniforms would, with the same law.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_generator, check_real
from ._select import check_shape


def uniform_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n independent uniform bytes (uint8) from the generator's bit stream.

    NumPy's 64-bit bit generators (PCG64, the default, PCG64DXSM, Philox,
    SFC64) give eight bytes per raw output (``random_raw``), the cheapest
    random bits NumPy offers; any other bit generator (MT19937 fills only 32
    of its 64 raw bits) is served by ``rng.integers``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of the bits.
    n : int
        How many bytes, 0 <= n <= 2**31.

    Returns
    -------
    ndarray of shape (n,), uint8
        The bytes.
    """
    (n,) = check_shape(n, "uniform_bytes", "n")
    return _uniform_bytes(check_generator(rng, "rng", "uniform_bytes"), n)


def _uniform_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """:func:`uniform_bytes` without the argument checks (the draws' hot path)."""
    if isinstance(rng.bit_generator, _SIXTY_FOUR_BIT):
        return rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n]
    return rng.integers(0, 256, n, dtype=np.uint8)


_SIXTY_FOUR_BIT = (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64)


def bernoulli(rng: np.random.Generator, p: float, shape) -> np.ndarray:
    """Independent Bernoulli events d, drawn a byte at a time.

    Each has probability P = t / 2^32, t = round(p 2^32) (within 1.2e-10 of
    p; exactly 0 and 1 at the ends); they fill ``shape`` in C order.

    Each event is d = [u < t] for a uniform 32-bit integer u, drawn a byte at a
    time and only as far as needed. Write u = 2^24 u_hi + u_lo and
    t = 2^24 t_hi + t_lo: the top byte u_hi decides (d = [u_hi < t_hi]) unless
    it equals t_hi, and only then, with probability 1/256, are the 24 low bits
    u_lo drawn (d = [u_lo < t_lo]). So

        P(d) = t_hi / 256 + (1/256) (t_lo / 2^24) = t / 2^32,

    the same law as full 32-bit draws from about a quarter of the random bits
    (the draws dominate the cost of a mask). When t_lo = 0, as for p = 1/4 or
    3/4, no low bits are needed at all; for p = 1/2 (t = 2^31), the paper's
    usual alpha, the top bit alone decides, d = [top bit of u = 0], one random
    bit per event. p = 0 and p = 1 draw nothing.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of the draws.
    p : float
        The probability of an event, in [0, 1].
    shape : int or tuple of int
        The shape of the result.

    Returns
    -------
    d : ndarray of bool, shape ``shape``
        True where the event occurred.
    """
    p = check_real(p, "p", "bernoulli", low=0, high=1)
    no_event = bernoulli_complement(check_generator(rng, "rng", "bernoulli"), p, check_shape(shape, "bernoulli"))
    return np.logical_not(no_event, out=no_event)


def bernoulli_complement(rng: np.random.Generator, p: float, shape) -> np.ndarray:
    """[u >= t] for the u and t of :func:`bernoulli`: the same draws, negated.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of the draws; not checked here.
    p : float
        The probability of an event, in [0, 1]; not checked here.
    shape : tuple of int
        The shape of the result.

    Returns
    -------
    ndarray of bool, shape ``shape``
        True where no event occurred (probability 1 - P).
    """
    n = math.prod(shape)
    threshold = round(p * 2**32)
    if threshold == 0:
        return np.ones(shape, bool)
    if threshold >= 2**32:
        return np.zeros(shape, bool)
    if threshold == 2**31:  # p = 1/2: the top bit of u alone decides
        return np.unpackbits(_uniform_bytes(rng, -(-n // 8)), count=n).view(bool).reshape(shape)
    t_hi, t_lo = divmod(threshold, 2**24)
    u_hi = _uniform_bytes(rng, n)
    no_event = u_hi >= np.uint8(t_hi)
    if t_lo:
        tied = np.flatnonzero(u_hi == np.uint8(t_hi))
        b = _uniform_bytes(rng, 3 * len(tied)).reshape(-1, 3).astype(np.uint32)
        u_lo = (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]
        no_event[tied] = u_lo >= t_lo
    return no_event.reshape(shape)
