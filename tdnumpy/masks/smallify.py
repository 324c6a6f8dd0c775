"""Smallify's switch layers, one of the sparsifying baselines targeted
dropout is compared with.

Leclerc, Vartak, Fernandez, Kraska and Madden, "Smallify: Learning Network
Size while Training" (2018). Each unit's output is multiplied by a learnt
switch beta_u; an L1 penalty lambda sum |beta_u| drives switches to 0; and a
unit whose switch keeps changing sign is removed for good. The sign's
exponential moving average and the moving average of its squared deviation,
with momentum mu,

    m_t = mu m_(t-1) + (1 - mu) sign(beta_t)
    v_t = mu v_(t-1) + (1 - mu) (sign(beta_t) - m_t)^2,

mark unit u removed once v_t > threshold. A switch that keeps its sign has
v -> 0; one that flips at every step has |m| -> (1 - mu) / (1 + mu) and
v -> (2 mu / (1 + mu))^2, close to 1; v never exceeds 4, so the threshold
lies in (0, 4).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_real
from ._select import check_floats


def switch_penalty(beta, strength: float):
    """lambda sum |beta| and its subgradient lambda sign(beta) (0 at 0).

    Parameters
    ----------
    beta : ndarray of float
        The switches, one per unit.
    strength : float
        lambda >= 0.

    Returns
    -------
    value : float
        The penalty.
    grad : ndarray
        Its gradient with respect to ``beta``.
    """
    strength = check_real(strength, "strength", "switch_penalty", low=0.0)
    b = check_floats(beta, "beta", "switch_penalty")
    return strength * float(np.abs(b.astype(np.float64)).sum()), (strength * np.sign(b)).astype(b.dtype)


def check_rule(momentum: float, threshold: float, owner: str) -> tuple[float, float]:
    """Return the sign-variance rule's (momentum, threshold) as floats if
    momentum lies in [0, 1) and threshold in (0, 4).

    Parameters
    ----------
    momentum : float
        mu of the moving averages.
    threshold : float
        The variance above which a unit is removed.
    owner : str
        The calling function or class, for the message.

    Returns
    -------
    tuple of float
        The two values.
    """
    momentum = check_real(momentum, "momentum", owner, low=0.0, high=1.0, closed="left")
    threshold = check_real(threshold, "threshold", owner, low=0.0, high=4.0, closed="neither")
    return momentum, threshold


def sign_variance_step(beta, mean, variance, momentum: float, threshold: float):
    """One step of the sign-variance rule.

    Parameters
    ----------
    beta : ndarray of float, shape (units,)
        The switches after this step's update.
    mean, variance : ndarray of float, shape (units,)
        m_(t-1) and v_(t-1) (zeros before the first step).
    momentum : float
        mu, in [0, 1).
    threshold : float
        The variance above which a unit is removed, in (0, 4).

    Returns
    -------
    mean, variance : ndarray
        m_t and v_t (new arrays).
    remove : ndarray of bool
        v_t > threshold.
    """
    momentum, threshold = check_rule(momentum, threshold, "sign_variance_step")
    b, m, v = (
        check_floats(a, name, "sign_variance_step").astype(np.float64, copy=False)
        for a, name in ((beta, "beta"), (mean, "mean"), (variance, "variance"))
    )
    if not b.shape == m.shape == v.shape or b.ndim != 1:
        raise ValueError(
            f"sign_variance_step takes beta, mean and variance of one shape (units,). Got "
            f"{b.shape}, {m.shape} and {v.shape}."
        )
    s = np.sign(b)
    m = momentum * m + (1 - momentum) * s
    v = momentum * v + (1 - momentum) * np.square(s - m)
    return m, v, v > threshold
