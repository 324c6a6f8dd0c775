"""The loss (tdnumpy.nn.loss): log softmax and the loss row by row (rows of
very different scales each stay finite), and every argument error in full.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax as scipy_log_softmax

from tdnumpy.nn import log_softmax, softmax_cross_entropy

# rows a thousand apart: shifting every row by the largest logit of the batch would underflow the second
SPREAD = np.array([[1000.0, 0.0, -5.0], [-1000.0, -1001.0, -1003.0]])


def test_log_softmax_is_computed_row_by_row():
    out = log_softmax(SPREAD)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, scipy_log_softmax(SPREAD, axis=1), rtol=1e-12, atol=1e-12)


def test_the_loss_of_rows_of_very_different_scales_is_finite():
    loss, grad = softmax_cross_entropy(SPREAD, np.array([1, 2]))
    logp = scipy_log_softmax(SPREAD, axis=1)
    assert loss == pytest.approx(-(logp[0, 1] + logp[1, 2]) / 2, rel=1e-12)
    np.testing.assert_allclose(grad, (np.exp(logp) - np.eye(3)[[1, 2]]) / 2, atol=1e-15)


LOGITS = "The 'logits' parameter of softmax_cross_entropy must be a 2-D float array (batch, classes). Got {} instead."
ERRORS = [
    (np.zeros(3), [0], ValueError, LOGITS.format("(3,)")),
    ([[1.0]], [0], ValueError, LOGITS.format("list")),
    (np.zeros((2, 2), int), [0, 1], ValueError, LOGITS.format("(2, 2)")),
    (np.zeros((0, 2)), [], ValueError,
     "The 'logits' parameter of softmax_cross_entropy has no rows; the mean loss of an empty batch is undefined."),
    (np.zeros((2, 2)), [0, 5], ValueError,
     "The 'labels' parameter of softmax_cross_entropy must hold class labels in the range [0, 1]. Got a label 5 "
     "instead."),
    (np.zeros((2, 2)), [0], ValueError, "The 'labels' parameter of softmax_cross_entropy has 1 labels but there are "
                                        "2 examples in 'logits'."),
    (np.zeros((2, 2)), [[0, 1]], TypeError,
     "The 'labels' parameter of softmax_cross_entropy must be a 1-D array of integer class labels. Got an array of "
     "shape (1, 2) and dtype int64 instead."),
]


@pytest.mark.parametrize("logits, labels, error, message", ERRORS, ids=[f"case{i}" for i in range(len(ERRORS))])
def test_bad_logits_or_labels_get_the_documented_message_in_full(logits, labels, error, message):
    with pytest.raises(error) as caught:
        softmax_cross_entropy(logits, labels)
    assert str(caught.value) == message
