"""L0 regularisation with hard-concrete gates, one of the sparsifying
baselines targeted dropout is compared with.

Louizos, Welling and Kingma, "Learning Sparse Neural Networks through L0
Regularization" (ICLR 2018), section 3. Each weight (or unit) theta_j is
multiplied by a gate z_j in [0, 1] with a learnt location log_alpha_j. With
temperature beta and stretch (gamma, zeta), gamma < 0 < 1 < zeta:

    u ~ U(0, 1)
    s = sigmoid((log u - log(1 - u) + log_alpha) / beta)       (eq. 10)
    z = min(1, max(0, s (zeta - gamma) + gamma))
    L0 = sum_j sigmoid(log_alpha_j - beta log(-gamma / zeta))  (eq. 12: P(z_j != 0))
    z_test = min(1, max(0, sigmoid(log_alpha) (zeta - gamma) + gamma))   (eq. 13)

Their defaults, used here: beta = 2/3, (gamma, zeta) = (-0.1, 1.1). Each
function returns its derivative with respect to log_alpha beside its value,
for the hand-written backward passes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .._docs import shared_docstring
from .._validation import check_generator, check_real
from ._select import check_floats

BETA, GAMMA, ZETA = 2.0 / 3.0, -0.1, 1.1


def check_stretch(beta: float, gamma: float, zeta: float, owner: str) -> tuple[float, float, float]:
    """Return (beta, gamma, zeta) as floats if beta > 0 and gamma < 0 < 1 < zeta.

    Parameters
    ----------
    beta : float
        The temperature.
    gamma, zeta : float
        The stretch interval (gamma, zeta).
    owner : str
        The calling function, for the message.

    Returns
    -------
    tuple of float
        The three values.
    """
    beta = check_real(beta, "beta", owner, low=0.0, closed="neither")
    gamma = check_real(gamma, "gamma", owner, high=0.0, closed="neither")
    zeta = check_real(zeta, "zeta", owner, low=1.0, closed="neither")
    return beta, gamma, zeta


def check_init_drop(init_drop: float, owner: str) -> float:
    """Return ``init_drop`` as a float if it lies in (0, 1).

    Parameters
    ----------
    init_drop : float
        The drop probability log_alpha starts at, log_alpha = log((1 - p) / p).
    owner : str
        The calling class, for the message.

    Returns
    -------
    float
        The value.
    """
    return check_real(init_drop, "init_drop", owner, low=0.0, high=1.0, closed="neither")


# The gates' parameters, the same in every function here (log_alpha opens the Parameters section).
_LOG_ALPHA = """
    Parameters
    ----------
    log_alpha : ndarray of float16, float32 or float64
        The gates' locations, any shape; finite.
    """
_STRETCH = """
    beta : float
        The temperature, > 0.
    gamma, zeta : float
        The stretch, gamma < 0 < 1 < zeta.
    """


@shared_docstring(log_alpha=_LOG_ALPHA, stretch=_STRETCH)
def hard_concrete_gate(log_alpha, u, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA):
    """The gate z a uniform draw u gives, and dz / dlog_alpha.

    The arithmetic is in float64 (a float32 u close to 1 would round to 1);
    the results take the dtype of ``log_alpha``.

    {{log_alpha}}
    u : array_like of float
        Uniform draws in (0, 1), the shape of ``log_alpha``.
    {{stretch}}

    Returns
    -------
    z : ndarray
        min(1, max(0, s (zeta - gamma) + gamma)), s = sigmoid((log u - log(1 - u) + log_alpha) / beta).
    dz : ndarray
        (zeta - gamma) s (1 - s) / beta where the stretched s lies inside (0, 1), else 0.
    """
    beta, gamma, zeta = check_stretch(beta, gamma, zeta, "hard_concrete_gate")
    a = check_floats(log_alpha, "log_alpha", "hard_concrete_gate")
    u = check_floats(u, "u", "hard_concrete_gate").astype(np.float64, copy=False)
    if u.shape != a.shape or not ((u > 0) & (u < 1)).all():
        raise ValueError(
            f"The 'u' parameter of hard_concrete_gate must hold draws in (0, 1), shaped like "
            f"log_alpha {a.shape}. Got shape {u.shape}."
        )
    s = expit((np.log(u) - np.log1p(-u) + a.astype(np.float64)) / beta)
    stretched = s * (zeta - gamma) + gamma
    inside = (stretched > 0) & (stretched < 1)
    dz = np.where(inside, (zeta - gamma) * s * (1 - s) / beta, 0.0)
    return np.clip(stretched, 0, 1).astype(a.dtype), dz.astype(a.dtype)


@shared_docstring(log_alpha=_LOG_ALPHA, stretch=_STRETCH)
def hard_concrete_sample(
    log_alpha, rng: np.random.Generator, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA
):
    """Draw the training-time gates: :func:`hard_concrete_gate` at u ~ U(0, 1).

    {{log_alpha}}
    rng : numpy.random.Generator
        The source of u, one float64 draw per gate (0, which ``random`` can
        return, is moved to the smallest positive float64).
    {{stretch}}

    Returns
    -------
    z, dz : ndarray
        As :func:`hard_concrete_gate`.
    """
    rng = check_generator(rng, "rng", "hard_concrete_sample")
    a = check_floats(log_alpha, "log_alpha", "hard_concrete_sample")
    u = np.maximum(rng.random(a.shape), np.finfo(np.float64).tiny)
    return hard_concrete_gate(a, u, beta, gamma, zeta)


@shared_docstring(log_alpha=_LOG_ALPHA, stretch=_STRETCH)
def hard_concrete_mean(log_alpha, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA) -> np.ndarray:
    """The deterministic gate at evaluation, min(1, max(0, sigmoid(log_alpha) (zeta - gamma) + gamma)).

    beta is checked with the others but the test-time gate does not use it.

    {{log_alpha}}
    {{stretch}}

    Returns
    -------
    ndarray
        The gates, in [0, 1]; exactly 0 where sigmoid(log_alpha) <= -gamma / (zeta - gamma).
    """
    beta, gamma, zeta = check_stretch(beta, gamma, zeta, "hard_concrete_mean")
    a = check_floats(log_alpha, "log_alpha", "hard_concrete_mean")
    return np.clip(expit(a) * (zeta - gamma) + gamma, 0, 1).astype(a.dtype)


@shared_docstring(log_alpha=_LOG_ALPHA, stretch=_STRETCH)
def hard_concrete_mean_grad(log_alpha, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA) -> np.ndarray:
    """d/dlog_alpha of :func:`hard_concrete_mean`: (zeta - gamma) sigma (1 - sigma) where the
    stretched sigma = sigmoid(log_alpha) lies inside (0, 1), else 0.

    {{log_alpha}}
    {{stretch}}

    Returns
    -------
    ndarray
        The derivative, in the dtype of ``log_alpha``.
    """
    beta, gamma, zeta = check_stretch(beta, gamma, zeta, "hard_concrete_mean_grad")
    a = check_floats(log_alpha, "log_alpha", "hard_concrete_mean_grad")
    s = expit(a.astype(np.float64))
    stretched = s * (zeta - gamma) + gamma
    return np.where((stretched > 0) & (stretched < 1), (zeta - gamma) * s * (1 - s), 0.0).astype(a.dtype)


@shared_docstring(log_alpha=_LOG_ALPHA, stretch=_STRETCH)
def l0_penalty(log_alpha, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA):
    """The expected number of non-zero gates and its gradient.

    {{log_alpha}}
    {{stretch}}

    Returns
    -------
    value : float
        sum_j sigmoid(log_alpha_j - beta log(-gamma / zeta)).
    grad : ndarray
        sigma (1 - sigma), elementwise, with sigma the summand.
    """
    p = nonzero_probability(log_alpha, beta, gamma, zeta)
    return float(p.sum()), (p * (1 - p)).astype(np.asarray(log_alpha).dtype)


@shared_docstring(log_alpha=_LOG_ALPHA, stretch=_STRETCH)
def nonzero_probability(log_alpha, beta: float = BETA, gamma: float = GAMMA, zeta: float = ZETA) -> np.ndarray:
    """P(z != 0) per gate, sigmoid(log_alpha - beta log(-gamma / zeta)) (eq. 12's summand).

    {{log_alpha}}
    {{stretch}}

    Returns
    -------
    ndarray of float64
        The probabilities, the shape of ``log_alpha``.
    """
    beta, gamma, zeta = check_stretch(beta, gamma, zeta, "nonzero_probability")
    a = check_floats(log_alpha, "log_alpha", "nonzero_probability")
    return expit(a.astype(np.float64) - beta * np.log(-gamma / zeta))
