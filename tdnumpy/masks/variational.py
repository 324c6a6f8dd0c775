"""Sparse variational dropout, one of the sparsifying baselines targeted
dropout is compared with.

Molchanov, Ashukha and Vetrov, "Variational Dropout Sparsifies Deep Neural
Networks" (ICML 2017). Each weight has a posterior N(theta, alpha theta^2),
parameterised by theta and log sigma^2 = log(alpha theta^2) (section 4.1,
additive reparameterisation), so that

    log alpha = log sigma^2 - log theta^2, clipped to [-8, 8];

a layer samples its pre-activations by the local reparameterisation trick
(Kingma, Salimans and Welling 2015): b = x theta + sqrt(x^2 (alpha theta^2)) eps,
eps ~ N(0, 1), one draw per output; the prior is log-uniform and the
negative KL divergence is approximated (eq. 14) by

    -KL ~ k1 sigmoid(k2 + k3 log alpha) - 0.5 log1p(exp(-log alpha)) - k1,
    k1, k2, k3 = 0.63576, 1.87320, 1.48695
    (within 0.0094 of the exact -KL for log alpha in [-8, 8], by quadrature:
    tests/masks/test_variational.py);

weights with log alpha > 3 are set to zero at evaluation (section 4.3).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .._validation import check_real
from ._select import check_floats

K1, K2, K3 = 0.63576, 1.87320, 1.48695
LOG_ALPHA_CLIP = 8.0
THRESHOLD = 3.0


def _check_pair(theta, log_sigma2, owner: str):
    """theta and log_sigma2 checked as finite float arrays of one shape."""
    theta = check_floats(theta, "theta", owner)
    s = check_floats(log_sigma2, "log_sigma2", owner)
    if s.shape != theta.shape:
        raise ValueError(f"The 'log_sigma2' parameter of {owner} must have theta's shape {theta.shape}. Got {s.shape}.")
    return theta, s


def vd_log_alpha(theta, log_sigma2):
    """log alpha = clip(log sigma^2 - log theta^2, -8, 8) and its partial derivatives.

    Parameters
    ----------
    theta : ndarray of float
        The weights' means.
    log_sigma2 : ndarray of float
        Their log variances, the shape of ``theta``.

    Returns
    -------
    log_alpha : ndarray
        The clipped log alpha (a zero theta gives +8).
    d_theta : ndarray
        d log_alpha / d theta = -2 / theta inside the clip, 0 outside.
    d_log_sigma2 : ndarray
        1 inside the clip, 0 outside.
    """
    theta, s = _check_pair(theta, log_sigma2, "vd_log_alpha")
    with np.errstate(divide="ignore"):
        raw = s - np.log(np.square(theta.astype(np.float64)))
    inside = np.abs(raw) < LOG_ALPHA_CLIP
    with np.errstate(divide="ignore"):
        d_theta = np.where(inside, -2.0 / np.where(theta == 0, 1, theta), 0.0)
    return (
        np.clip(raw, -LOG_ALPHA_CLIP, LOG_ALPHA_CLIP).astype(theta.dtype),
        d_theta.astype(theta.dtype),
        inside.astype(theta.dtype),
    )


def neg_kl(log_alpha):
    """Molchanov et al.'s approximation of -KL(q || p) per weight, and its derivative.

    Parameters
    ----------
    log_alpha : ndarray of float
        log alpha per weight.

    Returns
    -------
    value : ndarray
        k1 sigmoid(k2 + k3 log alpha) - 0.5 log1p(exp(-log alpha)) - k1 (0 as alpha -> inf).
    grad : ndarray
        k1 k3 s (1 - s) + 0.5 sigmoid(-log alpha), s = sigmoid(k2 + k3 log alpha).
    """
    a = check_floats(log_alpha, "log_alpha", "neg_kl").astype(np.float64)
    s = expit(K2 + K3 * a)
    value = K1 * s - 0.5 * np.logaddexp(0.0, -a) - K1
    return value, K1 * K3 * s * (1 - s) + 0.5 * expit(-a)


def vd_penalty(theta, log_sigma2):
    """KL(q || p) summed over the weights (the negative of :func:`neg_kl`), and its gradients.

    Parameters
    ----------
    theta : ndarray of float
        The weights' means.
    log_sigma2 : ndarray of float
        Their log variances.

    Returns
    -------
    value : float
        sum -neg_kl(log alpha).
    d_theta, d_log_sigma2 : ndarray
        Its gradients, through the clipped log alpha.
    """
    log_alpha, d_theta, d_sigma = vd_log_alpha(theta, log_sigma2)
    value, grad = neg_kl(log_alpha)
    return float(-value.sum()), (-grad * d_theta).astype(d_theta.dtype), (-grad * d_sigma).astype(d_theta.dtype)


def local_reparameterization(x, theta, log_sigma2, eps):
    """Pre-activations sampled from the weights' posterior, one noise draw per output.

    Parameters
    ----------
    x : ndarray, shape (batch, fan_in)
        Inputs (a convolution passes its patch matrix).
    theta, log_sigma2 : ndarray, shape (fan_in, units)
        The weights' means and log variances.
    eps : ndarray, shape (batch, units)
        Standard normal draws.

    Returns
    -------
    ndarray, shape (batch, units)
        x theta + sqrt(x^2 (alpha theta^2)) eps, alpha from the clipped log alpha.
    """
    owner = "local_reparameterization"
    x, eps = check_floats(x, "x", owner), check_floats(eps, "eps", owner)
    log_alpha = vd_log_alpha(theta, log_sigma2)[0]
    if x.ndim != 2 or x.shape[1] != theta.shape[0]:
        raise ValueError(
            f"The 'x' parameter of {owner} must have shape (batch, fan_in = {theta.shape[0]}). Got {x.shape} instead."
        )
    if eps.shape != (x.shape[0], theta.shape[1]):
        raise ValueError(
            f"The 'eps' parameter of {owner} must have shape (batch, units) = "
            f"{(x.shape[0], theta.shape[1])}. Got {eps.shape} instead."
        )
    variance = np.square(x) @ (np.exp(log_alpha) * np.square(theta))
    return x @ theta + np.sqrt(variance) * eps


def check_threshold(threshold: float, owner: str) -> float:
    """Return ``threshold`` as a float if it lies in the clip range [-8, 8] of log alpha.

    Parameters
    ----------
    threshold : float
        log alpha above which a weight is set to zero at evaluation.
    owner : str
        The calling function or class, for the message.

    Returns
    -------
    float
        The threshold.
    """
    return check_real(threshold, "threshold", owner, low=-LOG_ALPHA_CLIP, high=LOG_ALPHA_CLIP)


def keep_probability(theta, log_sigma2) -> np.ndarray:
    """1 / (1 + alpha), alpha = sigma^2 / theta^2 before any clip: the keep
    probability of the Bernoulli dropout whose Gaussian approximation has
    variance alpha (Molchanov et al., section 3), the weights' importance.

    Parameters
    ----------
    theta, log_sigma2 : ndarray of float
        The weights' means and log variances, one shape.

    Returns
    -------
    ndarray of float64
        sigmoid(log theta^2 - log sigma^2), 0 where theta = 0.
    """
    theta, s = _check_pair(theta, log_sigma2, "keep_probability")
    with np.errstate(divide="ignore"):
        return expit(np.log(np.square(theta.astype(np.float64))) - s)


def vd_keep(theta, log_sigma2, threshold: float = THRESHOLD) -> np.ndarray:
    """The weights kept at evaluation: log alpha <= threshold.

    Parameters
    ----------
    theta, log_sigma2 : ndarray of float
        The weights' means and log variances.
    threshold : float
        log alpha above which a weight is set to 0 (3 in the paper).

    Returns
    -------
    ndarray of bool
        True where kept.
    """
    threshold = check_threshold(threshold, "vd_keep")
    return vd_log_alpha(theta, log_sigma2)[0] <= threshold
