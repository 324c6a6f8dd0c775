"""Magnitude pruning masks (tdnumpy.masks.pruning): the errors for the list
of matrices and for a bad previous mask, in full.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np

from full_messages import message_test
from tdnumpy import masks

PREVIOUS = "parameter of {} must be a boolean array of shape (2, 2). Got {} instead."
ERRORS = [
    (lambda: masks.global_prune_keep(np.ones((2, 2)), 0.5), TypeError,
     "The 'weights' parameter of global_prune_keep must be a non-empty list of weight matrices. Got ndarray instead."),
    (lambda: masks.global_prune_keep([np.ones((2, 2))], 0.5, [np.ones((2, 3), bool)]), ValueError,
     "The 'previous' " + PREVIOUS.format("global_prune_keep", "bool (2, 3)")),
    (lambda: masks.magnitude_prune_keep(np.ones((2, 2)), 0.5, np.ones((2, 2))), ValueError,
     "The 'previous' " + PREVIOUS.format("magnitude_prune_keep", "float64 (2, 2)")),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(ERRORS)
