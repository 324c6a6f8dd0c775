"""Shared argument checks of the mask functions (tdnumpy.masks._select):
masks and shapes refused in full, empty dimensions allowed, and the limit of
2**31 elements inclusive.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from full_messages import message_test
from tdnumpy import masks

RNG = np.random.default_rng(0)
MASK = "The 'previous' parameter of global_prune_keep must be a boolean array of shape (2, 2). Got {} instead."
ERRORS = [
    (lambda: masks.global_prune_keep([np.ones((2, 2))], 0.5, [[[True, True], [True, True]]]), ValueError,
     MASK.format("list ")),
    (lambda: masks.global_prune_keep([np.ones((2, 2))], 0.5, [np.ones((2, 3), bool)]), ValueError,
     MASK.format("bool (2, 3)")),
    (lambda: masks.random_weight_targets((2, -2), 0.5, RNG), TypeError,
     "The 'shape' parameter of random_weight_targets must be a tuple of non-negative ints. Got (2, -2) instead."),
    (lambda: masks.random_unit_targets(3.0, 0.5, RNG), TypeError,
     "The 'units' parameter of random_unit_targets must be a non-negative int. Got 3.0 instead."),
    (lambda: masks.global_prune_keep([np.array([[np.nan]])], 0.5), ValueError,
     "The 'weights[0]' parameter of global_prune_keep must be finite. Got NaN or infinite entries."),
    (lambda: masks.bottom_k(np.array([1.0, np.nan]), 1), ValueError,
     "The 'scores' parameter of bottom_k must not hold NaN (it has no rank)."),
    (lambda: masks.gaussian_dropout_noise(2**31 + 1, 0.5, RNG), ValueError,
     "The 'shape' parameter of gaussian_dropout_noise asks for 2,147,483,649 elements; at most 2,147,483,648 (2**31) "
     "are drawn. Got (2147483649,) instead."),
]


test_a_bad_mask_or_shape_gets_the_documented_message_in_full = message_test(ERRORS)


def test_shapes_with_empty_dimensions_are_allowed():
    assert masks.dropout_keep((0, 3), 0.5, RNG).shape == (0, 3)
    assert masks.random_unit_targets(0, 0.5, RNG).shape == (0,)


def test_a_shape_of_exactly_2_to_the_31_elements_is_allowed():
    """Checked before anything is drawn: the next check, of the generator, is the one that fails."""
    with pytest.raises(TypeError, match="'rng' parameter of gaussian_dropout_noise"):
        masks.gaussian_dropout_noise(2**31, 0.5, 0)


def test_target_counts_above_2_to_the_16_are_counted_exactly():
    """A column of 70,000 weights with 66,500 targets: a tracker that counts them right
    finds its thresholds still valid at the next step and ranks nothing again."""
    w = np.random.default_rng(1).standard_normal((70_000, 1))
    tracker = masks.WeightTargetTracker()
    first = tracker.rows(w, 0.95).copy()
    assert first.sum() == 66_500 and tracker.reranked == 1
    np.testing.assert_array_equal(tracker.rows(w, 0.95), first)
    assert tracker.reranked == 0


def test_a_column_of_2_to_the_16_tied_weights_gets_exactly_k_targets():
    """65,536 equal magnitudes: the tie rule (lower row first) must cut the selection down to k = 32,768."""
    targets = masks.weight_targets(np.zeros((2**16, 1)), 0.5)
    assert targets[:2**15].all() and not targets[2**15:].any()
