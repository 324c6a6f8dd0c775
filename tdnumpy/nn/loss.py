"""Softmax cross-entropy with its fused gradient."""

from __future__ import annotations

import numpy as np

from .._validation import check_array, check_int, check_labels


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log softmax of each row, computed without overflow.

    log softmax(z)_c = z_c - m - log sum_k exp(z_k - m), with m = max_k z_k.

    Subtracting the row maximum m (the log-sum-exp trick) keeps every exp()
    argument <= 0, so nothing overflows and the largest term is exactly 1.

    Parameters
    ----------
    logits : ndarray of shape (batch, classes)
        Float logits z, one row per example.

    Returns
    -------
    ndarray of shape (batch, classes)
        log softmax(z) row by row, in the dtype of ``logits``.
    """
    check_array(logits, "logits", "log_softmax", ndim=2)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _softmax_and_log(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """softmax(z) and log softmax(z), computing exp() once."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    return e / total, shifted - np.log(total)


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, *, total: int | None = None
) -> tuple[np.floating, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    For a batch of N rows z_n with labels y_n:

        L = -(1/N) sum_n log softmax(z_n)_{y_n}
        dL/dz_n = (softmax(z_n) - onehot(y_n)) / N

    The loss and the gradient keep the dtype of ``logits``.

    Parameters
    ----------
    logits : ndarray of shape (batch, classes)
        Float logits z, at least one row.
    labels : array_like of int of shape (batch,)
        Class labels y in [0, classes).
    total : int or None, default=None
        The N of the mean, if the rows are part of a larger batch (a training
        step split over parts of its batch, :mod:`tdnumpy.training.split`):
        then L and dL/dz are the part's share of the whole batch's mean, and
        the parts' losses and gradients add up to the whole batch's. None: the
        number of rows.

    Returns
    -------
    loss : numpy.floating
        L, a scalar of the logits' dtype.
    grad : ndarray of shape (batch, classes)
        dL/dz, in the logits' dtype.

    Raises
    ------
    ValueError
        If ``logits`` is not a non-empty 2-D float array, or a label is out of
        range or the label count differs from the row count, or ``total`` is
        smaller than the row count.
    TypeError
        If ``labels`` is not a 1-D integer array.
    """
    if not isinstance(logits, np.ndarray) or logits.ndim != 2 or not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(
            "The 'logits' parameter of softmax_cross_entropy must be a 2-D float array "
            f"(batch, classes). Got {getattr(logits, 'shape', type(logits).__name__)} instead."
        )
    n, n_classes = logits.shape
    if n == 0:
        raise ValueError(
            "The 'logits' parameter of softmax_cross_entropy has no rows; the mean loss of an empty batch is undefined."
        )
    labels = check_labels(labels, n_classes, "labels", "softmax_cross_entropy", n_examples=n, examples="logits")
    grad, logp = _softmax_and_log(logits)
    rows = np.arange(n)
    if total is None:
        loss = -logp[rows, labels].mean()
        total = n
    else:
        total = check_int(total, "total", "softmax_cross_entropy", low=n)
        loss = -logp[rows, labels].sum() / logp.dtype.type(total)
    grad[rows, labels] -= 1
    grad /= total
    return loss, grad
